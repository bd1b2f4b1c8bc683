"""Sealing stored secrets: replayable responses (only the caller can open them) and, with a
`label` of its own, secrets the server keeps at rest (`security.secret_keyring`).

An idempotent replay must return the same bytes as the first answer, but some answers contain a
new secret (the access token of an enrolment or a rotation) that must never be stored in clear.
Such a response is stored encrypted (AES-256-GCM) under a key derived from the secret the caller
presented (its enrolment token or its current access token). The database keeps only the SHA-256
of that secret, from which the key cannot be derived, so the stored answer is unreadable to
anyone but a caller who presents the same secret again.
"""

from __future__ import annotations

import hashlib
import hmac
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__ = ["SecretSealer"]

_LABEL = b"fcsbe/idempotent-response-seal/v1"
_VERSION = b"\x01"
_NONCE_BYTES = 12


class SecretSealer:
    """Encrypts and decrypts with a key bound to one presented secret."""

    def __init__(self, secret: str, *, label: bytes = _LABEL) -> None:
        """`label` separates uses: it derives the key and is authenticated with every seal, so
        a value sealed for one use never opens in another."""
        key = hmac.new(secret.encode("utf-8"), label, hashlib.sha256).digest()
        self._aead = AESGCM(key)
        self._label = label

    def seal(self, data: bytes) -> bytes:
        """Version byte, random nonce, ciphertext with its tag."""
        nonce = os.urandom(_NONCE_BYTES)
        return _VERSION + nonce + self._aead.encrypt(nonce, data, self._label)

    def open(self, sealed: bytes) -> bytes | None:
        """The plaintext, or None when it was sealed under another secret (or altered)."""
        if not sealed.startswith(_VERSION) or len(sealed) < 1 + _NONCE_BYTES:
            return None
        nonce = sealed[1 : 1 + _NONCE_BYTES]
        try:
            return self._aead.decrypt(nonce, sealed[1 + _NONCE_BYTES :], self._label)
        except InvalidTag:
            return None
