"""Tables of the transactional outbox and of its delivery log.

`OutboxRow` is one notification to one FO, written with the change that caused it. Its `id`
is assigned at INSERT, but transactions commit out of order, so `id` is not a safe feed
position: a sequencer later gives committed rows a per-FO, gap-free `seq` in a serialised
transaction, and only sequenced rows are delivered or served by the feed. The delivery worker
claims due rows with a lease (`lease_until`, `lease_owner`); every attempt is logged in
`DeliveryAttemptRow`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    and_,
    bindparam,
    delete,
    func,
    not_,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from fcsbe.server.storage.base import Base

__all__ = [
    "DeliveryAttemptRow",
    "OutboxRow",
    "attempts_of",
    "due_rows",
    "feed_rows",
    "last_seq_by_party",
    "list_rows",
    "make_due",
    "oldest_seq",
    "purge_settled",
    "row_by_notification_id",
    "set_seqs",
    "settle_leased",
    "unsequenced",
]


class OutboxRow(Base):
    """One notification to one FO, with its delivery state."""

    __tablename__ = "outbox"
    __table_args__ = (
        UniqueConstraint("notification_id"),
        UniqueConstraint("fo_party_id", "seq", name="uq_outbox_fo_party_id_seq"),
        Index("ix_outbox_due", "status", "next_attempt_at"),
        Index("ix_outbox_party_seq", "fo_party_id", "id"),
        Index(
            "ix_outbox_unsequenced",
            "id",
            sqlite_where=text("seq IS NULL"),
            postgresql_where=text("seq IS NULL"),
        ),
    )

    # Insertion order. INTEGER on SQLite (rowid), BIGINT elsewhere.
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    notification_id: Mapped[str] = mapped_column(String(64))
    fo_party_id: Mapped[str] = mapped_column(String(128))
    # The FO's feed position: gap-free per FO, in commit order; NULL until sequenced.
    seq: Mapped[int | None] = mapped_column(BigInteger)
    type: Mapped[str] = mapped_column(String(32))
    fs_id: Mapped[str | None] = mapped_column(String(128))
    payload: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime]
    lease_until: Mapped[datetime | None]
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    first_attempt_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    delivered_at: Mapped[datetime | None]


class DeliveryAttemptRow(Base):
    """One push attempt of one notification: when, where, and what came of it."""

    __tablename__ = "notification_deliveries"
    __table_args__ = (Index("ix_notification_deliveries_outbox_id", "outbox_id", "attempt"),)

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    outbox_id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"),
        ForeignKey("outbox.id", ondelete="CASCADE"),
    )
    notification_id: Mapped[str] = mapped_column(String(64))
    fo_party_id: Mapped[str] = mapped_column(String(128))
    attempt: Mapped[int]
    attempted_at: Mapped[datetime]
    url: Mapped[str] = mapped_column(String(2048))
    outcome: Mapped[str] = mapped_column(String(16))
    status_code: Mapped[int | None]
    duration_ms: Mapped[int]
    error: Mapped[str | None] = mapped_column(Text)


async def feed_rows(
    session: AsyncSession, fo_party_id: str, after_seq: int, limit: int
) -> Sequence[OutboxRow]:
    """Sequenced notifications of one FO after `after_seq`, in feed order."""
    query = (
        select(OutboxRow)
        .where(OutboxRow.fo_party_id == fo_party_id, OutboxRow.seq > after_seq)
        .order_by(OutboxRow.seq)
        .limit(limit)
    )
    return (await session.execute(query)).scalars().all()


async def list_rows(
    session: AsyncSession,
    *,
    after_id: int,
    limit: int,
    status: str | None = None,
    fo_party_id: str | None = None,
) -> Sequence[OutboxRow]:
    """Outbox rows in insertion order, optionally in one state or for one FO (operator view)."""
    query = select(OutboxRow).where(OutboxRow.id > after_id)
    if status is not None:
        query = query.where(OutboxRow.status == status)
    if fo_party_id is not None:
        query = query.where(OutboxRow.fo_party_id == fo_party_id)
    query = query.order_by(OutboxRow.id).limit(limit)
    return (await session.execute(query)).scalars().all()


async def row_by_notification_id(session: AsyncSession, notification_id: str) -> OutboxRow | None:
    """One outbox row by its notification id."""
    query = select(OutboxRow).where(OutboxRow.notification_id == notification_id)
    return (await session.execute(query)).scalar_one_or_none()


async def attempts_of(
    session: AsyncSession, outbox_id: int, after_attempt: int, limit: int
) -> Sequence[DeliveryAttemptRow]:
    """The delivery log of one notification, oldest first."""
    query = (
        select(DeliveryAttemptRow)
        .where(
            DeliveryAttemptRow.outbox_id == outbox_id,
            DeliveryAttemptRow.attempt > after_attempt,
        )
        .order_by(DeliveryAttemptRow.attempt, DeliveryAttemptRow.id)
        .limit(limit)
    )
    return (await session.execute(query)).scalars().all()


async def make_due(
    session: AsyncSession,
    now: datetime,
    *,
    notification_ids: Sequence[str] | None = None,
    status: str | None = None,
    fo_party_id: str | None = None,
) -> int:
    """Schedule the selected rows for immediate delivery with a fresh retry window."""
    query = update(OutboxRow).values(
        status="PENDING",
        next_attempt_at=now,
        lease_until=None,
        lease_owner=None,
        first_attempt_at=None,
    )
    if notification_ids is not None:
        query = query.where(OutboxRow.notification_id.in_(list(notification_ids)))
    if status is not None:
        query = query.where(OutboxRow.status == status)
    if fo_party_id is not None:
        query = query.where(OutboxRow.fo_party_id == fo_party_id)
    result = await session.execute(query.execution_options(synchronize_session=False))
    return int(getattr(result, "rowcount", 0) or 0)


async def oldest_seq(session: AsyncSession, fo_party_id: str) -> int | None:
    """The smallest `seq` of the FO still kept (the feed's oldest position), None if none."""
    query = select(func.min(OutboxRow.seq)).where(OutboxRow.fo_party_id == fo_party_id)
    value = await session.scalar(query)
    return int(value) if value is not None else None


def _purgeable(settled_before: datetime, dead_before: datetime) -> ColumnElement[bool]:
    """Rows past their retention: delivered or parked long enough ago, or dead for long."""
    delivered_at = func.coalesce(OutboxRow.delivered_at, OutboxRow.created_at)
    return or_(
        and_(OutboxRow.status == "DELIVERED", delivered_at <= settled_before),
        and_(OutboxRow.status == "PARKED", OutboxRow.created_at <= settled_before),
        and_(OutboxRow.status == "DEAD", OutboxRow.created_at <= dead_before),
    )


async def purge_settled(
    session: AsyncSession, *, settled_before: datetime, dead_before: datetime, limit: int
) -> int:
    """Delete up to `limit` outbox rows past their retention with their delivery log, and
    delivery-log rows older than `settled_before` of settled rows kept (a pending or dead
    notification keeps its whole log); returns rows deleted.

    Per FO only a *prefix* of the feed goes: rows below the FO's oldest row that must stay
    (pending, or not yet old enough), and never its newest row, which carries the FO's `seq`
    counter. So the feed stays gap-free and starts at the oldest kept `seq`.
    """
    purgeable = _purgeable(settled_before, dead_before)
    sequenced = OutboxRow.seq.is_not(None)
    newest_rows = await session.execute(
        select(OutboxRow.fo_party_id, func.max(OutboxRow.seq))
        .where(sequenced)
        .group_by(OutboxRow.fo_party_id)
    )
    newest = dict(newest_rows.all())
    blocked_rows = await session.execute(
        select(OutboxRow.fo_party_id, func.min(OutboxRow.seq))
        .where(sequenced, not_(purgeable))
        .group_by(OutboxRow.fo_party_id)
    )
    blocked = dict(blocked_rows.all())
    deleted = 0
    for party, top in sorted(newest.items()):
        if top is None:
            continue
        stop = blocked.get(party)
        bound = min(int(top), int(stop)) if stop is not None else int(top)
        if deleted >= limit:
            break
        ids = list(
            (
                await session.execute(
                    select(OutboxRow.id)
                    .where(OutboxRow.fo_party_id == party, OutboxRow.seq < bound)
                    .order_by(OutboxRow.seq)
                    .limit(limit - deleted)
                )
            ).scalars()
        )
        if not ids:
            continue
        await session.execute(
            delete(DeliveryAttemptRow).where(DeliveryAttemptRow.outbox_id.in_(ids))
        )
        await session.execute(delete(OutboxRow).where(OutboxRow.id.in_(ids)))
        deleted += len(ids)
    unsettled = select(OutboxRow.id).where(OutboxRow.status.in_(("PENDING", "DEAD")))
    old_log = await session.execute(
        delete(DeliveryAttemptRow).where(
            DeliveryAttemptRow.attempted_at <= settled_before,
            DeliveryAttemptRow.outbox_id.not_in(unsettled),
        )
    )
    return deleted + int(getattr(old_log, "rowcount", 0) or 0)


async def unsequenced(session: AsyncSession, limit: int) -> list[tuple[int, str]]:
    """Up to `limit` rows not yet sequenced, as (id, FO party id), in insertion order: the
    sequencer numbers them in this order."""
    rows = await session.execute(
        select(OutboxRow.id, OutboxRow.fo_party_id)
        .where(OutboxRow.seq.is_(None))
        .order_by(OutboxRow.id)
        .limit(limit)
    )
    return [(row.id, row.fo_party_id) for row in rows.all()]


async def last_seq_by_party(session: AsyncSession, fo_party_ids: Sequence[str]) -> dict[str, int]:
    """The highest `seq` handed out so far to each of these FOs (absent: none yet), where the
    sequencer continues each FO's feed."""
    last = await session.execute(
        select(OutboxRow.fo_party_id, func.max(OutboxRow.seq))
        .where(OutboxRow.fo_party_id.in_(fo_party_ids), OutboxRow.seq.is_not(None))
        .group_by(OutboxRow.fo_party_id)
    )
    return {str(party): int(seq or 0) for party, seq in last.all()}


async def set_seqs(session: AsyncSession, seqs: Sequence[dict[str, int]]) -> None:
    """Give rows their feed position: `seqs` holds {"row_id": id, "seq": n} per row, written
    in one executemany statement."""
    table = OutboxRow.__table__
    assert isinstance(table, Table)
    await session.execute(
        update(table).where(table.c.id == bindparam("row_id")).values(seq=bindparam("seq")),
        seqs,
    )


async def due_rows(session: AsyncSession, now: datetime, limit: int) -> Sequence[OutboxRow]:
    """Up to `limit` sequenced PENDING rows due at `now` and not leased (or whose lease ended),
    the longest-waiting first, locked `FOR UPDATE SKIP LOCKED` (PostgreSQL), so replicas
    claiming at once take disjoint rows."""
    return (
        (
            await session.execute(
                select(OutboxRow)
                .where(
                    OutboxRow.status == "PENDING",
                    OutboxRow.next_attempt_at <= now,
                    OutboxRow.seq.is_not(None),
                    or_(OutboxRow.lease_until.is_(None), OutboxRow.lease_until <= now),
                )
                .order_by(OutboxRow.next_attempt_at, OutboxRow.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        )
        .scalars()
        .all()
    )


async def settle_leased(
    session: AsyncSession, owner: str, changes: Sequence[dict[str, Any]]
) -> None:
    """Write the outcome of attempts and end their lease, in one executemany statement:
    `changes` holds {"row_id", "status", "attempts", "next_attempt_at", "delivered_at",
    "last_error"} per row. A row no longer leased to `owner` is left alone (its lease ended and
    another worker may have it now)."""
    table = OutboxRow.__table__
    assert isinstance(table, Table)
    await session.execute(
        update(table)
        .where(
            and_(table.c.id == bindparam("row_id"), table.c.lease_owner == owner),
        )
        .values(
            status=bindparam("status"),
            attempts=bindparam("attempts"),
            next_attempt_at=bindparam("next_attempt_at"),
            delivered_at=bindparam("delivered_at"),
            last_error=bindparam("last_error"),
            lease_until=None,
            lease_owner=None,
        ),
        changes,
    )
