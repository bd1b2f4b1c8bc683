"""Queries over the registry that the FS decision needs: target expansion, scope, locks.

Targets are expanded to EVSEs (SITE → its EVSEs, CS → its EVSEs, SESSION → the EVSE it is
connected to), because capacity is held and executed per EVSE.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from fcsbe.server.storage.contracts import ContractTargetRow
from fcsbe.server.storage.infrastructure import (
    ChargingStationRow,
    ConsentRow,
    EvseRow,
    EvSessionRow,
    SiteRow,
)

__all__ = [
    "EvseFacts",
    "contract_scope",
    "evse_facts",
    "expand_targets",
    "lock_evses",
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


async def evse_facts(session: AsyncSession, evse_ids: list[str]) -> dict[str, EvseFacts]:
    """Registry documents, grid state and the connected session of each EVSE."""
    if not evse_ids:
        return {}
    rows = await session.execute(
        select(EvseRow, ChargingStationRow.data, SiteRow.grid_state)
        .join(ChargingStationRow, ChargingStationRow.cs_id == EvseRow.cs_id)
        .join(SiteRow, SiteRow.site_id == EvseRow.site_id)
        .where(EvseRow.evse_id.in_(evse_ids))
    )
    sessions: dict[str, tuple[EvSessionRow, bool | None]] = {}
    session_rows = await session.execute(
        select(EvSessionRow, ConsentRow)
        .outerjoin(ConsentRow, ConsentRow.consent_id == EvSessionRow.consent_id)
        .where(EvSessionRow.evse_id.in_(evse_ids), EvSessionRow.disconnected_at.is_(None))
    )
    for row_session, consent in session_rows.all():
        v2g: bool | None = None
        if consent is not None:
            v2g = consent.withdrawn_at is None and "V2G" in consent.scope
        sessions[row_session.evse_id] = (row_session, v2g)
    facts = {}
    for evse, station_doc, grid_state in rows.all():
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
        )
    return facts
