"""Tables of flexibility services (FS), their targets and their lifecycle transitions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    ForeignKey,
    Index,
    String,
    UniqueConstraint,
    delete,
    func,
    insert,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from fcsbe.server.storage.base import Base
from fcsbe.server.storage.contracts import ContractRow

__all__ = [
    "FlexibilityServiceRow",
    "FsTargetRow",
    "FsTransitionRow",
    "due_fs",
    "fs_of_type_in_state_serving",
    "fs_requires_signature",
    "last_transition_at",
    "next_due_at",
    "running_fs_of_type",
    "undated_accepted_fs",
]


class FlexibilityServiceRow(Base):
    """One FS (current revision) with the request and the decision as documents."""

    __tablename__ = "flexibility_services"
    __table_args__ = (
        UniqueConstraint("fo_party_id", "fs_id"),
        Index("ix_flexibility_services_state", "state"),
        Index("ix_flexibility_services_due_at", "due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    fo_party_id: Mapped[str] = mapped_column(ForeignKey("parties.party_id"))
    fs_id: Mapped[str] = mapped_column(String(128))
    revision: Mapped[int]
    contract_id: Mapped[int | None] = mapped_column(ForeignKey("contracts.id"))
    fs_type: Mapped[str] = mapped_column(String(24))
    state: Mapped[str] = mapped_column(String(24))
    window_start: Mapped[datetime]
    window_end: Mapped[datetime]
    response_deadline: Mapped[datetime]
    committed_w: Mapped[float | None]
    request: Mapped[dict[str, Any]]
    response: Mapped[dict[str, Any] | None]
    execution: Mapped[dict[str, Any] | None]
    correlation_id: Mapped[str | None] = mapped_column(String(128))
    """The FO's `X-Correlation-ID` of the current revision, carried into the decision."""
    due_at: Mapped[datetime | None]
    """When the execution step must next look at this FS (None: nothing left to do there).
    The step finds its work by this indexed column, earliest first, so FS accepted for later
    never crowd out one that is due now."""
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class FsTargetRow(Base):
    """One EVSE of an FS with the import and export power committed on it (capacity checks)."""

    __tablename__ = "fs_targets"
    __table_args__ = (Index("ix_fs_targets_target_id", "target_id"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    fs_pk: Mapped[int] = mapped_column(ForeignKey("flexibility_services.id", ondelete="CASCADE"))
    level: Mapped[str] = mapped_column(String(16))
    target_id: Mapped[str] = mapped_column(String(128))
    committed_w: Mapped[float | None]
    committed_export_w: Mapped[float | None]


class FsTransitionRow(Base):
    """A lifecycle transition of an FS, kept forever with its time and reason."""

    __tablename__ = "fs_transitions"
    __table_args__ = (Index("ix_fs_transitions_fs_pk", "fs_pk"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    fs_pk: Mapped[int] = mapped_column(ForeignKey("flexibility_services.id", ondelete="CASCADE"))
    revision: Mapped[int]
    from_state: Mapped[str | None] = mapped_column(String(24))
    to_state: Mapped[str] = mapped_column(String(24))
    at: Mapped[datetime]
    reason: Mapped[str | None] = mapped_column(String(500))


async def get_fs(
    session: AsyncSession, party_id: str, fs_id: str, *, for_update: bool = False
) -> FlexibilityServiceRow | None:
    """One FS of one party (None for other parties' ids: they answer 404)."""
    statement = select(FlexibilityServiceRow).where(
        FlexibilityServiceRow.fo_party_id == party_id, FlexibilityServiceRow.fs_id == fs_id
    )
    if for_update:
        statement = statement.with_for_update()
    return (await session.execute(statement)).scalar_one_or_none()


async def list_fs(
    session: AsyncSession,
    party_id: str | None,
    *,
    after_id: int | None,
    limit: int,
    state: str | None = None,
    fs_type: str | None = None,
) -> list[FlexibilityServiceRow]:
    """A page of FS in creation order; `party_id=None` lists every party's (operator)."""
    statement = select(FlexibilityServiceRow).order_by(FlexibilityServiceRow.id).limit(limit)
    if party_id is not None:
        statement = statement.where(FlexibilityServiceRow.fo_party_id == party_id)
    if after_id is not None:
        statement = statement.where(FlexibilityServiceRow.id > after_id)
    if state is not None:
        statement = statement.where(FlexibilityServiceRow.state == state)
    if fs_type is not None:
        statement = statement.where(FlexibilityServiceRow.fs_type == fs_type)
    return list((await session.execute(statement)).scalars().all())


async def transitions_of(session: AsyncSession, fs_pk: int) -> list[FsTransitionRow]:
    """Every transition of an FS (all revisions), oldest first."""
    statement = (
        select(FsTransitionRow).where(FsTransitionRow.fs_pk == fs_pk).order_by(FsTransitionRow.id)
    )
    return list((await session.execute(statement)).scalars().all())


async def transitions_of_many(
    session: AsyncSession, fs_pks: list[int]
) -> dict[int, list[FsTransitionRow]]:
    """Every transition of each of these FS, oldest first, in one query (a page of FS)."""
    found: dict[int, list[FsTransitionRow]] = {pk: [] for pk in fs_pks}
    if not fs_pks:
        return found
    statement = (
        select(FsTransitionRow)
        .where(FsTransitionRow.fs_pk.in_(fs_pks))
        .order_by(FsTransitionRow.id)
    )
    for row in (await session.execute(statement)).scalars():
        found[row.fs_pk].append(row)
    return found


async def committed_by_target(
    session: AsyncSession,
    target_ids: list[str],
    start: datetime,
    end: datetime,
    live_states: frozenset[str],
    exclude_fs_pk: int | None = None,
) -> dict[str, list[tuple[int, str, float, float]]]:
    """Per target: (fs_pk, fs_type, import W, export W) committed by live FS overlapping."""
    if not target_ids:
        return {}
    statement = (
        select(
            FsTargetRow.target_id,
            FsTargetRow.fs_pk,
            FlexibilityServiceRow.fs_type,
            FsTargetRow.committed_w,
            FsTargetRow.committed_export_w,
        )
        .join(FlexibilityServiceRow, FlexibilityServiceRow.id == FsTargetRow.fs_pk)
        .where(
            FsTargetRow.target_id.in_(target_ids),
            FlexibilityServiceRow.state.in_(sorted(live_states)),
            FlexibilityServiceRow.window_start < end,
            FlexibilityServiceRow.window_end > start,
        )
    )
    if exclude_fs_pk is not None:
        statement = statement.where(FsTargetRow.fs_pk != exclude_fs_pk)
    found: dict[str, list[tuple[int, str, float, float]]] = {}
    for target_id, fs_pk, fs_type, imp, exp in (await session.execute(statement)).all():
        found.setdefault(target_id, []).append((fs_pk, fs_type, float(imp or 0), float(exp or 0)))
    return found


async def replace_targets(
    session: AsyncSession, fs_pk: int, shares: dict[str, tuple[float, float]]
) -> None:
    """Set the EVSE rows of an FS: evse id -> (committed import W, committed export W)."""
    await session.execute(delete(FsTargetRow).where(FsTargetRow.fs_pk == fs_pk))
    if shares:
        await session.execute(
            insert(FsTargetRow),
            [
                {
                    "fs_pk": fs_pk,
                    "level": "EVSE",
                    "target_id": evse_id,
                    "committed_w": imp,
                    "committed_export_w": exp,
                }
                for evse_id, (imp, exp) in shares.items()
            ],
        )


async def fs_evse_shares(
    session: AsyncSession, fs_pk: int
) -> list[tuple[str, str, float, float, float]]:
    """(evse id, site id, committed import W, committed export W, minimum charge W) per EVSE."""
    from fcsbe.server.storage.infrastructure import EvseRow

    rows = await session.execute(
        select(
            FsTargetRow.target_id,
            EvseRow.site_id,
            FsTargetRow.committed_w,
            FsTargetRow.committed_export_w,
            EvseRow.data,
        )
        .join(EvseRow, EvseRow.evse_id == FsTargetRow.target_id)
        .where(FsTargetRow.fs_pk == fs_pk)
    )
    return [
        (e, site, float(i or 0.0), float(x or 0.0), float(doc.get("min_charge_power_w") or 0.0))
        for e, site, i, x, doc in rows.all()
    ]


async def fs_evse_meters(session: AsyncSession, fs_pk: int) -> dict[str, dict[str, Any]]:
    """The registered document of each EVSE of an FS (its `meter` is what the record cites)."""
    from fcsbe.server.storage.infrastructure import EvseRow

    rows = await session.execute(
        select(FsTargetRow.target_id, EvseRow.data)
        .join(EvseRow, EvseRow.evse_id == FsTargetRow.target_id)
        .where(FsTargetRow.fs_pk == fs_pk)
    )
    return {evse_id: dict(doc) for evse_id, doc in rows.all()}


async def live_evse_ids(session: AsyncSession, live_states: frozenset[str]) -> set[str]:
    """EVSEs that serve an FS in one of `live_states` (telemetry keeps their readings)."""
    rows = await session.execute(
        select(FsTargetRow.target_id)
        .join(FlexibilityServiceRow, FlexibilityServiceRow.id == FsTargetRow.fs_pk)
        .where(FlexibilityServiceRow.state.in_(sorted(live_states)))
        .distinct()
    )
    return set(rows.scalars())


async def live_site_ids(session: AsyncSession, live_states: frozenset[str]) -> set[str]:
    """Sites of the EVSEs that serve an FS in one of `live_states` (telemetry keeps their
    point-of-connection readings: congestion and V2H are judged there)."""
    from fcsbe.server.storage.infrastructure import EvseRow

    rows = await session.execute(
        select(EvseRow.site_id)
        .join(FsTargetRow, FsTargetRow.target_id == EvseRow.evse_id)
        .join(FlexibilityServiceRow, FlexibilityServiceRow.id == FsTargetRow.fs_pk)
        .where(FlexibilityServiceRow.state.in_(sorted(live_states)))
        .distinct()
    )
    return set(rows.scalars())


async def fs_requires_signature(session: AsyncSession, fo_party_id: str, fs_id: str) -> bool:
    """Whether the contract of the FO's FS `fs_id` requires signed requests (False when there
    is no such FS): cancellations, activations and updates of an existing FS ask it."""
    statement = (
        select(ContractRow.signature_required)
        .join(FlexibilityServiceRow, FlexibilityServiceRow.contract_id == ContractRow.id)
        .where(
            FlexibilityServiceRow.fo_party_id == fo_party_id,
            FlexibilityServiceRow.fs_id == fs_id,
        )
    )
    return bool((await session.execute(statement)).scalars().first())


async def fs_of_type_in_state_serving(
    session: AsyncSession, fs_type: str, state: str, target_ids: set[str]
) -> list[FlexibilityServiceRow]:
    """The FS of `fs_type` in `state` with a target among `target_ids`, each once (telemetry
    moves the ARMED FFR FS whose EVSEs reported an activation)."""
    rows = await session.execute(
        select(FlexibilityServiceRow)
        .join(FsTargetRow, FsTargetRow.fs_pk == FlexibilityServiceRow.id)
        .where(
            FlexibilityServiceRow.fs_type == fs_type,
            FlexibilityServiceRow.state == state,
            FsTargetRow.target_id.in_(sorted(target_ids)),
        )
        .distinct()
    )
    return list(rows.scalars().all())


async def due_fs(session: AsyncSession, now: datetime, limit: int) -> list[FlexibilityServiceRow]:
    """FS whose `due_at` has passed, earliest due first (the execution step's work).

    An index range scan on `due_at`: however many FS wait for later, the due ones come first.
    On PostgreSQL the rows are locked and rows another replica holds are passed by.
    """
    statement = (
        select(FlexibilityServiceRow)
        .where(FlexibilityServiceRow.due_at <= now)
        .order_by(FlexibilityServiceRow.due_at, FlexibilityServiceRow.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        statement = statement.with_for_update(skip_locked=True)
    return list((await session.execute(statement)).scalars().all())


async def next_due_at(session: AsyncSession) -> datetime | None:
    """The earliest `due_at` of any FS (None: no FS waits for the execution step): when the
    step has work next, read from the end of the `due_at` index."""
    earliest = select(func.min(FlexibilityServiceRow.due_at))
    due: datetime | None = (await session.execute(earliest)).scalar_one_or_none()
    return due


async def undated_accepted_fs(
    session: AsyncSession, states: frozenset[str], limit: int
) -> list[FlexibilityServiceRow]:
    """Accepted FS not yet scheduled, the nearest window first: bookkeeping the step does with
    what is left of its batch once the due work is done."""
    statement = (
        select(FlexibilityServiceRow)
        .where(FlexibilityServiceRow.state.in_(sorted(states)))
        .order_by(FlexibilityServiceRow.window_start, FlexibilityServiceRow.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        statement = statement.with_for_update(skip_locked=True)
    return list((await session.execute(statement)).scalars().all())


async def running_with_liveness(
    session: AsyncSession, states: frozenset[str], limit: int = 500, after_id: int = 0
) -> list[tuple[FlexibilityServiceRow, datetime, dict[str, Any] | None]]:
    """FS in `states` with when their FO was last heard of (its latest heartbeat, or its
    enrolment if it never sent one) and their contract's fallback terms (None: no contract),
    in id order after `after_id` (keyset paging: the caller reads every page).

    FS of an FO without an ACTIVE enrolment are left out: nothing can be heard from it. On
    PostgreSQL the FS rows are locked (SKIP LOCKED), so the step never overwrites a concurrent
    change of an FS's execution state.
    """
    from sqlalchemy import func

    from fcsbe.server.storage.parties import EnrolmentRow

    seen = (
        select(
            EnrolmentRow.fo_party_id.label("party_id"),
            func.max(func.coalesce(EnrolmentRow.last_heartbeat_at, EnrolmentRow.created_at)).label(
                "last_seen"
            ),
        )
        .where(EnrolmentRow.status == "ACTIVE")
        .group_by(EnrolmentRow.fo_party_id)
        .subquery()
    )
    statement = (
        select(FlexibilityServiceRow, seen.c.last_seen, ContractRow.terms)
        .join(seen, seen.c.party_id == FlexibilityServiceRow.fo_party_id)
        .outerjoin(ContractRow, ContractRow.id == FlexibilityServiceRow.contract_id)
        .where(FlexibilityServiceRow.state.in_(sorted(states)), FlexibilityServiceRow.id > after_id)
        .order_by(FlexibilityServiceRow.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        # as the execution step: an FS another replica (or step) is changing is taken next time
        statement = statement.with_for_update(skip_locked=True, of=FlexibilityServiceRow)
    rows = (await session.execute(statement)).all()
    return [(fs, last_seen, (terms or {}).get("fallback")) for fs, last_seen, terms in rows]


async def running_fs_of_type(
    session: AsyncSession, fs_type: str, *, skip_locked: bool = False
) -> list[FlexibilityServiceRow]:
    """The ACTIVE FS of one type; `skip_locked` leaves out (on PostgreSQL) the rows another
    transaction holds, for a step that must not wait behind the executor."""
    statement = select(FlexibilityServiceRow).where(
        FlexibilityServiceRow.fs_type == fs_type,
        FlexibilityServiceRow.state == "ACTIVE",
    )
    if skip_locked and session.get_bind().dialect.name == "postgresql":
        statement = statement.with_for_update(skip_locked=True)
    return list((await session.execute(statement)).scalars().all())


async def last_transition_at(session: AsyncSession, fs_pk: int) -> datetime | None:
    """When the FS last moved (any revision), or None."""
    latest: datetime | None = await session.scalar(
        select(func.max(FsTransitionRow.at)).where(FsTransitionRow.fs_pk == fs_pk)
    )
    return latest
