"""Detached JWS signatures (Ed25519, RFC 9864 `alg: Ed25519`) over canonical JSON (RFC 8785).

Both halves need exactly the same computation: the server signs FS responses, DSRs, PoWs and
tree heads and verifies FO-signed requests; the client signs requests and verifies what the
server issued, offline. So it lives here, as pure functions over JWKs (no I/O, no key storage).
A detached JWS is `header..signature`: the payload travels as the JSON body itself.

The one format, for everything signed by either side: a compact JWS (RFC 7515) with the
standard base64url-encoded payload (no RFC 7797 `b64: false`, no `crit`), whose payload part is
then left out (appendix F). The protected header is `{"alg": "Ed25519", "kid": ...}` (plus
`jti`, `iat`, `htm`, `htu` on a request); the signing input is
`BASE64URL(header) || "." || BASE64URL(RFC 8785 JSON of the payload)`.

Keys: RFC 9864 deprecates the polymorphic `EdDSA` for the fully-specified `Ed25519`; for an
OKP key on curve Ed25519 the two name the same computation. So a public key written with
`alg: EdDSA` (as RFC 8037 examples do) is taken as `Ed25519` (`usable_verification_key`);
every other `alg`, a `use` other than `sig` or `key_ops` without `verify` is refused, because
signatures made with such a key would never verify.

Signed *requests* (FO to server) carry the JWS in the `X-Fcsbe-Signature` header; its protected
header adds `jti` (a unique id, refused when seen twice), `iat` (seconds since the epoch, checked
against the server clock) and `htm`/`htu` (method and path, so a signed body cannot be replayed
to another endpoint). `sign_request` makes one; the server checks it.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import OKPKey
from joserfc.jws import JWSRegistry
from joserfc.registry import HeaderParameter

from fcsbe.model.canonical import canonical_json

__all__ = [
    "JWS_ALGORITHM",
    "SIGNATURE_HEADER",
    "SignatureError",
    "SigningKeyError",
    "generate_signing_key",
    "public_jwk",
    "sign_detached",
    "sign_request",
    "signature_header",
    "signature_kid",
    "usable_verification_key",
    "verify_detached",
]

JWS_ALGORITHM = "Ed25519"
"""Fully-specified EdDSA algorithm name (RFC 9864; `EdDSA` is deprecated)."""

SIGNATURE_HEADER = "X-Fcsbe-Signature"
"""HTTP header that carries the detached JWS of a signed request."""

_REGISTRY = JWSRegistry(
    header_registry={
        "jti": HeaderParameter("Unique id of this signature (replay protection)", "str"),
        "iat": HeaderParameter("Issued at, seconds since the epoch", "int"),
        "htm": HeaderParameter("HTTP method of the signed request", "str"),
        "htu": HeaderParameter("Path of the signed request", "str"),
    },
    algorithms=[JWS_ALGORITHM],
)
# Request bodies may be up to the server's body limit, far above joserfc's 128 kB default.
_REGISTRY.max_payload_length = 16 * 1024 * 1024
_REGISTRY.max_header_length = 2048


_LEGACY_ALGORITHMS = frozenset({"EdDSA"})
"""`alg` values that mean `Ed25519` for an Ed25519 key (RFC 8037, deprecated by RFC 9864)."""


class SignatureError(ValueError):
    """A signature is malformed, made with an unknown key, or does not match the payload."""


class SigningKeyError(ValueError):
    """A public JWK that cannot verify this protocol's signatures; `member` names the JWK
    member at fault (`kty`, `crv`, `alg`, `use`, `key_ops`, or `x` for the key itself)."""

    def __init__(self, member: str, message: str) -> None:
        super().__init__(message)
        self.member = member


def _with_current_alg(jwk: Mapping[str, Any]) -> Mapping[str, Any]:
    """`jwk` with a legacy `alg: EdDSA` read as `Ed25519`: keys stored before enrolment
    normalised them keep verifying. Cheap on purpose (verification is the hot path; the key
    import stays cached in `_key`); the full check is `usable_verification_key`, at enrolment."""
    alg = jwk.get("alg")
    if isinstance(alg, str) and alg in _LEGACY_ALGORITHMS:
        return {**jwk, "alg": JWS_ALGORITHM}
    return jwk


def usable_verification_key(jwk: Mapping[str, Any]) -> dict[str, Any]:
    """The public JWK as this protocol uses it: `alg: EdDSA` made `Ed25519` (see above), then
    checked by the very rules the verifier applies, so an accepted key verifies the signatures
    its private half makes. Raises `SigningKeyError` naming the member at fault."""
    if jwk.get("kty") != "OKP":
        raise SigningKeyError("kty", "only Ed25519 keys (kty OKP) are accepted")
    if jwk.get("crv") != "Ed25519":
        raise SigningKeyError("crv", "only Ed25519 keys (crv Ed25519) are accepted")
    key = dict(jwk)
    alg = key.get("alg")
    if isinstance(alg, str) and alg in _LEGACY_ALGORITHMS:
        key["alg"] = JWS_ALGORITHM
    elif alg is not None and alg != JWS_ALGORITHM:
        raise SigningKeyError("alg", f"alg must be {JWS_ALGORITHM} (or EdDSA), not {alg!r}")
    if key.get("use") not in (None, "sig"):
        raise SigningKeyError("use", f"use must be sig, not {key.get('use')!r}")
    key_ops = key.get("key_ops")
    if key_ops is not None and (not isinstance(key_ops, list) or "verify" not in key_ops):
        raise SigningKeyError("key_ops", "key_ops must include verify")
    try:
        imported = OKPKey.import_key(key)
        _REGISTRY.get_alg(JWS_ALGORITHM).check_key(imported)
        imported.check_key_op("verify")
    except (JoseError, ValueError, TypeError) as exc:
        raise SigningKeyError("x", str(exc) or "not a valid Ed25519 public key") from exc
    return key


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


def sign_detached(
    payload: Any, private_jwk: Mapping[str, Any], header: Mapping[str, Any] | None = None
) -> str:
    """Sign the canonical JSON of `payload` (or raw bytes); returns `header..signature`.

    `header` adds protected header parameters (`jti`, `iat`, `htm`, `htu`).
    """
    key = _key(private_jwk)
    protected = {
        **(header or {}),
        "alg": JWS_ALGORITHM,
        "kid": private_jwk.get("kid") or key.thumbprint(),
    }
    token = jws.serialize_compact(protected, _payload_bytes(payload), key, registry=_REGISTRY)
    detached: str = jws.detach_content(token)
    return detached


def sign_request(
    method: str,
    path: str,
    body: Any,
    private_jwk: Mapping[str, Any],
    *,
    issued_at: int | None = None,
    jti: str | None = None,
) -> str:
    """The `X-Fcsbe-Signature` value of one request (a fresh `jti` per call, so sign each try).

    `body` is the JSON value sent (None for a request without a body: the empty payload).
    """
    header = {
        "jti": jti or secrets.token_urlsafe(18),
        "iat": int(time.time()) if issued_at is None else issued_at,
        "htm": method.upper(),
        "htu": path,
    }
    return sign_detached(b"" if body is None else body, private_jwk, header)


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


def signature_header(signature: str) -> dict[str, Any]:
    """The protected header of a detached JWS (unverified: read it, then verify)."""
    return _header(signature)


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
            public = _key(_with_current_alg(candidate))
            jws.deserialize_compact(attached, public, registry=_REGISTRY)
        except (JoseError, ValueError):
            continue
        return str(candidate.get("kid") or public.thumbprint())
    raise SignatureError("the signature does not match the payload")
