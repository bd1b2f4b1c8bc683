"""Queries that turn targets (site, CS, EVSE, session ids) into registry rows, in bulk.

A credentials check or an FS may name up to 1,000 targets; these load everything they need in a
fixed number of queries (one per table), whatever the number of targets. The registry is the
CSO's own equipment, not party data: the services decide what a caller may learn from it.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from fcsbe.server.storage.infrastructure import ChargingStationRow, EvseRow, EvSessionRow, SiteRow
from fcsbe.server.storage.ocpp_stations import StationOcppStateRow

__all__ = ["RegistryRows", "load_registry_rows"]


@dataclass
class RegistryRows:
    """Rows found for a set of ids, keyed by their primary key."""

    sites: dict[str, SiteRow] = field(default_factory=dict)
    stations: dict[str, ChargingStationRow] = field(default_factory=dict)
    evses: dict[str, EvseRow] = field(default_factory=dict)
    sessions: dict[str, EvSessionRow] = field(default_factory=dict)
    connected: dict[str, EvSessionRow] = field(default_factory=dict)
    """The EV session currently connected at each EVSE (the latest, if several)."""
    reported: dict[str, dict[str, Any]] = field(default_factory=dict)
    """What each station reported over OCPP when it connected (`StationLimits` JSON), if any."""


async def load_registry_rows(
    session: AsyncSession,
    *,
    site_ids: Collection[str] = (),
    cs_ids: Collection[str] = (),
    evse_ids: Collection[str] = (),
    session_refs: Collection[str] = (),
) -> RegistryRows:
    """Every row the named targets stand for: the objects, their EVSEs (all EVSEs of a named
    site or CS), the stations of those EVSEs and the EVs connected to them."""
    found = RegistryRows()
    if session_refs:
        sessions = await session.scalars(
            select(EvSessionRow).where(EvSessionRow.session_ref.in_(list(session_refs)))
        )
        found.sessions = {row.session_ref: row for row in sessions}
    if site_ids:
        sites = await session.scalars(select(SiteRow).where(SiteRow.site_id.in_(list(site_ids))))
        found.sites = {row.site_id: row for row in sites}
    wanted_evses = set(evse_ids) | {row.evse_id for row in found.sessions.values()}
    conditions = []
    if wanted_evses:
        conditions.append(EvseRow.evse_id.in_(sorted(wanted_evses)))
    if cs_ids:
        conditions.append(EvseRow.cs_id.in_(list(cs_ids)))
    if found.sites:
        conditions.append(EvseRow.site_id.in_(list(found.sites)))
    if conditions:
        evses = await session.scalars(select(EvseRow).where(or_(*conditions)))
        found.evses = {row.evse_id: row for row in evses}
    wanted_stations = set(cs_ids) | {row.cs_id for row in found.evses.values()}
    if wanted_stations:
        stations = await session.execute(
            select(ChargingStationRow, StationOcppStateRow.limits)
            .outerjoin(StationOcppStateRow, StationOcppStateRow.cs_id == ChargingStationRow.cs_id)
            .where(ChargingStationRow.cs_id.in_(sorted(wanted_stations)))
        )
        for row, reported in stations.all():
            found.stations[row.cs_id] = row
            if reported:
                found.reported[row.cs_id] = reported
    if found.evses:
        connected = await session.scalars(
            select(EvSessionRow)
            .where(
                EvSessionRow.evse_id.in_(list(found.evses)),
                EvSessionRow.disconnected_at.is_(None),
            )
            .order_by(EvSessionRow.connected_at)
        )
        found.connected = {row.evse_id: row for row in connected}
    return found
