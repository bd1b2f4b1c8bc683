"""Checking signed FO requests: detached JWS over the canonical JSON body, with replay protection.

A signed request carries `X-Fcsbe-Signature: <protected header>..<signature>` (a compact JWS
with a detached payload, RFC 7515 appendix F). The payload is the RFC 8785 canonical JSON of the
request body (the empty string for a request without one). The protected header must name:

- `alg`: `Ed25519`; `kid`: the FO's registered key (or the previous one during its overlap);
- `jti`: a unique id (8 to 128 characters), refused when seen again from the same party;
- `iat`: seconds since the epoch, within `signature_max_skew_s` (300 s) of the server clock;
- `htm` and `htu`: the request's method and path, so a signed body cannot be sent elsewhere.

A contract with `signature_required` makes the signature mandatory for the requests governed by
it (FS requests, their supersessions and cancellations, credentials checks, amendments and
terminations of the contract); a signature that is present is always checked. Every refusal is
a 401 problem naming why, and a security event. The signature id is committed at once (before
any work), so a replay is refused even when the first request failed.

A route verifies signatures by taking the `Signed` dependency and handing it to one of the
`verify_*` functions (which accept nothing else). The dependency declares the header, so the
OpenAPI document lists `X-Fcsbe-Signature` on exactly the routes that check it, and
`fcsbe.server.api.openapi` adds the `SIGNATURE_PROBLEMS` to their 401: the document and the
server cannot drift apart.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any, NoReturn

from fastapi import Depends, Header, Request
from sqlalchemy.ext.asyncio import AsyncSession

from fcsbe.model import (
    MAX_SAFE_INTEGER,
    SIGNATURE_HEADER,
    SignatureError,
    signature_header,
    verify_detached,
)
from fcsbe.server.api.edge.audit import refuse_with_trace
from fcsbe.server.deps import state_settings
from fcsbe.server.errors import Unauthorized
from fcsbe.server.security.principal import Principal
from fcsbe.server.storage.base import utcnow
from fcsbe.server.storage.fast.credentials import requires_signature
from fcsbe.server.storage.flexibility_services import fs_requires_signature
from fcsbe.server.storage.parties import EnrolmentRow, PartyRow
from fcsbe.server.storage.signatures import remember_jti

__all__ = [
    "SIGNATURE_HEADER_DESCRIPTION",
    "SIGNATURE_PROBLEMS",
    "Signed",
    "SignedRequest",
    "verification_keys",
    "verify_body_signature",
    "verify_request_signature",
    "verify_signature_for_contract",
    "verify_signature_for_fs",
]

_MAX_HEADER_CHARS = 4096
_JTI = re.compile(r"[\x21-\x7e]{8,128}")
"""A `jti` is stored (the replay store): printable ASCII only, so no NUL reaches the database."""

SIGNATURE_PROBLEMS: dict[str, str] = {
    "signature-required": "the contract requires signed requests and there is no signature",
    "signature-invalid": "malformed, unknown key, wrong `htm`/`htu`, or the body does not match",
    "signature-stale": "`iat` outside the allowed clock window",
    "signature-replayed": "this `jti` was already used",
}
"""The 401 problem slugs a signature check answers, and why (OpenAPI and docs/security.md)."""

SIGNATURE_HEADER_DESCRIPTION = (
    "Detached JWS (Ed25519) over the RFC 8785 JSON of the body, with `jti`, `iat`, `htm` and "
    "`htu` in its protected header (docs/security.md). Verified whenever it is present; "
    "required when the contract concerned has `signature_required`. A bad, stale, missing "
    "(where required) or replayed signature answers 401 `signature-*`."
)


@dataclass(frozen=True, slots=True)
class SignedRequest:
    """A request whose route verifies signatures, with the header value it arrived with.

    Only the `Signed` dependency makes one, so a route cannot check a signature without
    declaring the header in its OpenAPI operation.
    """

    request: Request
    value: str | None


async def _signed_request(
    request: Request,
    signature: Annotated[
        str | None, Header(alias=SIGNATURE_HEADER, description=SIGNATURE_HEADER_DESCRIPTION)
    ] = None,
) -> SignedRequest:
    return SignedRequest(request, signature)


Signed = Annotated[SignedRequest, Depends(_signed_request)]
"""Route parameter of every route that verifies `X-Fcsbe-Signature`."""


def verification_keys(
    enrolment: EnrolmentRow, party_jwks: Mapping[str, Any], now: datetime
) -> list[dict[str, Any]]:
    """The keys that verify the FO's signatures now: its current key, and the previous ones
    (kept in its party's key set) while the rotation overlap lasts."""
    current = [enrolment.signing_key] if enrolment.signing_key else []
    overlap = enrolment.previous_keys_valid_until
    if overlap is None or overlap <= now:
        return current
    kids = {key.get("kid") for key in current}
    previous = [k for k in party_jwks.get("keys", []) if k.get("kid") not in kids]
    return current + previous


def _payload(body: bytes) -> Any:
    if not body:
        return b""
    try:
        return json.loads(body)
    except ValueError:
        return body


async def verify_request_signature(
    signed: SignedRequest,
    session: AsyncSession,
    principal: Principal,
    *,
    required: bool,
    now: datetime | None = None,
) -> str | None:
    """Check the request's signature; returns the key id that verified it (None: unsigned and
    not required). Raises a 401 problem (and records a security event) otherwise."""
    moment = now or utcnow()
    request, value = signed.request, signed.value

    async def refuse(detail: str, slug: str, kind: str) -> NoReturn:
        await _refuse(signed, session, principal, detail, slug, kind)

    if value is None:
        if required:
            await refuse(
                f"The contract requires signed requests: send a `{SIGNATURE_HEADER}` header.",
                "signature-required",
                "SIGNATURE_MISSING",
            )
        return None
    try:
        if len(value) > _MAX_HEADER_CHARS:
            raise SignatureError("the signature header is too long")
        header = signature_header(value)
        jti, iat = header.get("jti"), header.get("iat")
        if not isinstance(jti, str) or not _JTI.fullmatch(jti):
            raise SignatureError(
                "the protected header needs a `jti` of 8 to 128 visible ASCII characters"
            )
        if not isinstance(iat, int) or isinstance(iat, bool):
            raise SignatureError("the protected header needs `iat` (integer seconds)")
        if not -MAX_SAFE_INTEGER <= iat <= MAX_SAFE_INTEGER:
            raise SignatureError(f"`iat` must lie within ±{MAX_SAFE_INTEGER} (2^53 - 1)")
        if header.get("htm") != request.method or header.get("htu") != request.url.path:
            raise SignatureError(
                f"the signature was made for another request than "
                f"{request.method} {request.url.path} (`htm`/`htu`)"
            )
    except SignatureError as exc:
        await refuse(
            f"Malformed request signature: {exc}.", "signature-invalid", "SIGNATURE_INVALID"
        )
    skew = state_settings(request).signature_max_skew_s
    # Compared as numbers: an `iat` far from now is no date a datetime can hold.
    if abs(moment.timestamp() - iat) > skew:
        await refuse(
            f"The signature's `iat` is more than {skew} s away from the server time.",
            "signature-stale",
            "SIGNATURE_STALE",
        )
    issued = datetime.fromtimestamp(iat, tz=moment.tzinfo)
    keys = await _fo_keys(session, principal, moment)
    try:
        kid = verify_detached(value, _payload(await request.body()), keys)
    except SignatureError as exc:
        await refuse(
            f"The request signature does not verify: {exc}.",
            "signature-invalid",
            "SIGNATURE_INVALID",
        )
    if not await remember_jti(session, principal.party_id, jti, issued + timedelta(seconds=skew)):
        await refuse(
            "This signature (`jti`) was already used.", "signature-replayed", "SIGNATURE_REPLAYED"
        )
    await session.commit()
    return kid


async def _refuse(
    signed: SignedRequest,
    session: AsyncSession,
    principal: Principal,
    detail: str,
    slug: str,
    kind: str,
) -> NoReturn:
    await refuse_with_trace(
        signed.request,
        session,
        Unauthorized(detail, slug=slug),
        kind=kind,
        party_id=principal.party_id,
        object_ref=f"enrolment/{principal.enrolment_id}",
    )


async def _fo_keys(
    session: AsyncSession, principal: Principal, now: datetime
) -> list[dict[str, Any]]:
    enrolment = await session.get(EnrolmentRow, principal.enrolment_id or "")
    party = await session.get(PartyRow, principal.party_id)
    return verification_keys(enrolment, party.jwks if party else {}, now) if enrolment else []


async def verify_body_signature(
    signed: SignedRequest,
    session: AsyncSession,
    principal: Principal,
    signature: str | None,
    *,
    now: datetime | None = None,
) -> str | None:
    """Check a signature carried in the body (`FlexibilityServiceRequest.signature`).

    It is a detached JWS over the RFC 8785 JSON of the body as sent, without its `signature`
    member, made with the FO's registered key: evidence kept with the FS of what the FO asked.
    Verified when present (401 `signature-invalid` and a security event otherwise); returns the
    key id that verified it, None when there is none. It does not replace the header, which
    alone carries the replay protection a contract with `signature_required` needs.
    """
    if signature is None:
        return None
    body = json.loads(await signed.request.body())
    payload = {k: v for k, v in body.items() if k != "signature"}
    try:
        return verify_detached(
            signature, payload, await _fo_keys(session, principal, now or utcnow())
        )
    except SignatureError as exc:
        await _refuse(
            signed,
            session,
            principal,
            f"The body's `signature` does not verify: {exc}.",
            "signature-invalid",
            "SIGNATURE_INVALID",
        )


async def verify_signature_for_contract(
    signed: SignedRequest, session: AsyncSession, principal: Principal, fsc_id: str
) -> str | None:
    """`verify_request_signature`, mandatory when the caller's contract `fsc_id` says so.

    An unknown contract is not an error here: the service that follows answers it properly.
    """
    required = await requires_signature(session, principal, fsc_id)
    return await verify_request_signature(signed, session, principal, required=required)


async def verify_signature_for_fs(
    signed: SignedRequest, session: AsyncSession, principal: Principal, fs_id: str
) -> str | None:
    """`verify_request_signature`, mandatory when the contract of the caller's FS `fs_id`
    requires signatures (cancellations, activations and updates of an existing FS)."""
    required = await fs_requires_signature(session, principal.party_id, fs_id)
    return await verify_request_signature(signed, session, principal, required=required)
