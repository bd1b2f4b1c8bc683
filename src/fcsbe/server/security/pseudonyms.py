"""Keyed pseudonyms of EV sessions and EV users (GDPR Art. 4(5)): HMAC-SHA256 under a
per-deployment key kept in a file under `data_dir/keys`, never in the database - or, for an EV
user known to the server (UC 3.6), under that user's own key (`for_subject`), stored apart so
that erasing it makes every pseudonym it made unlinkable (crypto-shredding).

The same raw identifier always gives the same pseudonym in one deployment (so a session keeps its
`session_ref` across restarts and replicas), pseudonyms of different kinds never collide, and
without the key nobody holding the database can link a pseudonym back to a token, an EMAID or a
VIN. The key file is created on first use with mode 0600, atomically: several processes starting
at once all end up with the same key.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

__all__ = ["KEY_FILE", "Pseudonymizer", "new_subject_key"]

KEY_FILE = "pseudonym.key"
_KEY_BYTES = 32


def _publish(path: Path, key: bytes) -> None:
    """Write `key` to `path` unless it exists: a private temp file, then an atomic link."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    descriptor = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="ascii") as handle:
            handle.write(key.hex())
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileExistsError):  # another process was first: its key wins
            os.link(temp, path)
    finally:
        temp.unlink(missing_ok=True)


def new_subject_key() -> bytes:
    """A fresh pseudonym key for one EV user."""
    return secrets.token_bytes(_KEY_BYTES)


@dataclass(frozen=True)
class Pseudonymizer:
    """Makes the pseudonyms; build it with `load_or_create(data_dir)`."""

    key: bytes

    @classmethod
    def load_or_create(cls, data_dir: Path) -> Pseudonymizer:
        """The deployment's key from `data_dir/keys`, created on first use."""
        path = data_dir / "keys" / KEY_FILE
        if not path.is_file():
            _publish(path, secrets.token_bytes(_KEY_BYTES))
        key = bytes.fromhex(path.read_text(encoding="ascii").strip())
        if len(key) != _KEY_BYTES:
            raise ValueError(f"{path} does not hold a {_KEY_BYTES}-byte key")
        return cls(key=key)

    @classmethod
    def for_subject(cls, key: bytes) -> Pseudonymizer:
        """The pseudonymizer of one EV user, under their own key."""
        if len(key) != _KEY_BYTES:
            raise ValueError(f"a subject key has {_KEY_BYTES} bytes")
        return cls(key=key)

    def _ref(self, prefix: str, kind: bytes, raw: str) -> str:
        mac = hmac.new(self.key, kind + b"\x1f" + raw.encode("utf-8"), hashlib.sha256).digest()
        return prefix + base64.urlsafe_b64encode(mac[:18]).decode("ascii")

    def session_ref(self, session_key: str) -> str:
        """`ps_...`: pseudonym of a charging session (the CSO's transaction id)."""
        return self._ref("ps_", b"session", session_key)

    def subject_ref(self, user_id: str) -> str:
        """`evu_...`: pseudonym of an EV user (id token, contract id / EMAID)."""
        return self._ref("evu_", b"subject", user_id)

    def identifier_hash(self, identifier: str) -> str:
        """`idh_...`: the keyed hash an EV user is found by (of their contract id / EMAID); made
        with the deployment key, so a station's report can be matched to a known user."""
        return self._ref("idh_", b"identifier", identifier)

    def consent_id(self, session_key: str) -> str:
        """`cns_...`: id of the consent a station reported with a session."""
        return self._ref("cns_", b"consent", session_key)
