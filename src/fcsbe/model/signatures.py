"""Detached JWS signatures (Ed25519, RFC 9864 `alg: Ed25519`) over canonical JSON (RFC 8785).

Both halves need exactly the same computation: the server signs FS responses, DSRs, PoWs and
tree heads and verifies FO-signed requests; the client signs requests and verifies what the
server issued, offline. So it lives here, as pure functions over JWKs (no I/O, no key storage).
A detached JWS is `header..signature`: the payload travels as the JSON body itself.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import OKPKey

from fcsbe.model.canonical import canonical_json

__all__ = [
    "JWS_ALGORITHM",
    "SignatureError",
    "generate_signing_key",
    "public_jwk",
    "sign_detached",
    "signature_kid",
    "verify_detached",
]

JWS_ALGORITHM = "Ed25519"
"""Fully-specified EdDSA algorithm name (RFC 9864; `EdDSA` is deprecated)."""


class SignatureError(ValueError):
    """A signature is malformed, made with an unknown key, or does not match the payload."""


def generate_signing_key(kid: str | None = None) -> dict[str, Any]:
    """A new Ed25519 private JWK (keep it secret); `kid` defaults to the RFC 7638 thumbprint."""
    key = OKPKey.generate_key("Ed25519")
    jwk: dict[str, Any] = dict(key.as_dict(private=True))
    jwk["kid"] = kid or key.thumbprint()
    return jwk


def public_jwk(private_jwk: Mapping[str, Any]) -> dict[str, Any]:
    """The public half of a JWK, with its `kid`, safe to publish."""
    key = OKPKey.import_key(dict(private_jwk))
    jwk: dict[str, Any] = dict(key.as_dict(private=False))
    if "kid" in private_jwk:
        jwk["kid"] = private_jwk["kid"]
    jwk.setdefault("use", "sig")
    jwk.setdefault("alg", JWS_ALGORITHM)
    return jwk


@lru_cache(maxsize=256)
def _imported(members: tuple[tuple[str, Any], ...]) -> OKPKey:
    """Keys parsed once: importing a JWK (and deriving its public point) costs about as much
    as the signature itself, and a server uses the same few keys for every request."""
    return OKPKey.import_key(dict(members))


def _key(jwk: Mapping[str, Any]) -> OKPKey:
    members = tuple(sorted((k, v) for k, v in jwk.items() if isinstance(v, str)))
    if len(members) != len(jwk):
        return OKPKey.import_key(dict(jwk))  # unusual members (lists): not cached
    return _imported(members)


def _payload_bytes(payload: Any) -> bytes:
    return payload if isinstance(payload, bytes) else canonical_json(payload)


def sign_detached(payload: Any, private_jwk: Mapping[str, Any]) -> str:
    """Sign the canonical JSON of `payload` (or raw bytes); returns `header..signature`."""
    key = _key(private_jwk)
    header = {"alg": JWS_ALGORITHM, "kid": private_jwk.get("kid") or key.thumbprint()}
    token = jws.serialize_compact(header, _payload_bytes(payload), key, algorithms=[JWS_ALGORITHM])
    detached: str = jws.detach_content(token)
    return detached


def _header(signature: str) -> dict[str, Any]:
    parts = signature.split(".")
    if len(parts) != 3 or parts[1] != "":
        raise SignatureError("not a detached compact JWS (`header..signature`)")
    try:
        padded = parts[0] + "=" * (-len(parts[0]) % 4)
        header = json.loads(base64.urlsafe_b64decode(padded))
    except ValueError as exc:
        raise SignatureError("the JWS header is not base64url JSON") from exc
    if not isinstance(header, dict):
        raise SignatureError("the JWS header is not a JSON object")
    return header


def signature_kid(signature: str) -> str | None:
    """The `kid` named in a detached JWS header."""
    kid = _header(signature).get("kid")
    return kid if isinstance(kid, str) else None


def verify_detached(
    signature: str, payload: Any, keys: Mapping[str, Any] | Sequence[Mapping[str, Any]]
) -> str:
    """Check `signature` over `payload` with one of `keys` (a JWKS or a list of JWKs).

    Returns the `kid` of the key that verified it; raises `SignatureError` otherwise.
    """
    header = _header(signature)
    if header.get("alg") != JWS_ALGORITHM:
        raise SignatureError(f"unsupported alg {header.get('alg')!r}; expected {JWS_ALGORITHM}")
    key_list = keys.get("keys", []) if isinstance(keys, Mapping) else keys
    kid = header.get("kid")
    candidates = [k for k in key_list if kid is None or k.get("kid") == kid]
    if not candidates:
        raise SignatureError(f"no known key with kid {kid!r}")
    encoded = base64.urlsafe_b64encode(_payload_bytes(payload)).decode().rstrip("=")
    head, _, sig = signature.split(".")
    attached = f"{head}.{encoded}.{sig}"
    for candidate in candidates:
        try:
            public = _key(candidate)
            jws.deserialize_compact(attached, public, algorithms=[JWS_ALGORITHM])
        except (JoseError, ValueError):
            continue
        return str(candidate.get("kid") or public.thumbprint())
    raise SignatureError("the signature does not match the payload")
