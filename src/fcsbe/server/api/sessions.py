"""`GET /v1/sessions[/{session_ref}]`: connected EV sessions, pseudonymous, at SESSION level.

Only contracts at the SESSION data-sharing level show sessions, and only the personal-data
categories they name (departure, energy request, SoC, EV-user limits, consent status).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from fcsbe.model import EvSession, Page
from fcsbe.server.api.edge.listing import READ_RESPONSES, after_id
from fcsbe.server.api.edge.paging import DEFAULT_PAGE_SIZE, Cursor, Limit, page_response
from fcsbe.server.api.edge.readers import SessionsReader
from fcsbe.server.deps import DbSession
from fcsbe.server.services.registry import sessions as service
from fcsbe.server.storage.base import utcnow

__all__ = ["router"]

router = APIRouter(prefix="/v1/sessions", tags=["sessions"], responses=READ_RESPONSES)


@router.get("", operation_id="list_sessions")
async def list_sessions(
    request: Request,
    response: Response,
    principal: SessionsReader,
    session: DbSession,
    site_id: Annotated[str | None, Query(max_length=128, description="Only on this site.")] = None,
    cs_id: Annotated[str | None, Query(max_length=128, description="Only at this station.")] = None,
    evse_id: Annotated[str | None, Query(max_length=128, description="Only at this EVSE.")] = None,
    include_ended: Annotated[
        bool, Query(description="Also sessions that have ended (default: connected only).")
    ] = False,
    limit: Limit = DEFAULT_PAGE_SIZE,
    cursor: Cursor = None,
) -> Page[EvSession]:
    """EV sessions covered by the caller's SESSION-level contracts, ordered by `session_ref`."""
    items, next_key = await service.list_sessions(
        session,
        principal,
        utcnow(),
        after=after_id(request, cursor),
        limit=limit,
        site_id=site_id,
        cs_id=cs_id,
        evse_id=evse_id,
        include_ended=include_ended,
    )
    return page_response(request, response, Page[EvSession], items, next_key)


@router.get("/{session_ref}", operation_id="get_session")
async def get_session(
    session_ref: Annotated[str, Path(max_length=64, description="Pseudonym of the session.")],
    principal: SessionsReader,
    session: DbSession,
) -> EvSession:
    """One EV session (connected or ended) covered by the caller's SESSION-level contracts."""
    return await service.get_session(session, principal, utcnow(), session_ref)
