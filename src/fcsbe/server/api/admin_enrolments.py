"""Operator routes for aggregators (`/admin/v1`): issue one-time enrolment tokens, list, read
and revoke enrolments. Operator credentials only."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from fcsbe.model import Enrolment, EnrolmentStatus, EnrolmentToken, EnrolmentTokenRequest, Page
from fcsbe.server.api.edge.authentication import OperatorPrincipal, bearer_token
from fcsbe.server.api.edge.idempotency import (
    IdempotencyKey,
    Outcome,
    run_idempotent,
)
from fcsbe.server.api.edge.paging import (
    DEFAULT_PAGE_SIZE,
    Cursor,
    Limit,
    cursor_key,
    page_response,
)
from fcsbe.server.api.edge.problems import problem_responses
from fcsbe.server.deps import DbSession, ServerSettings
from fcsbe.server.security.sealing import SecretSealer
from fcsbe.server.services.enrolments import enrolments
from fcsbe.server.services.enrolments import tokens as enrolment_tokens
from fcsbe.server.storage.base import utcnow

__all__ = ["router"]

router = APIRouter(prefix="/admin/v1", tags=["admin"])

EnrolmentId = Annotated[str, Path(min_length=1, max_length=128)]


@router.post(
    "/enrolment-tokens",
    operation_id="create_enrolment_token",
    status_code=201,
    response_model=EnrolmentToken,
    responses=problem_responses(401, 403, 409, 422, idempotent=True),
)
async def create_enrolment_token(
    body: EnrolmentTokenRequest,
    request: Request,
    principal: OperatorPrincipal,
    session: DbSession,
    settings: ServerSettings,
    key: IdempotencyKey = None,
) -> Response:
    """A one-time enrolment token for one aggregator; the secret is in this answer only."""

    async def handler() -> Outcome:
        token = await enrolment_tokens.issue_enrolment_token(
            session, body, now=utcnow(), settings=settings
        )
        return 201, token, {}

    sealer = SecretSealer(bearer_token(request))
    return await run_idempotent(request, session, principal.party_id, key, handler, sealer=sealer)


@router.get(
    "/enrolments",
    operation_id="admin_list_enrolments",
    responses=problem_responses(401, 403, 422),
)
async def admin_list_enrolments(
    request: Request,
    response: Response,
    principal: OperatorPrincipal,
    session: DbSession,
    status: Annotated[EnrolmentStatus | None, Query(description="Only this status.")] = None,
    limit: Limit = DEFAULT_PAGE_SIZE,
    cursor: Cursor = None,
) -> Page[Enrolment]:
    """Every aggregator's enrolment, by id."""
    items, next_key = await enrolments.list_enrolments(
        session,
        after=cursor_key(request, cursor, str),
        limit=limit,
        status=status.value if status else None,
    )
    return page_response(request, response, Page[Enrolment], items, next_key)


@router.get(
    "/enrolments/{enrolment_id}",
    operation_id="admin_get_enrolment",
    responses=problem_responses(401, 403, 404),
)
async def admin_get_enrolment(
    enrolment_id: EnrolmentId, principal: OperatorPrincipal, session: DbSession
) -> Enrolment:
    """One enrolment."""
    return await enrolments.get_enrolment(session, enrolment_id)


@router.post(
    "/enrolments/{enrolment_id}/revoke",
    operation_id="admin_revoke_enrolment",
    response_model=Enrolment,
    responses=problem_responses(401, 403, 404, idempotent=True),
)
async def admin_revoke_enrolment(
    enrolment_id: EnrolmentId,
    request: Request,
    principal: OperatorPrincipal,
    session: DbSession,
    key: IdempotencyKey = None,
) -> Response:
    """Revoke an aggregator at once: its credentials stop working, its contracts end."""

    async def handler() -> Outcome:
        row = await enrolments.revoke_enrolment(session, enrolment_id, now=utcnow(), by="OPERATOR")
        return 200, enrolments.enrolment_model(row), {}

    return await run_idempotent(request, session, principal.party_id, key, handler)
