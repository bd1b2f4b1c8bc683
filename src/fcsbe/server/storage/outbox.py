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
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
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
    "feed_rows",
    "list_rows",
    "make_due",
    "row_by_notification_id",
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
