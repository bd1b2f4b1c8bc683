"""Charging stations with their EVSEs as the caller may see them (`GET /v1/charging-stations`).

A station covered by a SITE or CS target is shown whole; one covered only by EVSE targets is
shown with those EVSEs. Nothing is shown under a SITE-level contract.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from fcsbe.model import ChargingStation
from fcsbe.server.errors import NotFound
from fcsbe.server.security.principal import Principal
from fcsbe.server.storage import charging_stations as store
from fcsbe.server.storage.infrastructure import ChargingStationRow, EvseRow

__all__ = ["get_charging_station", "list_charging_stations", "station_document"]


def _ordered(evses: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(evses, key=lambda e: (int(e["ocpp_evse_id"]), str(e["evse_id"])))


def station_document(row: ChargingStationRow, evses: list[EvseRow]) -> ChargingStation:
    """The wire document of a station with the given EVSE rows (in OCPP EVSE order)."""
    return ChargingStation.model_validate({**row.data, "evses": _ordered([e.data for e in evses])})


async def list_charging_stations(
    session: AsyncSession,
    principal: Principal,
    now: datetime,
    *,
    after: str | None,
    limit: int,
    site_id: str | None = None,
) -> tuple[list[str], str | None]:
    """One page of the stations the caller's contracts cover, optionally on one site, as JSON
    texts of their wire documents, and the next page's key.

    Documents were validated when imported and are stored in wire form with their EVSEs in
    OCPP order, so a wholly visible station is served as stored; one seen through EVSE targets
    is cut down to those EVSEs.
    """
    rows = await store.list_stations(
        session, principal, now, after=after, limit=limit + 1, site_id=site_id
    )
    more = len(rows) > limit
    rows = rows[:limit]
    partial = [cs_id for cs_id, _, whole in rows if not whole]
    shown = await store.visible_evse_ids(session, principal, now, partial) if partial else set()
    items = []
    for _, text, whole in rows:
        if whole:
            items.append(text)
            continue
        data = json.loads(text)
        evses = [e for e in data["evses"] if e["evse_id"] in shown]
        if evses:
            items.append(json.dumps({**data, "evses": _ordered(evses)}))
    return items, rows[-1][0] if more else None


async def get_charging_station(
    session: AsyncSession, principal: Principal, now: datetime, cs_id: str
) -> ChargingStation:
    """One station, or 404 when unknown or not covered at CS level or finer."""
    row = await store.get_station(session, principal, now, cs_id)
    evses = await store.visible_evses(session, principal, now, [cs_id]) if row else []
    if row is None or not evses:
        raise NotFound(
            f"No charging station {cs_id!r} in your contracts.", slug="charging-station-not-found"
        )
    return station_document(row, evses)
