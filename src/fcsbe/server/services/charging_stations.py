"""Charging stations with their EVSEs as the caller may see them (`GET /v1/charging-stations`).

A station covered by a SITE or CS target is shown whole; one covered only by EVSE targets is
shown with those EVSEs. Nothing is shown under a SITE-level contract.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from fcsbe.model import ChargingStation
from fcsbe.server.errors import NotFound
from fcsbe.server.security.principals import Principal
from fcsbe.server.storage import charging_stations as store
from fcsbe.server.storage.infrastructure import ChargingStationRow, EvseRow

__all__ = ["get_charging_station", "list_charging_stations", "station_document"]


def station_document(row: ChargingStationRow, evses: list[EvseRow]) -> ChargingStation:
    """The wire document of a station with the given EVSE rows (in OCPP EVSE order)."""
    ordered = sorted(evses, key=lambda e: (int(e.data["ocpp_evse_id"]), e.evse_id))
    return ChargingStation.model_validate({**row.data, "evses": [e.data for e in ordered]})


async def _documents(
    session: AsyncSession, principal: Principal, now: datetime, rows: list[ChargingStationRow]
) -> list[ChargingStation]:
    by_station: dict[str, list[EvseRow]] = {}
    for evse in await store.visible_evses(session, principal, now, [r.cs_id for r in rows]):
        by_station.setdefault(evse.cs_id, []).append(evse)
    return [station_document(r, by_station[r.cs_id]) for r in rows if r.cs_id in by_station]


async def list_charging_stations(
    session: AsyncSession,
    principal: Principal,
    now: datetime,
    *,
    after: str | None,
    limit: int,
    site_id: str | None = None,
) -> tuple[list[ChargingStation], str | None]:
    """One page of the stations the caller's contracts cover, optionally on one site."""
    rows = await store.list_stations(
        session, principal, now, after=after, limit=limit + 1, site_id=site_id
    )
    more = len(rows) > limit
    rows = rows[:limit]
    items = await _documents(session, principal, now, rows)
    return items, rows[-1].cs_id if more else None


async def get_charging_station(
    session: AsyncSession, principal: Principal, now: datetime, cs_id: str
) -> ChargingStation:
    """One station, or 404 when unknown or not covered at CS level or finer."""
    row = await store.get_station(session, principal, now, cs_id)
    documents = await _documents(session, principal, now, [row]) if row else []
    if not documents:
        raise NotFound(
            f"No charging station {cs_id!r} in your contracts.", slug="charging-station-not-found"
        )
    return documents[0]
