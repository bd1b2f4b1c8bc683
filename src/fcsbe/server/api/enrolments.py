"""Enrolment routes (UC 3.1): exchange a one-time token for credentials, read and change the
enrolment, rotate the access token, unregister."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from fcsbe.model import (
    CredentialsRotation,
    Enrolment,
    EnrolmentRequest,
    EnrolmentResult,
    EnrolmentUpdate,
)
from fcsbe.server.api.edge.authentication import FoPrincipal, bearer_token
from fcsbe.server.api.edge.idempotency import (
    IdempotencyKey,
    Outcome,
    run_idempotent,
)
from fcsbe.server.api.edge.problems import problem_responses
from fcsbe.server.deps import DbSession, ServerSettings, state_callback_resolver
from fcsbe.server.security.sealing import SecretSealer
from fcsbe.server.services.enrolments import enrolments
from fcsbe.server.services.enrolments import tokens as enrolment_tokens
from fcsbe.server.storage.base import utcnow
from fcsbe.server.storage.parties import EnrolmentRow, EnrolmentTokenRow

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["enrolments"])


async def _enrolment_token(request: Request, session: DbSession) -> EnrolmentTokenRow:
    return await enrolment_tokens.find_enrolment_token(session, bearer_token(request))


EnrolmentTokenAuth = Annotated[EnrolmentTokenRow, Depends(_enrolment_token)]


@router.post(
    "/enrolments",
    operation_id="create_enrolment",
    status_code=201,
    response_model=EnrolmentResult,
    responses=problem_responses(401, 403, 409, 422, idempotent=True),
)
async def create_enrolment(
    body: EnrolmentRequest,
    request: Request,
    session: DbSession,
    settings: ServerSettings,
    token: EnrolmentTokenAuth,
    key: IdempotencyKey = None,
) -> Response:
    """Enrol with the one-time token (`Authorization: Bearer <enrolment token>`): send the FO
    party, callback URL and public signing key; get an access token and the server's party and
    keys. The token is spent; a retry with the same Idempotency-Key gets the same answer."""

    async def handler() -> Outcome:
        result = await enrolments.enrol(
            session,
            token,
            body,
            now=utcnow(),
            settings=settings,
            resolver=state_callback_resolver(request),
        )
        return 201, result, {"location": "/v1/enrolments/self"}

    scope = f"enrolment-token/{token.token_id}"
    sealer = SecretSealer(bearer_token(request))
    return await run_idempotent(request, session, scope, key, handler, sealer=sealer)


@router.get(
    "/enrolments/self",
    operation_id="get_own_enrolment",
    responses=problem_responses(401, 403),
)
async def get_own_enrolment(principal: FoPrincipal, session: DbSession) -> Enrolment:
    """The caller's enrolment: status, scopes, heartbeat timing, signing key."""
    row = await session.get(EnrolmentRow, principal.enrolment_id or "")
    assert row is not None  # authentication requires an active enrolment
    return enrolments.enrolment_model(row)


@router.patch(
    "/enrolments/self",
    operation_id="update_own_enrolment",
    response_model=Enrolment,
    responses=problem_responses(401, 403, 422, idempotent=True),
)
async def update_own_enrolment(
    body: EnrolmentUpdate,
    request: Request,
    principal: FoPrincipal,
    session: DbSession,
    settings: ServerSettings,
    key: IdempotencyKey = None,
) -> Response:
    """Move the callback URL or rotate the signing key (the previous key keeps verifying for
    the overlap window)."""

    async def handler() -> Outcome:
        result = await enrolments.update_enrolment(
            session,
            principal.enrolment_id,
            body,
            now=utcnow(),
            settings=settings,
            resolver=state_callback_resolver(request),
        )
        return 200, result, {}

    return await run_idempotent(request, session, principal.party_id, key, handler)


@router.put(
    "/enrolments/self/credentials",
    operation_id="rotate_credentials",
    response_model=CredentialsRotation,
    responses=problem_responses(401, 403, 409, idempotent=True),
)
async def rotate_credentials(
    request: Request,
    principal: FoPrincipal,
    session: DbSession,
    settings: ServerSettings,
    key: IdempotencyKey = None,
) -> Response:
    """Issue a new access token, valid until `token_expires_at`; the current one keeps working
    until `previous_token_valid_until` (the overlap window), then expires. Rotate before the
    token expires (`CREDENTIAL_EXPIRING` warns in time): an expired token is refused with 401
    `token-expired`, and the FO then has to be enrolled again by the CSO."""

    async def handler() -> Outcome:
        result = await enrolments.rotate_credentials(
            session,
            principal.enrolment_id,
            principal.credential_id,
            now=utcnow(),
            overlap_s=settings.credential_rotation_overlap_s,
            ttl_days=settings.access_token_ttl_days,
        )
        return 200, result, {}

    sealer = SecretSealer(bearer_token(request))
    return await run_idempotent(request, session, principal.party_id, key, handler, sealer=sealer)


@router.delete(
    "/enrolments/self",
    operation_id="delete_own_enrolment",
    status_code=204,
    responses=problem_responses(401, 403),
)
async def delete_own_enrolment(principal: FoPrincipal, session: DbSession) -> Response:
    """Unregister: every credential of the enrolment is revoked at once and its live contracts
    are terminated."""
    await enrolments.revoke_enrolment(session, principal.enrolment_id or "", now=utcnow(), by="FO")
    return Response(status_code=204)
