"""Appending to the tamper-evident event log, chaining what was appended, reading it back.

`append_event` is one INSERT in the caller's transaction (the event exists if and only if the
change does). `chain_pending` is the step a worker runs: it gives committed entries their
gap-free `seq`, `prev_hash` and `hash` in insertion order, under a lock so that only one chainer
works at a time across replicas. `list_events` reads chained entries, scoped to one party
(the operator reads all). No personal data goes in: pseudonyms only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from fcsbe.model import EventLogEntry, Page
from fcsbe.model.canonical import GENESIS_HASH, chain_hash, digest
from fcsbe.server.storage.base import utcnow
from fcsbe.server.storage.event_log import (
    EventLogRow,
    chain_entries,
    insert_entry,
    last_chained,
    list_entries,
    pending_entries,
)
from fcsbe.server.storage.locks import advisory_lock
from fcsbe.server.storage.wakeup import wake_workers

__all__ = [
    "EVENT_LOG_LOCK",
    "append_event",
    "chain_pending",
    "entry_fields",
    "entry_model",
    "event_values",
    "list_events",
]

EVENT_LOG_LOCK = 63382_0001
"""PostgreSQL advisory-lock id held by the chainer."""


async def append_event(
    session: AsyncSession,
    *,
    type: str,
    object_ref: str,
    summary: str,
    party_id: str | None = None,
    fs_id: str | None = None,
    payload: Mapping[str, Any] | None = None,
    source: str = "FCSBE",
    severity: str = "INFO",
) -> None:
    """Record that something happened (in the caller's transaction; one INSERT)."""
    values = event_values(
        type=type,
        object_ref=object_ref,
        summary=summary,
        party_id=party_id,
        fs_id=fs_id,
        payload=payload,
        source=source,
        severity=severity,
    )
    await insert_entry(session, values)
    await wake_workers(session)  # the chainer of every replica, at commit


def event_values(
    *,
    type: str,
    object_ref: str,
    summary: str,
    party_id: str | None = None,
    fs_id: str | None = None,
    payload: Mapping[str, Any] | None = None,
    source: str = "FCSBE",
    severity: str = "INFO",
) -> dict[str, Any]:
    """The column values of a new (pending) entry, for a storage function that writes it
    together with the change it records."""
    return {
        "time": utcnow(),
        "source": source,
        "type": type,
        "severity": severity,
        "party_id": party_id,
        "fs_id": fs_id,
        "object_ref": object_ref[:256],
        "summary": summary[:500],
        "payload_digest": digest(dict(payload or {})),
    }


def entry_fields(row: EventLogRow, seq: int, prev_hash: str) -> dict[str, Any]:
    """The fields an entry's hash covers (everything but the hash itself)."""
    return {
        "seq": seq,
        "time": row.time.isoformat().replace("+00:00", "Z"),
        "source": row.source,
        "type": row.type,
        "severity": row.severity,
        "party_id": row.party_id,
        "fs_id": row.fs_id,
        "object_ref": row.object_ref,
        "summary": row.summary,
        "payload_digest": row.payload_digest,
        "prev_hash": prev_hash,
    }


async def chain_pending(session: AsyncSession, limit: int = 1000) -> int:
    """Chain up to `limit` pending entries; returns how many were chained."""
    await advisory_lock(session, EVENT_LOG_LOCK)
    last = await last_chained(session)
    seq, prev = last if last else (0, GENESIS_HASH)
    pending = await pending_entries(session, limit)
    updates = []
    for row in pending:
        seq += 1
        current = chain_hash(prev, entry_fields(row, seq, prev))
        updates.append({"row_id": row.id, "seq": seq, "prev_hash": prev, "hash": current})
        prev = current
    await chain_entries(session, updates)
    return len(updates)


def entry_model(row: EventLogRow) -> EventLogEntry:
    """The wire form of a chained entry (its `expected_hash()` recomputes `hash`)."""
    return EventLogEntry.model_validate(
        {**entry_fields(row, int(row.seq or 0), str(row.prev_hash)), "hash": row.hash}
    )


async def list_events(
    session: AsyncSession,
    *,
    party_id: str | None,
    after_seq: int,
    limit: int,
    fs_id: str | None = None,
    type: str | None = None,
) -> tuple[Page[EventLogEntry], int | None]:
    """One page of chained entries after `after_seq` that concern `party_id` (None: all);
    returns the page and the seq to continue after, if there is more."""
    rows = await list_entries(
        session, party_id=party_id, after_seq=after_seq, limit=limit + 1, fs_id=fs_id, type=type
    )
    more = len(rows) > limit
    items = [entry_model(row) for row in rows[:limit]]
    return Page[EventLogEntry](items=items), (items[-1].seq if more else None)
