"""Enrolment of aggregators (UC 3.1): one-time tokens, the credentials exchange, key and token
rotation, revocation.

The operator issues a one-time token out of band; the FO presents it with its party, callback
URL and public signing key, and gets long-lived credentials and the server's party and keys. The
token is spent by one conditional UPDATE, so of two concurrent enrolments exactly one succeeds,
and only after every check passed (a refused enrolment leaves the token unspent and nothing
written). Rotation issues a new access token and lets the old one work for the overlap window;
revocation ends every credential of the enrolment at once.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from fcsbe.model import (
    CredentialsRotation,
    Enrolment,
    EnrolmentRequest,
    EnrolmentResult,
    EnrolmentStatus,
    EnrolmentUpdate,
    FallbackPolicy,
    FieldError,
    PartyRole,
    SigningKeyError,
    usable_verification_key,
)
from fcsbe.server.errors import Conflict, Forbidden, NotFound, Unauthorized, UnprocessableContent
from fcsbe.server.security.callback_urls import CallbackUrlError, Resolver, resolve_public_addresses
from fcsbe.server.security.tokens import (
    ACCESS_TOKEN_PREFIX,
    hash_secret,
    new_secret,
)
from fcsbe.server.services.contracts.contracts import terminate_all_of
from fcsbe.server.services.enrolments.parties import party_model, require_server_party
from fcsbe.server.services.enrolments.tokens import token_state_error
from fcsbe.server.services.event_log.log import append_event
from fcsbe.server.settings import Settings
from fcsbe.server.storage.parties import (
    CredentialRow,
    EnrolmentRow,
    EnrolmentTokenRow,
    PartyRow,
    active_enrolment_of,
    enrolments_page,
    newest_credential,
    revoke_credentials,
    spend_token,
)

__all__ = [
    "checked_callback_url",
    "enrol",
    "enrolment_model",
    "get_enrolment",
    "list_enrolments",
    "revoke_enrolment",
    "rotate_credentials",
    "update_enrolment",
]


def enrolment_model(row: EnrolmentRow) -> Enrolment:
    """The wire form of a stored enrolment (no secrets in it)."""
    return Enrolment(
        enrolment_id=row.enrolment_id,
        fo_party_id=row.fo_party_id,
        status=EnrolmentStatus(row.status),
        scopes=list(row.scopes),
        callback_base_url=row.callback_base_url,
        heartbeat_interval_s=row.heartbeat_interval_s,
        offline_timeout_s=row.offline_timeout_s,
        fallback_policy=FallbackPolicy(row.fallback_policy),
        signing_key=row.signing_key,
        created_at=row.created_at,
        rotated_at=row.rotated_at,
        last_heartbeat_at=row.last_heartbeat_at,
        offline_since=row.offline_since,
        revoked_at=row.revoked_at,
    )


def _field(pointer: str, detail: str, code: str) -> FieldError:
    return FieldError(pointer=pointer, detail=detail, code=code)


def _checked_signing_key(jwk: dict[str, Any], pointer: str) -> dict[str, Any]:
    """The FO's public key as stored: `alg: EdDSA` normalised to `Ed25519` (RFC 9864), and
    accepted only if the verifier can use it (`usable_verification_key`), so that a key
    accepted here never yields `signature-invalid` for good signatures. Refusals name the JWK
    member at fault."""
    try:
        return usable_verification_key(jwk)
    except SigningKeyError as exc:
        slug = "signing-key-invalid" if exc.member == "x" else "signing-key-unsupported"
        raise UnprocessableContent(
            f"The signing key cannot verify signatures: {exc}.",
            slug=slug,
            errors=[_field(f"{pointer}/{exc.member}", str(exc), slug.replace("-", "_"))],
        ) from exc


async def checked_callback_url(
    url: str, *, settings: Settings, resolver: Resolver, pointer: str = "/body/callback_base_url"
) -> str:
    """The URL if the server may push to it (S4), else a 422 naming why."""
    try:
        await resolve_public_addresses(
            url, allow_loopback=settings.allow_loopback_callbacks, resolver=resolver
        )
    except CallbackUrlError as exc:
        raise UnprocessableContent(
            f"The callback URL is refused: {exc.detail}.",
            slug=exc.slug,
            errors=[_field(pointer, exc.detail, exc.slug.replace("-", "_"))],
        ) from exc
    return url


async def _check_party(
    session: AsyncSession, body: EnrolmentRequest, token: EnrolmentTokenRow, server_id: str
) -> PartyRow | None:
    """The existing party row to reuse (re-enrolment), after the identity rules."""
    party = body.party
    if PartyRole.FO not in party.roles:
        raise UnprocessableContent(
            "Only a flexibility operator (role FO) can enrol.",
            slug="party-role-invalid",
            errors=[_field("/body/party/roles", "must include FO", "party_role_invalid")],
        )
    if token.party_id is not None and token.party_id != party.party_id:
        raise Forbidden(
            f"This enrolment token is for party {token.party_id}.",
            slug="enrolment-token-party-mismatch",
        )
    existing = await session.get(PartyRow, party.party_id)
    if party.party_id == server_id or (existing is not None and existing.is_server):
        raise Conflict("This party id is the server's own.", slug="party-id-taken")
    if existing is None:
        return None
    if await active_enrolment_of(session, party.party_id) is not None:
        raise Conflict(f"Party {party.party_id} is already enrolled.", slug="already-enrolled")
    if token.party_id != party.party_id:
        raise Conflict(
            f"Party id {party.party_id} was enrolled before; re-enrolling it needs a token "
            "bound to it (`--party-id`).",
            slug="party-id-taken",
        )
    return existing


async def enrol(
    session: AsyncSession,
    token: EnrolmentTokenRow,
    body: EnrolmentRequest,
    *,
    now: datetime,
    settings: Settings,
    resolver: Resolver,
) -> EnrolmentResult:
    """Exchange the one-time token for credentials (UC 3.1)."""
    state_error = token_state_error(token, now)
    if state_error is not None:
        raise state_error
    server = await require_server_party(session)
    existing = await _check_party(session, body, token, server.party_id)
    signing_key = _checked_signing_key(body.signing_key, "/body/signing_key")
    callback = await checked_callback_url(
        body.callback_base_url, settings=settings, resolver=resolver
    )
    enrolment_id = "enr_" + secrets.token_urlsafe(12)
    if not await spend_token(session, token.token_id, enrolment_id, now):
        await session.refresh(token)
        raise token_state_error(token, now) or Unauthorized(
            "The enrolment token was already used.", slug="enrolment-token-spent"
        )
    party = existing or PartyRow(party_id=body.party.party_id, is_server=False, created_at=now)
    party.roles = [role.value for role in body.party.roles]
    party.legal_name = body.party.legal_name
    party.country = body.party.country
    party.identifiers = body.party.identifiers.model_dump(mode="json", exclude_none=True)
    party.jwks = {"keys": [signing_key]}
    if existing is None:
        session.add(party)
        await session.flush()
    enrolment = EnrolmentRow(
        enrolment_id=enrolment_id,
        fo_party_id=party.party_id,
        status="ACTIVE",
        scopes=list(token.scopes),
        callback_base_url=callback,
        signing_key=signing_key,
        webhook_secret=body.webhook_secret,
        heartbeat_interval_s=settings.heartbeat_interval_s,
        offline_timeout_s=settings.offline_timeout_s,
        fallback_policy=FallbackPolicy.REVERT_UNMANAGED.value,
        created_at=now,
    )
    session.add(enrolment)
    await session.flush()
    access_token = new_secret(ACCESS_TOKEN_PREFIX)
    credential = _credential(
        access_token, party.party_id, enrolment_id, now, settings.access_token_ttl_days
    )
    session.add(credential)
    await append_event(
        session,
        type="ENROLMENT_CREATED",
        object_ref=f"enrolment/{enrolment_id}",
        summary=f"party {party.party_id} enrolled with token {token.token_id}",
        party_id=party.party_id,
        payload={"token_id": token.token_id, "kid": signing_key.get("kid"), "scopes": token.scopes},
    )
    return EnrolmentResult(
        enrolment=enrolment_model(enrolment),
        access_token=access_token,
        token_expires_at=credential.expires_at,
        server_party=party_model(server),
    )


def _credential(
    token: str, party_id: str, enrolment_id: str, now: datetime, ttl_days: float | None
) -> CredentialRow:
    """An FO access token's row, expiring `ttl_days` after `now` (never, for None)."""
    return CredentialRow(
        credential_id="cred_" + secrets.token_urlsafe(12),
        token_hash=hash_secret(token),
        role="FO",
        party_id=party_id,
        enrolment_id=enrolment_id,
        created_at=now,
        expires_at=None if ttl_days is None else now + timedelta(days=ttl_days),
    )


