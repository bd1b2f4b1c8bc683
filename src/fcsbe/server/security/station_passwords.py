"""OCPP station passwords (security profiles 1 and 2: HTTP Basic, username = station id).

A password is made here from 18 random bytes (24 URL-safe characters, within OCPP's 16 to 40),
shown once to whoever provisions the station and stored only as a salted scrypt hash
(`scrypt$n$r$p$salt$digest`). Verification is constant-time; being memory-hard, it runs off the
event loop (the caller uses a thread).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

__all__ = ["hash_password", "new_password", "verify_password"]

_N, _R, _P = 2**14, 8, 1
_DIGEST_BYTES = 32


def new_password() -> str:
    """A fresh random station password (24 characters, about 144 bits)."""
    return secrets.token_urlsafe(18)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """The storable hash of `password`."""
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=_N, r=_R, p=_P, dklen=_DIGEST_BYTES
    )
    return f"scrypt${_N}${_R}${_P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str | None) -> bool:
    """Whether `password` matches `stored` (False for no or a malformed hash). Without a
    stored hash a dummy one is still computed, so an unknown station takes as long to refuse
    as a wrong password."""
    try:
        scheme, n, r, p, salt, digest = (stored or "").split("$")
        if scheme != "scrypt":
            raise ValueError(scheme)
        expected = _unb64(digest)
        params = (int(n), int(r), int(p), _unb64(salt))
    except ValueError:
        params, expected = (_N, _R, _P, b"\0" * 16), b""
    n_, r_, p_, salt_ = params
    actual = hashlib.scrypt(
        password.encode("utf-8"), salt=salt_, n=n_, r=r_, p=p_, dklen=_DIGEST_BYTES
    )
    return bool(expected) and hmac.compare_digest(actual, expected)
