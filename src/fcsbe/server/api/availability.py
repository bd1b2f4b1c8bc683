"""`GET /v1/availability`: forecast of flexible power and energy of one target."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import AwareDatetime

from fcsbe.model import AvailabilityForecast
from fcsbe.server.api.edge.listing import READ_RESPONSES
from fcsbe.server.api.edge.readers import InfrastructureReader
from fcsbe.server.deps import DbSession
from fcsbe.server.services.registry.availability import forecast, horizon
from fcsbe.server.services.registry.targets import parse_target
from fcsbe.server.storage.base import utcnow

__all__ = ["router"]

router = APIRouter(prefix="/v1/availability", tags=["infrastructure"], responses=READ_RESPONSES)


@router.get("", operation_id="get_availability")
async def get_availability(
    principal: InfrastructureReader,
    session: DbSession,
    target: Annotated[
        str,
        Query(
            max_length=200,
            description="Target as `LEVEL:id` (SITE, CS, EVSE, SESSION).",
            examples=["SITE:site-ams-depot-01"],
        ),
    ],
    start: Annotated[
        AwareDatetime | None, Query(description="Start of the forecast (RFC 3339); default now.")
    ] = None,
    end: Annotated[
        AwareDatetime | None, Query(description="End of the forecast; default start + 24 h.")
    ] = None,
    resolution_s: Annotated[
        int, Query(ge=60, le=86_400, description="Interval length in seconds.")
    ] = 900,
) -> AvailabilityForecast:
    """Min/max import, max export, energy up/down, connected and V2G-capable EVs per interval.

    Computed from the EVs connected now (departures, energy requests, EV-user limits, consent),
    the equipment, the site's grid connection and power already committed to live FS.
    """
    now = utcnow()
    span = horizon(now, _utc(start), _utc(end), resolution_s)
    return await forecast(session, principal, now, parse_target(target), span)


def _utc(value: datetime | None) -> datetime | None:
    return None if value is None else value.astimezone(utcnow().tzinfo)
