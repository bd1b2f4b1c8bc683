"""The durable station-command queue and the station hosts' published facts.

Any replica writes a command row in the transaction of the change it serves (a setpoint, an
activation, a fallback, an FS's end); the replica that holds the stations claims due rows
(`FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite's single writer serialises), commits the claim,
applies them through its adapter and records the outcome in a new transaction. A claim is a
lease: a replica that dies mid-apply leaves the row to be claimed again once the lease ends, and
as adapter commands are idempotent, applying it twice has the effect of applying it once.

On PostgreSQL an enqueue also wakes the applier at once (`storage/wakeup.py`).

`station_hosts` holds what the replica with the stations publishes about them (the adapter and
its telemetry interval), so every replica answers capabilities alike.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from fcsbe.server.storage.base import Base, JsonDoc
from fcsbe.server.storage.ocpp_stations import held_stations

__all__ = [
    "StationCommandRow",
    "StationHostRow",
    "claim_due_commands",
    "command_by_id",
    "latest_station_host",
    "pending_count",
    "publish_station_host",
    "purge_completed_commands",
]


class StationCommandRow(Base):
    """One command for the stations: what to do (`kind`, `payload`), for which FS, and what
    became of it (PENDING until applied or failed; `attempts`, `reason`, `applied_evses`)."""

    __tablename__ = "station_commands"
    __table_args__ = (Index("ix_station_commands_due", "state", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    command_id: Mapped[str] = mapped_column(String(36), unique=True)
    fs_pk: Mapped[int | None] = mapped_column(
        ForeignKey("flexibility_services.id", ondelete="CASCADE"), index=True
    )
    fo_party_id: Mapped[str | None] = mapped_column(String(128))
    fs_id: Mapped[str | None] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(JsonDoc)
    state: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime]
    claimed_until: Mapped[datetime | None]
    applied_evses: Mapped[int | None]
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    completed_at: Mapped[datetime | None]
    station_id: Mapped[str | None] = mapped_column(String(128), index=True)
    """The OCPP station the commands are for, when only the replica holding its connection
    may apply them (None: any station-holding replica)."""


class StationHostRow(Base):
    """A replica that holds stations, with the facts about them that shape every replica's
    answers; `seen_at` is refreshed while it runs."""

    __tablename__ = "station_hosts"

    host_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    adapter: Mapped[str] = mapped_column(String(32))
    telemetry_interval_s: Mapped[int]
    seen_at: Mapped[datetime]


async def claim_due_commands(
    session: AsyncSession,
    now: datetime,
    lease_s: float,
    limit: int,
    *,
    host_id: str | None = None,
) -> list[StationCommandRow]:
    """Lease up to `limit` due PENDING commands (oldest first) until `now + lease_s`; the
    caller commits the claim before it applies them. With `host_id`, commands bound to a
    station are claimed only while that replica holds the station's connection."""
    statement = (
        select(StationCommandRow)
        .where(
            StationCommandRow.state == "PENDING",
            StationCommandRow.next_attempt_at <= now,
        )
        .order_by(StationCommandRow.id)
        .limit(limit)
    )
    if host_id is not None:
        statement = statement.where(
            StationCommandRow.station_id.is_(None)
            | StationCommandRow.station_id.in_(held_stations(host_id, now))
        )
    if session.get_bind().dialect.name == "postgresql":
        statement = statement.with_for_update(skip_locked=True)
    rows = list((await session.execute(statement)).scalars().all())
    until = now + timedelta(seconds=lease_s)
    for row in rows:
        row.attempts += 1
        row.claimed_until = until
        row.next_attempt_at = until  # not due again until the lease has run out
    return rows


async def command_by_id(
    session: AsyncSession, command_id: str, *, for_update: bool = False
) -> StationCommandRow | None:
    """The command with this public id."""
    statement = select(StationCommandRow).where(StationCommandRow.command_id == command_id)
    if for_update and session.get_bind().dialect.name == "postgresql":
        statement = statement.with_for_update()
    return (await session.execute(statement)).scalar_one_or_none()


async def publish_station_host(
    session: AsyncSession, host_id: str, adapter: str, telemetry_interval_s: int, now: datetime
) -> None:
    """Insert or refresh this replica's station facts."""
    row = await session.get(StationHostRow, host_id)
    if row is None:
        session.add(
            StationHostRow(
                host_id=host_id,
                adapter=adapter,
                telemetry_interval_s=telemetry_interval_s,
                seen_at=now,
            )
        )
    else:
        row.adapter, row.telemetry_interval_s, row.seen_at = adapter, telemetry_interval_s, now


async def latest_station_host(session: AsyncSession) -> StationHostRow | None:
    """The station host heard from last (None: no replica holds stations yet)."""
    statement = select(StationHostRow).order_by(StationHostRow.seen_at.desc()).limit(1)
    return (await session.execute(statement)).scalar_one_or_none()


async def pending_count(session: AsyncSession) -> int:
    """Commands not yet applied or failed (readiness and tests)."""
    statement = select(func.count()).where(StationCommandRow.state == "PENDING")
    return int(await session.scalar(statement) or 0)


async def purge_completed_commands(session: AsyncSession, before: datetime, limit: int) -> int:
    """Delete up to `limit` applied or failed commands completed before `before`."""
    doomed = (
        select(StationCommandRow.id)
        .where(StationCommandRow.state != "PENDING", StationCommandRow.completed_at < before)
        .order_by(StationCommandRow.id)
        .limit(limit)
    )
    ids = list((await session.execute(doomed)).scalars().all())
    if ids:
        await session.execute(delete(StationCommandRow).where(StationCommandRow.id.in_(ids)))
    return len(ids)
