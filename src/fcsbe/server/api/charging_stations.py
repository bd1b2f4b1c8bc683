"""`GET /v1/charging-stations[/{cs_id}]`: stations with their EVSEs, as far as contracts allow."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from fcsbe.model import ChargingStation, Page
from fcsbe.server.api.edge.listing import READ_RESPONSES, after_id, stored_page_response
from fcsbe.server.api.edge.paging import DEFAULT_PAGE_SIZE, Cursor, Limit
from fcsbe.server.api.edge.readers import InfrastructureReader
from fcsbe.server.deps import DbSession
from fcsbe.server.services.registry import charging_stations as service
from fcsbe.server.storage.base import utcnow

__all__ = ["router"]

router = APIRouter(
    prefix="/v1/charging-stations", tags=["infrastructure"], responses=READ_RESPONSES
)

CsIdPath = Annotated[str, Path(max_length=128, description="Id of the charging station.")]
SiteFilter = Annotated[
    str | None, Query(max_length=128, description="Only the stations of this site.")
]


@router.get("", operation_id="list_charging_stations", response_model=Page[ChargingStation])
async def list_charging_stations(
    request: Request,
    principal: InfrastructureReader,
    session: DbSession,
    site_id: SiteFilter = None,
    limit: Limit = DEFAULT_PAGE_SIZE,
    cursor: Cursor = None,
) -> Response:
    """Stations covered by the caller's contracts at the CS data-sharing level or finer, by id.

    A station covered through EVSE targets only is listed with those EVSEs.
    """
    items, next_key = await service.list_charging_stations(
        session, principal, utcnow(), after=after_id(request, cursor), limit=limit, site_id=site_id
    )
    return stored_page_response(request, items, next_key)


@router.get("/{cs_id}", operation_id="get_charging_station")
async def get_charging_station(
    cs_id: CsIdPath, principal: InfrastructureReader, session: DbSession
) -> ChargingStation:
    """One station with its EVSEs, connectors, converter topology and conformity evidence."""
    return await service.get_charging_station(session, principal, utcnow(), cs_id)
