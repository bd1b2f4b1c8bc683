"""Sealed list cursors: opaque to the caller, bound to it and to the list that issued them.

A cursor holds the sort key of the last item served, and sort keys are often global row ids:
readable, they would tell an aggregator how many FS, contracts or notifications every other
tenant has made between two of its pages. So the key is encrypted and authenticated
(AES-256-GCM) under a key derived from the server's signing key, with the caller's party id and
the list's path as associated data. A cursor altered, made up, issued for another list or
replayed by another party does not open: the list answers 422 naming `cursor`, and no value a
caller makes up reaches a query.

The sealing key follows the active signing key (`fcsbe admin party rotate-key`): cursors issued
before a rotation stop opening, and a client starts its listing again from the first page.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from fcsbe.server.security.keys import ServerKeys

__all__ = ["CursorSealer", "InvalidCursor"]

_LABEL = b"fcsbe/list-cursor/v1"
_VERSION = b"\x01"
_NONCE_BYTES = 12


class InvalidCursor(ValueError):
    """The cursor was not issued by this server for this caller and list."""


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode((text + "=" * (-len(text) % 4)).encode("ascii"))


class CursorSealer:
    """Seals and opens the cursors of one server (one key)."""

    def __init__(self, secret: bytes) -> None:
        self._aead = AESGCM(hmac.new(secret, _LABEL, hashlib.sha256).digest())

    @classmethod
    def of(cls, keys: ServerKeys) -> CursorSealer:
        """The sealer keyed by the server's active private signing key."""
        return cls(_b64decode(str(keys.private_jwk["d"])))

    def seal(self, key: Any, scope: str) -> str:
        """A cursor for the sort key `key`, opening only with the same `scope`."""
        plain = json.dumps(key, separators=(",", ":"), default=str).encode()
        nonce = os.urandom(_NONCE_BYTES)
        sealed = _VERSION + nonce + self._aead.encrypt(nonce, plain, scope.encode())
        return base64.urlsafe_b64encode(sealed).decode().rstrip("=")

    def open(self, cursor: str, scope: str) -> Any:
        """The sort key of a cursor this sealer issued for `scope`; `InvalidCursor` otherwise."""
        try:
            sealed = _b64decode(cursor)
        except (binascii.Error, ValueError, UnicodeEncodeError) as exc:
            raise InvalidCursor("not base64url") from exc
        if not sealed.startswith(_VERSION) or len(sealed) < 1 + _NONCE_BYTES + 16:
            raise InvalidCursor("not a cursor of this server")
        nonce = sealed[1 : 1 + _NONCE_BYTES]
        try:
            plain = self._aead.decrypt(nonce, sealed[1 + _NONCE_BYTES :], scope.encode())
        except InvalidTag as exc:
            raise InvalidCursor("not issued for this caller and list") from exc
        return json.loads(plain)
