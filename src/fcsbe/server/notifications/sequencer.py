"""Gives committed notifications their per-FO feed position (`seq`), gap-free, in commit order.

Why a separate step: an outbox row's `id` is taken at INSERT, but transactions commit out of
order, so a feed reader that has seen id 11 could miss id 10 committed a moment later. This
step only ever sees committed rows, and it runs serialised (a PostgreSQL advisory lock across
replicas; SQLite has a single writer), so every `seq` it hands out is committed after all
smaller ones of the same FO: a reader that has seen `seq` n can never miss n-1.
"""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy.ext.asyncio import AsyncSession

from fcsbe.server.storage.locks import try_advisory_lock
from fcsbe.server.storage.notifications import last_seq_by_party, set_seqs, unsequenced

__all__ = ["SEQUENCER_LOCK", "assign_sequence"]

SEQUENCER_LOCK = 63382_0007
"""PostgreSQL advisory-lock id held while sequencing."""


async def assign_sequence(session: AsyncSession, limit: int = 5000) -> int:
    """Sequence up to `limit` committed rows in insertion order; returns how many.

    Runs in the caller's transaction, which must commit it. On PostgreSQL a replica that finds
    the lock taken returns 0 at once: another replica is doing the work.
    """
    if not await try_advisory_lock(session, SEQUENCER_LOCK):
        return 0
    pending = await unsequenced(session, limit)
    if not pending:
        return 0
    parties = sorted({fo_party_id for _, fo_party_id in pending})
    counters: dict[str, int] = defaultdict(int, await last_seq_by_party(session, parties))
    updates = []
    for row_id, fo_party_id in pending:
        counters[fo_party_id] += 1
        updates.append({"row_id": row_id, "seq": counters[fo_party_id]})
    await set_seqs(session, updates)
    return len(updates)
