"""Set-based reads and writes of a batch of FS decisions.

A decision reads the contract, its scope and its activations that day, the EVSEs its targets
stand for, what other live FS hold on their sites over its window, and the sites' connection
limits; it writes the FS's EVSE shares, its declared baseline and its transition. Read one FS
at a time, a batch of 50 costs over a thousand round trips; these functions read what the whole
batch needs in a fixed number of queries (chunked for very long id lists) and write its results
with one executemany per table, so the decision itself runs in memory.

Each function returns exactly what its per-FS counterpart in `fleet` and `flexibility_services`
returns for the same rows, so a batch decides as the FS would one by one.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, delete, func, insert, literal, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from fcsbe.server.storage.contracts import ContractRow, ContractTargetRow
from fcsbe.server.storage.event_log import EventLogRow
from fcsbe.server.storage.flexibility_services import (
    FlexibilityServiceRow,
    FsTargetRow,
    FsTransitionRow,
)
from fcsbe.server.storage.infrastructure import EvseRow, EvSessionRow
from fcsbe.server.storage.notifications import OutboxRow
from fcsbe.server.storage.records import FsBaselineRow
from fcsbe.server.storage.registry import chunked

__all__ = [
    "ActivationDay",
    "Hold",
    "activations_on_days",
    "contract_scopes",
    "contracts_by_id",
    "declared_baselines",
    "expand_targets_many",
    "insert_rows",
    "last_transitions",
    "live_holds",
    "replace_targets_many",
]

_LEVEL_COLUMNS = {"EVSE": EvseRow.evse_id, "CS": EvseRow.cs_id, "SITE": EvseRow.site_id}


async def expand_targets_many(
    session: AsyncSession, targets: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], list[str]]:
    """`fleet.expand_targets` for many targets at once: (level, id) → EVSE ids (sorted for
    EVSE, CS and SITE targets; an unknown target maps to an empty list)."""
    wanted = sorted(set(targets))
    expanded: dict[tuple[str, str], list[str]] = {t: [] for t in wanted}
    by_level: dict[str, list[str]] = {}
    for level, target_id in wanted:
        by_level.setdefault(level if level in _LEVEL_COLUMNS else "SESSION", []).append(target_id)
    registry = [(level, ids) for level, ids in by_level.items() if level in _LEVEL_COLUMNS]
    for level, ids in registry:
        for batch in chunked(ids):
            rows = await session.execute(
                select(EvseRow.evse_id, EvseRow.cs_id, EvseRow.site_id)
                .where(_LEVEL_COLUMNS[level].in_(batch))
                .order_by(EvseRow.evse_id)
            )
            for evse_id, cs_id, site_id in rows.all():
                key = {"EVSE": evse_id, "CS": cs_id, "SITE": site_id}[level]
                expanded[(level, key)].append(evse_id)
    sessions = [(level, t) for level, t in wanted if level not in _LEVEL_COLUMNS]
    for batch in chunked(sorted({t for _, t in sessions})):
        connected = await session.execute(
            select(EvSessionRow.session_ref, EvSessionRow.evse_id).where(
                EvSessionRow.session_ref.in_(batch), EvSessionRow.disconnected_at.is_(None)
            )
        )
        found: dict[str, list[str]] = {}
        for ref, evse_id in connected.all():
            found.setdefault(ref, []).append(evse_id)
        for level, ref in sessions:
            if ref in batch:
                expanded[(level, ref)] = list(found.get(ref, []))
    return expanded


async def contracts_by_id(session: AsyncSession, pks: Collection[int]) -> dict[int, ContractRow]:
    """The contracts with these ids (a missing one is absent)."""
    found: dict[int, ContractRow] = {}
    for batch in chunked(sorted(set(pks))):
        rows = await session.scalars(select(ContractRow).where(ContractRow.id.in_(batch)))
        found.update({row.id: row for row in rows})
    return found


async def contract_scopes(
    session: AsyncSession, contract_pks: Collection[int]
) -> dict[int, set[tuple[str, str]]]:
    """`fleet.contract_scope` of several contracts: contract id → its (level, id) pairs."""
    scopes: dict[int, set[tuple[str, str]]] = {pk: set() for pk in contract_pks}
    for batch in chunked(sorted(set(contract_pks))):
        rows = await session.execute(
            select(
                ContractTargetRow.contract_id, ContractTargetRow.level, ContractTargetRow.target_id
            ).where(ContractTargetRow.contract_id.in_(batch))
        )
        for contract_pk, level, target_id in rows.all():
            scopes[contract_pk].add((level, target_id))
    return scopes


@dataclass(frozen=True, slots=True)
class ActivationDay:
    """FS of one type under one contract whose window starts within one day."""

    contract_pk: int
    fs_type: str
    day_start: datetime


async def activations_on_days(
    session: AsyncSession, days: Collection[ActivationDay], states: Collection[str]
) -> dict[ActivationDay, int]:
    """How many FS in `states` each `ActivationDay` counts (one UNION ALL of counts)."""
    counts: dict[ActivationDay, int] = {}
    ordered = sorted(set(days), key=lambda d: (d.contract_pk, d.fs_type, d.day_start))
    for batch in chunked(ordered, 100):  # SQLite caps a compound SELECT at 500 terms
        parts = [
            select(literal(n).label("n"), func.count().label("c")).where(
                FlexibilityServiceRow.contract_id == day.contract_pk,
                FlexibilityServiceRow.fs_type == day.fs_type,
                FlexibilityServiceRow.window_start >= day.day_start,
                FlexibilityServiceRow.window_start < day.day_start + timedelta(days=1),
                FlexibilityServiceRow.state.in_(sorted(states)),
            )
            for n, day in enumerate(batch)
        ]
        statement = parts[0] if len(parts) == 1 else union_all(*parts)
        for n, count in (await session.execute(statement)).all():
            counts[batch[int(n)]] = int(count or 0)
    return counts


@dataclass(frozen=True, slots=True)
class Hold:
    """What one live FS holds on one EVSE over its window."""

    target_id: str
    fs_pk: int
    fs_type: str
    import_w: float
    export_w: float
    window_start: datetime
    window_end: datetime


async def live_holds(
    session: AsyncSession,
    target_ids: Collection[str],
    start: datetime,
    end: datetime,
    live_states: Collection[str],
) -> list[Hold]:
    """`flexibility_services.committed_by_target` over the union of a batch's windows
    ([start, end)), each hold with its FS's window so that a decision keeps the ones that
    overlap its own."""
    holds: list[Hold] = []
    for batch in chunked(sorted(set(target_ids))):
        statement = (
            select(
                FsTargetRow.target_id,
                FsTargetRow.fs_pk,
                FlexibilityServiceRow.fs_type,
                FsTargetRow.committed_w,
                FsTargetRow.committed_export_w,
                FlexibilityServiceRow.window_start,
                FlexibilityServiceRow.window_end,
            )
            .join(FlexibilityServiceRow, FlexibilityServiceRow.id == FsTargetRow.fs_pk)
            .where(
                FsTargetRow.target_id.in_(batch),
                FlexibilityServiceRow.state.in_(sorted(live_states)),
                FlexibilityServiceRow.window_start < end,
                FlexibilityServiceRow.window_end > start,
            )
        )
        for target_id, fs_pk, fs_type, imp, exp, w_start, w_end in (
            await session.execute(statement)
        ).all():
            holds.append(
                Hold(target_id, fs_pk, fs_type, float(imp or 0), float(exp or 0), w_start, w_end)
            )
    return holds


async def last_transitions(session: AsyncSession, fs_pks: Collection[int]) -> dict[int, datetime]:
    """`flexibility_services.last_transition_at` of several FS (one that never moved is
    absent)."""
    latest: dict[int, datetime] = {}
    for batch in chunked(sorted(set(fs_pks))):
        rows = await session.execute(
            select(FsTransitionRow.fs_pk, func.max(FsTransitionRow.at))
            .where(FsTransitionRow.fs_pk.in_(batch))
            .group_by(FsTransitionRow.fs_pk)
        )
        latest.update({fs_pk: at for fs_pk, at in rows.all() if at is not None})
    return latest


async def declared_baselines(
    session: AsyncSession, fs_pks: Collection[int]
) -> dict[int, FsBaselineRow]:
    """The DECLARED baseline rows already fixed for these FS (an earlier revision's)."""
    found: dict[int, FsBaselineRow] = {}
    for batch in chunked(sorted(set(fs_pks))):
        rows = await session.scalars(
            select(FsBaselineRow).where(
                FsBaselineRow.fs_pk.in_(batch), FsBaselineRow.kind == "DECLARED"
            )
        )
        found.update({row.fs_pk: row for row in rows})
    return found


async def replace_targets_many(
    session: AsyncSession, shares: Mapping[int, Mapping[str, tuple[float, float]]]
) -> None:
    """`flexibility_services.replace_targets` of several FS: one DELETE, one executemany."""
    if not shares:
        return
    for batch in chunked(list(shares)):
        await session.execute(delete(FsTargetRow).where(FsTargetRow.fs_pk.in_(batch)))
    await insert_rows(
        session,
        FsTargetRow,
        [
            {
                "fs_pk": fs_pk,
                "level": "EVSE",
                "target_id": evse_id,
                "committed_w": imp,
                "committed_export_w": exp,
            }
            for fs_pk, per_evse in shares.items()
            for evse_id, (imp, exp) in per_evse.items()
        ],
    )


_INSERTABLE = (FsTargetRow, FsTransitionRow, FsBaselineRow, EventLogRow, OutboxRow)


async def insert_rows(
    session: AsyncSession,
    row_type: type[FsTargetRow | FsTransitionRow | FsBaselineRow | EventLogRow | OutboxRow],
    rows: Sequence[Mapping[str, Any]],
) -> None:
    """Insert `rows` (column values) in their order, with one executemany."""
    if not rows:
        return
    assert row_type in _INSERTABLE
    table = row_type.__table__
    assert isinstance(table, Table)
    await session.execute(insert(table), [dict(row) for row in rows])
