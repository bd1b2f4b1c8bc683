"""One-time enrolment tokens (UC 3.1): issued by the operator, presented once by an aggregator.

A token is 256 random bits shown once; only its SHA-256 is stored. It may be bound to one FO party
id (re-enrolling a known party needs such a token) and carries the scopes the enrolment will
grant. Spending it is part of the enrolment itself (`enrolments.enrol`).
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from fcsbe.model import FO_SCOPES, EnrolmentToken, EnrolmentTokenRequest, FieldError
from fcsbe.server.errors import Unauthorized, UnprocessableContent
from fcsbe.server.security.tokens import ENROLMENT_TOKEN_PREFIX, hash_secret, new_secret
from fcsbe.server.services.enrolments.parties import require_server_party
from fcsbe.server.services.event_log.log import append_event
from fcsbe.server.settings import Settings
from fcsbe.server.storage.parties import EnrolmentTokenRow, find_token

__all__ = ["find_enrolment_token", "issue_enrolment_token", "token_state_error"]


async def issue_enrolment_token(
    session: AsyncSession, request: EnrolmentTokenRequest, *, now: datetime, settings: Settings
) -> EnrolmentToken:
    """A one-time enrolment token for one aggregator (the secret is returned once)."""
    server = await require_server_party(session)
    if request.party_id is not None and request.party_id == server.party_id:
        raise UnprocessableContent(
            "A token cannot be bound to the server's own party.",
            slug="party-id-taken",
            errors=[
                FieldError(
                    pointer="/body/party_id",
                    detail="this is the server party",
                    code="party_id_taken",
                )
            ],
        )
    token = new_secret(ENROLMENT_TOKEN_PREFIX)
    row = EnrolmentTokenRow(
        token_id="et_" + secrets.token_urlsafe(9),
        token_hash=hash_secret(token),
        fo_name=request.fo_name,
        party_id=request.party_id,
        scopes=list(request.scopes if request.scopes is not None else FO_SCOPES),
        created_at=now,
        expires_at=now + timedelta(seconds=request.ttl_s or settings.enrolment_token_ttl_s),
    )
    session.add(row)
    await append_event(
        session,
        type="ENROLMENT_TOKEN_ISSUED",
        object_ref=f"enrolment-token/{row.token_id}",
        summary=f"one-time enrolment token issued, expires {row.expires_at.isoformat()}",
        party_id=server.party_id,
        payload={"token_id": row.token_id, "party_id": row.party_id, "scopes": row.scopes},
    )
    return EnrolmentToken(
        token_id=row.token_id,
        token=token,
        fo_name=row.fo_name,
        party_id=row.party_id,
        scopes=row.scopes,
        created_at=row.created_at,
        expires_at=row.expires_at,
    )


async def find_enrolment_token(session: AsyncSession, token: str) -> EnrolmentTokenRow:
    """The enrolment token presented, or 401 when it is not one this server issued."""
    row = await find_token(session, hash_secret(token))
    if row is None:
        raise Unauthorized("The enrolment token is not known.", slug="enrolment-token-unknown")
    return row


def token_state_error(row: EnrolmentTokenRow, now: datetime) -> Unauthorized | None:
    if row.spent_at is not None:
        return Unauthorized("The enrolment token was already used.", slug="enrolment-token-spent")
    if row.expires_at <= now:
        return Unauthorized("The enrolment token has expired.", slug="enrolment-token-expired")
    return None
