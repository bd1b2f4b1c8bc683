"""Queries over the registry that the FS decision needs: target expansion, scope, locks.

Targets are expanded to EVSEs (SITE → its EVSEs, CS → its EVSEs, SESSION → the EVSE it is
connected to), because capacity is held and executed per EVSE.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from fcsbe.server.storage.contracts import ContractRow, ContractTargetRow
from fcsbe.server.storage.infrastructure import (
    ChargingStationRow,
    ConsentRow,
    EvseRow,
    EvSessionRow,
    SiteRow,
)
from fcsbe.server.storage.ocpp_stations import StationOcppStateRow

__all__ = [
    "EvseFacts",
    "contract_scope",
    "evse_facts",
    "evse_sites",
    "expand_targets",
    "lock_contract",
    "lock_contracts",
    "lock_evses",
    "lock_sites",
    "site_bounds",
    "site_evse_ids",
]


@dataclass(frozen=True, slots=True)
class EvseFacts:
    """Everything the decision reads about one EVSE, loaded in a few queries."""

    evse_id: str
    cs_id: str
    site_id: str
    site_grid_state: str
    evse_doc: dict[str, Any]
    station_doc: dict[str, Any]
    session_ref: str | None
    session_doc: dict[str, Any] | None
    v2g_consent: bool | None
    ocpp_reported: dict[str, Any] | None = None
    """What the station reported over OCPP (`StationLimits` JSON: version, V2X, DER), if it
    ever connected."""


async def expand_targets(
    session: AsyncSession, targets: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], list[str]]:
    """(level, id) → EVSE ids; an unknown target maps to an empty list."""
    expanded: dict[tuple[str, str], list[str]] = {}
    for level, target_id in targets:
        if level == "EVSE":
            column = EvseRow.evse_id
        elif level == "CS":
            column = EvseRow.cs_id
        elif level == "SITE":
            column = EvseRow.site_id
        else:
            statement = select(EvSessionRow.evse_id).where(
                EvSessionRow.session_ref == target_id, EvSessionRow.disconnected_at.is_(None)
            )
            expanded[(level, target_id)] = list((await session.execute(statement)).scalars())
            continue
        rows = await session.execute(
            select(EvseRow.evse_id).where(column == target_id).order_by(EvseRow.evse_id)
        )
        expanded[(level, target_id)] = list(rows.scalars())
    return expanded


async def contract_scope(session: AsyncSession, contract_pk: int) -> set[tuple[str, str]]:
    """(level, id) pairs in the scope of a contract."""
    rows = await session.execute(
        select(ContractTargetRow.level, ContractTargetRow.target_id).where(
            ContractTargetRow.contract_id == contract_pk
        )
    )
    return {(level, target_id) for level, target_id in rows.all()}


async def lock_contract(session: AsyncSession, contract_pk: int) -> None:
    """Serialise decisions under one contract (its caps, activations per day, hold for every
    decider at once). PostgreSQL: a row lock, taken first; SQLite: the write lock."""
    if session.get_bind().dialect.name != "postgresql":
        return
    await session.execute(
        select(ContractRow.id).where(ContractRow.id == contract_pk).with_for_update()
    )


async def lock_contracts(session: AsyncSession, contract_pks: Iterable[int]) -> None:
    """`lock_contract` for several contracts, in id order (a batch of decisions takes every
    lock it needs up front, in the one fixed order: contracts, sites, EVSEs)."""
    ids = sorted(set(contract_pks))
    if session.get_bind().dialect.name != "postgresql" or not ids:
        return
    await session.execute(
        select(ContractRow.id)
        .where(ContractRow.id.in_(ids))
        .order_by(ContractRow.id)
        .with_for_update()
    )


async def evse_sites(session: AsyncSession, evse_ids: Iterable[str]) -> list[str]:
    """The sites of these EVSEs, sorted."""
    ids = sorted(set(evse_ids))
    if not ids:
        return []
    rows = await session.execute(select(EvseRow.site_id).where(EvseRow.evse_id.in_(ids)).distinct())
    return sorted(rows.scalars())


async def lock_evses(session: AsyncSession, evse_ids: list[str]) -> None:
    """Serialise decisions that touch the same EVSEs (row locks, in a fixed order).

    On SQLite every write transaction already holds the database lock (BEGIN IMMEDIATE).
    """
    if session.get_bind().dialect.name != "postgresql" or not evse_ids:
        return
    await session.execute(
        select(EvseRow.evse_id)
        .where(EvseRow.evse_id.in_(sorted(evse_ids)))
        .order_by(EvseRow.evse_id)
        .with_for_update()
    )


async def lock_sites(session: AsyncSession, site_ids: Iterable[str]) -> None:
    """Serialise work on the same sites (row locks in a fixed order; SQLite: the write lock)."""
    ids = sorted(set(site_ids))
    if session.get_bind().dialect.name != "postgresql" or not ids:
        return
    await session.execute(
        select(SiteRow.site_id)
        .where(SiteRow.site_id.in_(ids))
        .order_by(SiteRow.site_id)
        .with_for_update()
    )


async def site_bounds(
    session: AsyncSession, site_ids: Iterable[str]
) -> dict[str, tuple[float, float]]:
    """site id → (import limit W, export limit W) of its grid connection (inf when unknown)."""
    ids = sorted(set(site_ids))
    if not ids:
        return {}
    statement = select(SiteRow.site_id, SiteRow.data).where(SiteRow.site_id.in_(ids))
    rows = await session.execute(statement)
    found: dict[str, tuple[float, float]] = {}
    for site_id, data in rows.all():
        connection = (data or {}).get("grid_connection") or {}
        imp, exp = connection.get("import_limit_w"), connection.get("export_limit_w")
        found[site_id] = (
            math.inf if imp is None else float(imp),
            math.inf if exp is None else float(exp),
        )
    return found


async def site_evse_ids(session: AsyncSession, site_ids: Iterable[str]) -> dict[str, str]:
    """evse id → site id of every EVSE of the sites (what a site's connection is shared by)."""
    ids = sorted(set(site_ids))
    if not ids:
        return {}
    rows = await session.execute(
        select(EvseRow.evse_id, EvseRow.site_id).where(EvseRow.site_id.in_(ids))
    )
    return {str(row[0]): str(row[1]) for row in rows.all()}


async def evse_facts(session: AsyncSession, evse_ids: list[str]) -> dict[str, EvseFacts]:
    """Registry documents, grid state and the connected session of each EVSE."""
    if not evse_ids:
        return {}
    rows = await session.execute(
        select(EvseRow, ChargingStationRow.data, SiteRow.grid_state, StationOcppStateRow.limits)
        .join(ChargingStationRow, ChargingStationRow.cs_id == EvseRow.cs_id)
        .join(SiteRow, SiteRow.site_id == EvseRow.site_id)
        .outerjoin(StationOcppStateRow, StationOcppStateRow.cs_id == EvseRow.cs_id)
        .where(EvseRow.evse_id.in_(evse_ids))
        .order_by(EvseRow.evse_id)  # one order for one FS or a batch: the same sums
    )
    sessions: dict[str, tuple[EvSessionRow, bool | None]] = {}
    session_rows = await session.execute(
        select(EvSessionRow, ConsentRow)
        .outerjoin(ConsentRow, ConsentRow.consent_id == EvSessionRow.consent_id)
        .where(EvSessionRow.evse_id.in_(evse_ids), EvSessionRow.disconnected_at.is_(None))
        .order_by(EvSessionRow.connected_at)  # several open: the latest, whatever is asked
    )
    for row_session, consent in session_rows.all():
        v2g: bool | None = None
        if consent is not None:
            v2g = consent.withdrawn_at is None and "V2G" in consent.scope
        sessions[row_session.evse_id] = (row_session, v2g)
    facts = {}
    for evse, station_doc, grid_state, reported in rows.all():
        found = sessions.get(evse.evse_id)
        ev_session = found[0] if found else None
        v2g = found[1] if found else None
        facts[evse.evse_id] = EvseFacts(
            evse_id=evse.evse_id,
            cs_id=evse.cs_id,
            site_id=evse.site_id,
            site_grid_state=grid_state,
            evse_doc=evse.data,
            station_doc=station_doc,
            session_ref=ev_session.session_ref if ev_session else None,
            session_doc=ev_session.data if ev_session else None,
            v2g_consent=v2g,
            ocpp_reported=reported or None,
        )
    return facts
