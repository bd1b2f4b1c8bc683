"""Reads and bulk writes of the station registry (sites, stations, EVSEs, EV models) for imports.

Imports can carry a hundred thousand EVSEs, so rows are read by id in chunks (a statement has a
bounded number of parameters on both backends) and written with executemany. The caller holds the
transaction; `lock_registry` serialises imports across replicas on PostgreSQL (SQLite already
serialises writers with `BEGIN IMMEDIATE`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, delete, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from fcsbe.server.storage.infrastructure import (
    ChargingStationRow,
    EvModelRow,
    EvseRow,
    EvSessionRow,
    SiteRow,
)

__all__ = [
    "REGISTRY_LOCK",
    "chunked",
    "delete_evses",
    "evses_with_sessions",
    "insert_rows",
    "load_ev_models",
    "load_evses",
    "load_evses_of_stations",
    "load_sites",
    "load_stations",
    "lock_registry",
    "rows_where_in",
    "station_evse_counts",
    "stations_on_sites",
    "update_rows",
]

REGISTRY_LOCK = 63382_0005
"""PostgreSQL advisory-lock id held by a registry import for its transaction."""

CHUNK = 500
T = TypeVar("T")
R = TypeVar("R")


def chunked(values: Iterable[T], size: int = CHUNK) -> Iterable[list[T]]:
    """Consecutive lists of at most `size` values."""
    batch: list[T] = []
    for value in values:
        batch.append(value)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


async def lock_registry(session: AsyncSession) -> None:
    """Take the import lock until the end of the transaction (PostgreSQL only)."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(
            text("SELECT pg_advisory_xact_lock(:lock_id)"), {"lock_id": REGISTRY_LOCK}
        )


async def rows_where_in(
    session: AsyncSession,
    row: type[R],
    column: InstrumentedAttribute[str],
    values: Iterable[str],
    *conditions: ColumnElement[bool],
) -> list[R]:
    """Stored `row`s whose `column` is one of `values` (and that meet `conditions`), read in
    chunks: a statement has a bounded number of parameters."""
    found: list[R] = []
    for batch in chunked(set(values)):
        found.extend(await session.scalars(select(row).where(column.in_(batch), *conditions)))
    return found


async def load_sites(session: AsyncSession, site_ids: Iterable[str]) -> dict[str, SiteRow]:
    """Stored sites among `site_ids`, by id."""
    rows = await rows_where_in(session, SiteRow, SiteRow.site_id, site_ids)
    return {row.site_id: row for row in rows}


async def load_stations(
    session: AsyncSession, cs_ids: Iterable[str]
) -> dict[str, ChargingStationRow]:
    """Stored charging stations among `cs_ids`, by id."""
    rows = await rows_where_in(session, ChargingStationRow, ChargingStationRow.cs_id, cs_ids)
    return {row.cs_id: row for row in rows}


async def load_evses(session: AsyncSession, evse_ids: Iterable[str]) -> dict[str, EvseRow]:
    """Stored EVSEs among `evse_ids`, by id."""
    rows = await rows_where_in(session, EvseRow, EvseRow.evse_id, evse_ids)
    return {row.evse_id: row for row in rows}


async def load_evses_of_stations(
    session: AsyncSession, cs_ids: Iterable[str]
) -> dict[str, EvseRow]:
    """Stored EVSEs of the stations `cs_ids`, by EVSE id."""
    rows = await rows_where_in(session, EvseRow, EvseRow.cs_id, cs_ids)
    return {row.evse_id: row for row in rows}


async def load_ev_models(session: AsyncSession, ids: Iterable[str]) -> dict[str, EvModelRow]:
    """Stored EV models among `ids`, by id."""
    rows = await rows_where_in(session, EvModelRow, EvModelRow.ev_model_id, ids)
    return {row.ev_model_id: row for row in rows}


async def stations_on_sites(
    session: AsyncSession, site_ids: Iterable[str]
) -> list[ChargingStationRow]:
    """Every stored station standing on one of `site_ids`."""
    return await rows_where_in(session, ChargingStationRow, ChargingStationRow.site_id, site_ids)


async def station_evse_counts(session: AsyncSession, cs_ids: Iterable[str]) -> dict[str, int]:
    """How many EVSEs each stored station has."""
    counts: dict[str, int] = {}
    for batch in chunked(set(cs_ids)):
        result = await session.execute(
            select(EvseRow.cs_id, func.count())
            .where(EvseRow.cs_id.in_(batch))
            .group_by(EvseRow.cs_id)
        )
        counts.update((cs_id, int(count)) for cs_id, count in result)
    return counts


async def evses_with_sessions(session: AsyncSession, evse_ids: Iterable[str]) -> set[str]:
    """Those of `evse_ids` that EV sessions refer to (they cannot be removed)."""
    found: set[str] = set()
    for batch in chunked(set(evse_ids)):
        rows = await session.scalars(
            select(EvSessionRow.evse_id).where(EvSessionRow.evse_id.in_(batch)).distinct()
        )
        found.update(rows)
    return found


async def insert_rows(
    session: AsyncSession, table: type[Any], rows: Sequence[dict[str, Any]]
) -> None:
    """Insert many rows of one table (executemany)."""
    for batch in chunked(rows, 1000):
        await session.execute(insert(table), batch)


async def update_rows(
    session: AsyncSession, table: type[Any], rows: Sequence[dict[str, Any]]
) -> None:
    """Update many rows of one table by primary key (executemany)."""
    for batch in chunked(rows, 1000):
        await session.execute(update(table), batch)


async def delete_evses(session: AsyncSession, evse_ids: Iterable[str]) -> None:
    """Delete EVSEs (the caller checked that no session refers to them)."""
    for batch in chunked(set(evse_ids)):
        await session.execute(delete(EvseRow).where(EvseRow.evse_id.in_(batch)))
