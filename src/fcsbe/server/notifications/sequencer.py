"""Gives committed notifications their per-FO feed position (`seq`), gap-free, in commit order.

Why a separate step: an outbox row's `id` is taken at INSERT, but transactions commit out of
order, so a feed reader that has seen id 11 could miss id 10 committed a moment later. This
step only ever sees committed rows, and it runs serialised (a PostgreSQL advisory lock across
replicas; SQLite has a single writer), so every `seq` it hands out is committed after all
smaller ones of the same FO: a reader that has seen `seq` n can never miss n-1.
"""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import Table, bindparam, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from fcsbe.server.storage.notifications import OutboxRow

__all__ = ["SEQUENCER_LOCK", "assign_sequence"]

SEQUENCER_LOCK = 63382_0007
"""PostgreSQL advisory-lock id held while sequencing."""


async def assign_sequence(session: AsyncSession, limit: int = 5000) -> int:
    """Sequence up to `limit` committed rows in insertion order; returns how many.

    Runs in the caller's transaction, which must commit it. On PostgreSQL a replica that finds
    the lock taken returns 0 at once: another replica is doing the work.
    """
    if session.get_bind().dialect.name == "postgresql":
        locked = await session.scalar(
            text("SELECT pg_try_advisory_xact_lock(:id)"), {"id": SEQUENCER_LOCK}
        )
        if not locked:
            return 0
    pending = (
        await session.execute(
            select(OutboxRow.id, OutboxRow.fo_party_id)
            .where(OutboxRow.seq.is_(None))
            .order_by(OutboxRow.id)
            .limit(limit)
        )
    ).all()
    if not pending:
        return 0
    parties = sorted({row.fo_party_id for row in pending})
    last = await session.execute(
        select(OutboxRow.fo_party_id, func.max(OutboxRow.seq))
        .where(OutboxRow.fo_party_id.in_(parties), OutboxRow.seq.is_not(None))
        .group_by(OutboxRow.fo_party_id)
    )
    counters: dict[str, int] = defaultdict(int, {str(p): int(s or 0) for p, s in last.all()})
    updates = []
    for row in pending:
        counters[row.fo_party_id] += 1
        updates.append({"row_id": row.id, "seq": counters[row.fo_party_id]})
    table = OutboxRow.__table__
    assert isinstance(table, Table)
    await session.execute(
        update(table).where(table.c.id == bindparam("row_id")).values(seq=bindparam("seq")),
        updates,
    )
    return len(updates)
