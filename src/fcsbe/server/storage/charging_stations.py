"""Queries of charging stations and their EVSEs, filtered by the caller's contracts.

A station is shown from the CS data-sharing level on: whole when a SITE or CS target covers it,
with only the covered EVSEs when EVSE targets do. A station's document carries its EVSEs; the EVSE
rows serve the per-EVSE coverage checks, so a list page is one query, plus one for the stations
seen only in part.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import ColumnElement, Text, cast, select
from sqlalchemy.ext.asyncio import AsyncSession

from fcsbe.model import DataSharingLevel
from fcsbe.server.security.principal import Principal
from fcsbe.server.storage.infrastructure import ChargingStationRow, EvseRow
from fcsbe.server.storage.registry import chunked
from fcsbe.server.storage.visibility import covers

__all__ = [
    "evses_of",
    "get_evse",
    "get_station",
    "list_stations",
    "visible_evse_ids",
    "visible_evses",
]


def _station_visible(
    principal: Principal, now: datetime, whole_only: bool = False
) -> ColumnElement[bool]:
    return covers(
        principal,
        now,
        DataSharingLevel.CS,
        site_id=ChargingStationRow.site_id,
        cs_id=ChargingStationRow.cs_id,
        any_evse_of_cs=None if whole_only else ChargingStationRow.cs_id,
    )


def _evse_visible(
    principal: Principal, now: datetime, level: DataSharingLevel
) -> ColumnElement[bool]:
    """True for the EVSE rows the caller's contracts cover at `level` (by site, station or
    EVSE target)."""
    return covers(
        principal,
        now,
        level,
        site_id=EvseRow.site_id,
        cs_id=EvseRow.cs_id,
        evse_id=EvseRow.evse_id,
    )


async def list_stations(
    session: AsyncSession,
    principal: Principal,
    now: datetime,
    *,
    after: str | None,
    limit: int,
    site_id: str | None = None,
) -> list[tuple[str, str, bool]]:
    """One page of visible stations ordered by id, after the id `after`: (cs_id, document as
    JSON text, whole), `whole` False when only some of its EVSEs are covered (EVSE targets).

    The document comes back as the database's JSON text, not parsed: a page of 500 stations is
    served without decoding and encoding it again.
    """
    whole = _station_visible(principal, now, whole_only=True).label("whole")
    text_of = cast(ChargingStationRow.data, Text)
    statement = select(ChargingStationRow.cs_id, text_of, whole).where(
        _station_visible(principal, now)
    )
    if site_id is not None:
        statement = statement.where(ChargingStationRow.site_id == site_id)
    if after is not None:
        statement = statement.where(ChargingStationRow.cs_id > after)
    statement = statement.order_by(ChargingStationRow.cs_id).limit(limit)
    return [(cs_id, text, bool(flag)) for cs_id, text, flag in await session.execute(statement)]


async def visible_evse_ids(
    session: AsyncSession,
    principal: Principal,
    now: datetime,
    cs_ids: Iterable[str],
    level: DataSharingLevel = DataSharingLevel.CS,
) -> set[str]:
    """Ids of the EVSEs of `cs_ids` the caller may see at `level`."""
    found: set[str] = set()
    visible = _evse_visible(principal, now, level)
    for batch in chunked(cs_ids):
        found.update(
            await session.scalars(select(EvseRow.evse_id).where(EvseRow.cs_id.in_(batch), visible))
        )
    return found


async def get_station(
    session: AsyncSession,
    principal: Principal,
    now: datetime,
    cs_id: str,
    *,
    whole_only: bool = False,
) -> ChargingStationRow | None:
    """The station if the caller may see it (`whole_only`: through a SITE or CS target)."""
    statement = select(ChargingStationRow).where(
        ChargingStationRow.cs_id == cs_id, _station_visible(principal, now, whole_only)
    )
    return (await session.scalars(statement)).one_or_none()


async def visible_evses(
    session: AsyncSession,
    principal: Principal,
    now: datetime,
    cs_ids: Iterable[str],
    level: DataSharingLevel = DataSharingLevel.CS,
) -> list[EvseRow]:
    """The EVSEs of `cs_ids` the caller may see at `level`, ordered by station and id."""
    found: list[EvseRow] = []
    visible = _evse_visible(principal, now, level)
    for batch in chunked(cs_ids):
        rows = await session.scalars(
            select(EvseRow)
            .where(EvseRow.cs_id.in_(batch), visible)
            .order_by(EvseRow.cs_id, EvseRow.evse_id)
        )
        found.extend(rows)
    return found


async def get_evse(
    session: AsyncSession,
    principal: Principal,
    now: datetime,
    evse_id: str,
    level: DataSharingLevel = DataSharingLevel.EVSE,
) -> EvseRow | None:
    """The EVSE if the caller may see it at `level`."""
    statement = select(EvseRow).where(
        EvseRow.evse_id == evse_id,
        _evse_visible(principal, now, level),
    )
    return (await session.scalars(statement)).one_or_none()


async def evses_of(
    session: AsyncSession, *, site_id: str | None = None, cs_id: str | None = None
) -> list[EvseRow]:
    """Every EVSE of a site or a station (for aggregates the caller is already allowed)."""
    statement = select(EvseRow).order_by(EvseRow.evse_id)
    if site_id is not None:
        statement = statement.where(EvseRow.site_id == site_id)
    if cs_id is not None:
        statement = statement.where(EvseRow.cs_id == cs_id)
    return list(await session.scalars(statement))
