"""Standard Webhooks asymmetric signatures (`v1a`, Ed25519), shared by sender and receiver.

The `standardwebhooks` library signs `v1` only (HMAC-SHA256 with a shared `whsec_` secret).
`v1a` signs the same content, `{webhook-id}.{webhook-timestamp}.{body}`, with an Ed25519 key:
the header token is `v1a,` + base64 signature, the public key is published as `whpk_` + base64
of its 32 bytes, and the signing key is written `whsk_` + base64 of its 32-byte seed. With
`v1a` a receiver holds nothing secret: anyone may verify, only the FCSBE can sign. The FCSBE
signs with its own Ed25519 key, the one in its JWKS, so `webhook_public_keys(jwks)` gives a
receiver every key to accept (retired ones included) without a separate distribution.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

__all__ = [
    "WEBHOOK_PUBLIC_KEY_PREFIX",
    "WEBHOOK_SIGNING_KEY_PREFIX",
    "sign_v1a",
    "signed_content",
    "verify_v1a",
    "webhook_public_key",
    "webhook_public_keys",
    "webhook_signing_key",
]

WEBHOOK_PUBLIC_KEY_PREFIX = "whpk_"
WEBHOOK_SIGNING_KEY_PREFIX = "whsk_"


def _b64url(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def _raw(key: str, prefix: str) -> bytes:
    if not key.startswith(prefix):
        raise ValueError(f"a Standard Webhooks key here starts with {prefix!r}")
    try:
        raw = base64.b64decode(key[len(prefix) :], validate=True)
    except binascii.Error:
        raise ValueError("the key is not base64") from None
    if len(raw) != 32:
        raise ValueError("an Ed25519 key is 32 bytes")
    return raw


def webhook_public_key(jwk: Mapping[str, Any]) -> str:
    """`whpk_...` of an Ed25519 JWK (public or private: only `x` is used)."""
    if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
        raise ValueError("webhook keys are Ed25519 (OKP) keys")
    return WEBHOOK_PUBLIC_KEY_PREFIX + base64.b64encode(_b64url(str(jwk["x"]))).decode()


def webhook_signing_key(private_jwk: Mapping[str, Any]) -> str:
    """`whsk_...` of a private Ed25519 JWK (keep it as secret as the JWK)."""
    if private_jwk.get("crv") != "Ed25519" or "d" not in private_jwk:
        raise ValueError("a private Ed25519 JWK is needed")
    return WEBHOOK_SIGNING_KEY_PREFIX + base64.b64encode(_b64url(str(private_jwk["d"]))).decode()


def webhook_public_keys(jwks: Mapping[str, Any]) -> list[str]:
    """`whpk_...` of every Ed25519 key of a JWKS (the FCSBE's, from `GET /v1`)."""
    return [
        webhook_public_key(key)
        for key in jwks.get("keys", [])
        if key.get("kty") == "OKP" and key.get("crv") == "Ed25519" and "x" in key
    ]


def signed_content(webhook_id: str, timestamp: int, body: str) -> bytes:
    """What both schemes sign."""
    return f"{webhook_id}.{timestamp}.{body}".encode()


@lru_cache(maxsize=64)
def _private(signing_key: str) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(_raw(signing_key, WEBHOOK_SIGNING_KEY_PREFIX))


@lru_cache(maxsize=256)
def _public(public_key: str) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(_raw(public_key, WEBHOOK_PUBLIC_KEY_PREFIX))


def sign_v1a(signing_key: str, webhook_id: str, timestamp: int, body: str) -> str:
    """The `v1a,<base64>` token of one request."""
    signature = _private(signing_key).sign(signed_content(webhook_id, timestamp, body))
    return "v1a," + base64.b64encode(signature).decode()


def verify_v1a(public_key: str, webhook_id: str, timestamp: int, body: str, signature: str) -> bool:
    """Whether `signature` (the base64 after `v1a,`) is `public_key`'s over the request."""
    try:
        raw = base64.b64decode(signature, validate=True)
        _public(public_key).verify(raw, signed_content(webhook_id, timestamp, body))
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True
