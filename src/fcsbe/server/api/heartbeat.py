"""The heartbeat route: the FO tells the server it is alive, and learns the server time."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from fcsbe.model import HeartbeatRequest, HeartbeatResponse
from fcsbe.server.api.edge.authentication import FoPrincipal
from fcsbe.server.api.edge.idempotency import (
    IdempotencyKey,
    Outcome,
    run_idempotent,
)
from fcsbe.server.api.edge.problems import problem_responses
from fcsbe.server.deps import DbSession
from fcsbe.server.services.enrolments.heartbeat import record_heartbeat
from fcsbe.server.storage.base import utcnow

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["enrolments"])


@router.post(
    "/heartbeat",
    operation_id="send_heartbeat",
    response_model=HeartbeatResponse,
    responses=problem_responses(401, 403, 422, idempotent=True),
)
async def send_heartbeat(
    body: HeartbeatRequest,
    request: Request,
    principal: FoPrincipal,
    session: DbSession,
    key: IdempotencyKey = None,
) -> Response:
    """Liveness: send one every `heartbeat_interval_s`; silence past `offline_timeout_s` makes
    the FO offline (COMM_LOST, and the contracts' fallback applies)."""

    async def handler() -> Outcome:
        result = await record_heartbeat(session, principal.enrolment_id, body, now=utcnow())
        return 200, result, {}

    return await run_idempotent(request, session, principal.party_id, key, handler)