async def _own_enrolment(session: AsyncSession, enrolment_id: str | None) -> EnrolmentRow:
    row = await session.get(EnrolmentRow, enrolment_id) if enrolment_id else None
    if row is None:
        raise NotFound("No enrolment for this credential.", slug="enrolment-not-found")
    return row


async def update_enrolment(
    session: AsyncSession,
    enrolment_id: str | None,
    body: EnrolmentUpdate,
    *,
    now: datetime,
    settings: Settings,
    resolver: Resolver,
) -> Enrolment:
    """Move the callback URL and/or rotate the FO's signing key (old key kept for the overlap)."""
    row = await _own_enrolment(session, enrolment_id)
    changes: list[str] = []
    if body.callback_base_url is not None:
        row.callback_base_url = await checked_callback_url(
            body.callback_base_url, settings=settings, resolver=resolver
        )
        changes.append("callback URL")
    if body.signing_key is not None:
        key = _checked_signing_key(body.signing_key, "/body/signing_key")
        party = await session.get(PartyRow, row.fo_party_id)
        previous = [row.signing_key] if row.signing_key else []
        if party is not None:
            party.jwks = {"keys": [key, *[k for k in previous if k.get("kid") != key.get("kid")]]}
        row.signing_key = key
        row.previous_keys_valid_until = now + timedelta(
            seconds=settings.credential_rotation_overlap_s
        )
        changes.append(f"signing key {key.get('kid')}")
    await append_event(
        session,
        type="ENROLMENT_UPDATED",
        object_ref=f"enrolment/{row.enrolment_id}",
        summary="changed " + " and ".join(changes),
        party_id=row.fo_party_id,
        payload={"changes": changes},
    )
    return enrolment_model(row)


