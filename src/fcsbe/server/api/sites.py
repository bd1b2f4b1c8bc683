"""`GET /v1/sites`, `GET /v1/sites/{site_id}`: the sites the caller's contracts cover."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response

from fcsbe.model import Page, Site
from fcsbe.server.api.edge.listing import READ_RESPONSES, after_id
from fcsbe.server.api.edge.paging import DEFAULT_PAGE_SIZE, Cursor, Limit, page_response
from fcsbe.server.api.edge.readers import InfrastructureReader
from fcsbe.server.deps import DbSession
from fcsbe.server.services.registry import sites as service
from fcsbe.server.storage.base import utcnow

__all__ = ["router"]

router = APIRouter(prefix="/v1/sites", tags=["infrastructure"], responses=READ_RESPONSES)

SiteIdPath = Annotated[str, Path(max_length=128, description="Id of the site.")]


@router.get("", operation_id="list_sites")
async def list_sites(
    request: Request,
    response: Response,
    principal: InfrastructureReader,
    session: DbSession,
    limit: Limit = DEFAULT_PAGE_SIZE,
    cursor: Cursor = None,
) -> Page[Site]:
    """Sites covered by the caller's active contracts (all of them for the operator), by id.

    `cs_ids` is shown from the CS data-sharing level on.
    """
    items, next_key = await service.list_sites(
        session, principal, utcnow(), after=after_id(request, cursor), limit=limit
    )
    return page_response(request, response, Page[Site], items, next_key)


@router.get("/{site_id}", operation_id="get_site")
async def get_site(
    site_id: SiteIdPath, principal: InfrastructureReader, session: DbSession
) -> Site:
    """One site: configuration type, grid connection, DERs, energy community and grid state."""
    return await service.get_site(session, principal, utcnow(), site_id)
