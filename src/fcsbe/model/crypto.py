"""Wire forms of keys, signatures and digests: JWK / JWK set, compact JWS, SHA-256 digests.

The model only checks the *form* (a public Ed25519 key has `kty=OKP`, `crv=Ed25519` and a 32-byte
`x`; a JWS has three dot-separated base64url parts; a digest is 64 hex digits). Digests are computed
by `fcsbe.model.canonical`; signing and verifying belong to the server's security package and the
client. This module must do no cryptography and no I/O.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator, Field, WithJsonSchema

from fcsbe.model.base import InputModel

__all__ = [
    "CompactJws",
    "JsonWebKeySet",
    "Jwk",
    "Sha256Digest",
]

_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "k", "oth"})
_B64URL_32 = r"^[A-Za-z0-9_-]{43}$"


def _check_jwk(jwk: dict[str, Any]) -> dict[str, Any]:
    """Accept public keys only: a private member on the wire means a leaked key."""
    kty = jwk.get("kty")
    if not isinstance(kty, str) or not kty:
        raise ValueError("JWK must have a `kty` member (RFC 7517)")
    leaked = sorted(_PRIVATE_MEMBERS.intersection(jwk))
    if leaked:
        raise ValueError(f"JWK must be a public key; private member(s) {leaked} are not allowed")
    if kty == "OKP":
        if jwk.get("crv") != "Ed25519":
            raise ValueError("OKP JWK must have crv `Ed25519` (EdDSA signatures, RFC 8037)")
        x = jwk.get("x")
        if not isinstance(x, str) or re.fullmatch(_B64URL_32, x) is None:
            raise ValueError("Ed25519 JWK must have `x`: the 32-byte public key, base64url")
    kid = jwk.get("kid")
    if kid is not None and (not isinstance(kid, str) or not 1 <= len(kid) <= 128):
        raise ValueError("JWK `kid` must be a string of 1 to 128 characters")
    return jwk


Jwk = Annotated[
    dict[str, Any],
    AfterValidator(_check_jwk),
    WithJsonSchema(
        {
            "type": "object",
            "description": "A public JSON Web Key (RFC 7517); Ed25519 keys as RFC 8037 OKP. "
            "`alg` is `Ed25519` (RFC 9864) or absent; the deprecated `EdDSA` is accepted for an "
            "Ed25519 key and stored as `Ed25519`.",
            "required": ["kty"],
            "properties": {
                "kty": {"type": "string", "examples": ["OKP"]},
                "crv": {"type": "string", "examples": ["Ed25519"]},
                "x": {"type": "string", "pattern": _B64URL_32},
                "kid": {"type": "string", "maxLength": 128},
                "alg": {"type": "string", "examples": ["Ed25519"]},
                "use": {"type": "string", "examples": ["sig"]},
            },
            "additionalProperties": True,
        }
    ),
]
"""A public JWK as a JSON object; private members (`d`, ...) are refused."""


class JsonWebKeySet(InputModel):
    """A JWK set (RFC 7517 §5): the public signing keys of a party, addressed by `kid`."""

    keys: list[Jwk] = Field(
        min_length=1, max_length=20, description="Public keys; each should carry a `kid`."
    )

    def find(self, kid: str) -> dict[str, Any] | None:
        """The key with this `kid`, if any."""
        return next((key for key in self.keys if key.get("kid") == kid), None)


CompactJws = Annotated[
    str,
    Field(
        pattern=r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+$",
        max_length=65_536,
        description="JWS compact serialisation (RFC 7515) with a detached payload (appendix F): "
        "`BASE64URL(header)..BASE64URL(signature)`. The protected header is "
        '`{"alg": "Ed25519", "kid": ...}` (no `b64`, no `crit`); the signing input is '
        '`BASE64URL(header) || "." || BASE64URL(payload)`, the payload being the RFC 8785 '
        "canonical JSON of the signed object (without its signature member).",
        examples=[
            "eyJhbGciOiJFZDI1NTE5Iiwia2lkIjoiY3NvLTIwMjYtMDEifQ.."
            "8EMByJTue8X1TrDwZFyKp_2y0wMRzhbtb4AYoocUNDjhJDeDxE1gfNXvvhM7OVlYOEKe-PoiK2lxEolfgHppDA"
        ],
    ),
]
"""A compact JWS, usually with a detached payload (`header..signature`)."""

Sha256Digest = Annotated[
    str,
    Field(
        pattern=r"^[0-9a-f]{64}$",
        description="SHA-256 digest as 64 lowercase hex digits (as `fcsbe.model.canonical`).",
        examples=["e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"],
    ),
]
"""A SHA-256 digest in lowercase hex (64 characters), the one digest encoding of the API."""