async def rotate_credentials(
    session: AsyncSession,
    enrolment_id: str | None,
    credential_id: str,
    *,
    now: datetime,
    overlap_s: int,
    ttl_days: float | None = None,
) -> CredentialsRotation:
    """A new access token (expiring `ttl_days` from now); the caller's keeps working for
    `overlap_s`, then expires."""
    enrolment = await _own_enrolment(session, enrolment_id)
    newest = await newest_credential(session, enrolment.enrolment_id)
    if newest is None or newest.credential_id != credential_id:
        raise Conflict(
            "Only the newest access token of the enrolment can rotate; use it.",
            slug="credential-superseded",
        )
    valid_until = now + timedelta(seconds=overlap_s)
    if newest.expires_at is None or newest.expires_at > valid_until:
        newest.expires_at = valid_until
    token = new_secret(ACCESS_TOKEN_PREFIX)
    credential = _credential(token, enrolment.fo_party_id, enrolment.enrolment_id, now, ttl_days)
    session.add(credential)
    enrolment.rotated_at = now
    await append_event(
        session,
        type="CREDENTIALS_ROTATED",
        object_ref=f"enrolment/{enrolment.enrolment_id}",
        summary=f"access token rotated; previous valid until {valid_until.isoformat()}",
        party_id=enrolment.fo_party_id,
    )
    return CredentialsRotation(
        access_token=token,
        token_expires_at=credential.expires_at,
        previous_token_valid_until=newest.expires_at,
    )


async def revoke_enrolment(
    session: AsyncSession, enrolment_id: str, *, now: datetime, by: str
) -> EnrolmentRow:
    """Revoke an enrolment and every credential of it at once; its live contracts end."""
    row = await session.get(EnrolmentRow, enrolment_id)
    if row is None:
        raise NotFound(f"No enrolment {enrolment_id}.", slug="enrolment-not-found")
    if row.status == "REVOKED":
        return row
    row.status = "REVOKED"
    row.revoked_at = now
    revoked = await revoke_credentials(session, enrolment_id, now)
    await terminate_all_of(session, row.fo_party_id, now=now, reason=f"enrolment revoked by {by}")
    await append_event(
        session,
        type="ENROLMENT_REVOKED",
        object_ref=f"enrolment/{enrolment_id}",
        summary=f"enrolment revoked by {by}; {revoked} credential(s) revoked",
        party_id=row.fo_party_id,
        payload={"by": by},
    )
    return row


async def list_enrolments(
    session: AsyncSession, *, after: str | None, limit: int, status: str | None = None
) -> tuple[list[Enrolment], str | None]:
    """A page of enrolments (operator view) and the cursor key of the next page."""
    rows = await enrolments_page(session, after=after, limit=limit + 1, status=status)
    page, more = rows[:limit], len(rows) > limit
    return [enrolment_model(row) for row in page], page[-1].enrolment_id if more else None


async def get_enrolment(session: AsyncSession, enrolment_id: str) -> Enrolment:
    """One enrolment (operator view)."""
    row = await session.get(EnrolmentRow, enrolment_id)
    if row is None:
        raise NotFound(f"No enrolment {enrolment_id}.", slug="enrolment-not-found")
    return enrolment_model(row)
