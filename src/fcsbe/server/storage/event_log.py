"""Tables of the append-only, hash-chained event log (one sequence per server), the perfect
nodes of its RFC 9162 Merkle tree and its signed tree heads; and the queries on them.

Appending is a plain INSERT (cheap, no lock on the hot path); a single chainer step later gives
committed entries their gap-free `seq` and their `prev_hash`/`hash`, in insertion order. Entries
without a `seq` are pending and not yet part of the log anyone can read or prove. The tree step
then stores the perfect nodes the new entries complete (2 per entry), so that any root or proof
is O(log n) lookups, and signs tree heads. Reads of entries are always scoped to a party, except
for the operator.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import (
    BigInteger,
    Index,
    Integer,
    SmallInteger,
    String,
    Table,
    Text,
    bindparam,
    func,
    insert,
    select,
    tuple_,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute, Mapped, mapped_column

from fcsbe.server.storage.base import Base

__all__ = [
    "EventLogNodeRow",
    "EventLogRow",
    "SignedTreeHeadRow",
    "chain_entries",
    "chained_entries",
    "entries_of_fs",
    "entry_by_seq",
    "find_nodes",
    "insert_entry",
    "insert_nodes",
    "last_chained",
    "latest_tree_head",
    "list_entries",
    "pending_entries",
    "tree_head_of_size",
    "tree_heads",
    "tree_size",
]

R = TypeVar("R")


class EventLogRow(Base):
    """One log entry; `hash` chains it to `prev_hash`. No personal data: pseudonyms only."""

    __tablename__ = "event_log"
    __table_args__ = (
        Index("ix_event_log_party_id", "party_id", "seq"),
        Index("ix_event_log_fs_id", "fs_id"),
    )

    # INTEGER on SQLite so that the column is the rowid (autoincrementing), BIGINT elsewhere.
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    seq: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    time: Mapped[datetime]
    source: Mapped[str] = mapped_column(String(64))
    type: Mapped[str] = mapped_column(String(64))
    severity: Mapped[str] = mapped_column(String(16))
    party_id: Mapped[str | None] = mapped_column(String(128))
    fs_id: Mapped[str | None] = mapped_column(String(128))
    object_ref: Mapped[str] = mapped_column(String(256))
    summary: Mapped[str] = mapped_column(String(500))
    payload_digest: Mapped[str] = mapped_column(String(64))
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    hash: Mapped[str | None] = mapped_column(String(64), unique=True)


class EventLogNodeRow(Base):
    """A perfect subtree of the Merkle tree: leaves [idx * 2^level, (idx + 1) * 2^level).

    Level 0 holds the leaf hashes, so a tree node never has to be recomputed from the log.
    """

    __tablename__ = "event_log_nodes"

    level: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    idx: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[str] = mapped_column(String(64))


class SignedTreeHeadRow(Base):
    """A signed tree head (RFC 9162 STH): kept forever, so any two can be proven consistent."""

    __tablename__ = "signed_tree_heads"

    tree_size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    root_hash: Mapped[str] = mapped_column(String(64))
    timestamp: Mapped[datetime]
    key_id: Mapped[str] = mapped_column(String(128))
    signature: Mapped[str] = mapped_column(Text)


async def insert_entry(session: AsyncSession, values: dict[str, Any]) -> None:
    """Insert one pending entry (no `seq` yet): a plain INSERT, no lock on the hot path."""
    await session.execute(insert(EventLogRow), [values])


async def last_chained(session: AsyncSession) -> tuple[int, str] | None:
    """`seq` and `hash` of the newest chained entry (None: nothing chained yet), where the
    chainer continues."""
    last = (
        await session.execute(
            select(EventLogRow.seq, EventLogRow.hash)
            .where(EventLogRow.seq.is_not(None))
            .order_by(EventLogRow.seq.desc())
            .limit(1)
        )
    ).first()
    return (int(last.seq), str(last.hash)) if last else None


async def pending_entries(session: AsyncSession, limit: int) -> Sequence[EventLogRow]:
    """Up to `limit` entries not yet chained, in insertion order (the order they are chained)."""
    return (
        (
            await session.execute(
                select(EventLogRow)
                .where(EventLogRow.seq.is_(None))
                .order_by(EventLogRow.id)
                .limit(limit)
            )
        )
        .scalars()
        .all()
    )


async def chain_entries(session: AsyncSession, links: Sequence[dict[str, Any]]) -> None:
    """Write entries' chain fields: `links` holds {"row_id", "seq", "prev_hash", "hash"} per
    entry, written in one executemany statement (nothing when empty)."""
    if not links:
        return
    table = EventLogRow.__table__
    assert isinstance(table, Table)
    await session.execute(
        update(table)
        .where(table.c.id == bindparam("row_id"))
        .values(seq=bindparam("seq"), prev_hash=bindparam("prev_hash"), hash=bindparam("hash")),
        links,
    )


async def list_entries(
    session: AsyncSession,
    *,
    party_id: str | None,
    after_seq: int,
    limit: int,
    fs_id: str | None = None,
    type: str | None = None,
) -> Sequence[EventLogRow]:
    """Chained entries after `after_seq`, oldest first; `party_id` None means every party."""
    statement = select(EventLogRow).where(EventLogRow.seq > after_seq)
    if party_id is not None:
        statement = statement.where(EventLogRow.party_id == party_id)
    if fs_id is not None:
        statement = statement.where(EventLogRow.fs_id == fs_id)
    if type is not None:
        statement = statement.where(EventLogRow.type == type)
    statement = statement.order_by(EventLogRow.seq).limit(limit)
    return (await session.execute(statement)).scalars().all()


async def entry_by_seq(session: AsyncSession, seq: int) -> EventLogRow | None:
    """The chained entry `seq`, if any."""
    return (
        await session.execute(select(EventLogRow).where(EventLogRow.seq == seq))
    ).scalar_one_or_none()


async def entries_of_fs(
    session: AsyncSession, party_id: str, fs_id: str
) -> tuple[Sequence[EventLogRow], int]:
    """The chained entries of one FS of one party, by seq, and how many are still unchained."""
    rows = (
        (
            await session.execute(
                select(EventLogRow)
                .where(EventLogRow.fs_id == fs_id, EventLogRow.party_id == party_id)
                .order_by(EventLogRow.seq)
            )
        )
        .scalars()
        .all()
    )
    chained = [row for row in rows if row.seq is not None]
    return chained, len(rows) - len(chained)


async def _batches_after(
    session: AsyncSession,
    row: type[R],
    key: InstrumentedAttribute[Any],
    after: int,
    batch: int,
) -> AsyncIterator[Sequence[R]]:
    """Every `row` whose integer `key` is above `after`, in batches ordered by `key`: each
    batch is one indexed read after the last key served, never an offset."""
    while True:
        statement = select(row).where(key > after).order_by(key).limit(batch)
        rows = (await session.scalars(statement)).all()
        if not rows:
            return
        yield rows
        after = int(getattr(rows[-1], key.key))


async def chained_entries(
    session: AsyncSession, after_seq: int, batch: int = 5_000
) -> AsyncIterator[Sequence[EventLogRow]]:
    """Every chained entry after `after_seq`, in batches by seq (for the tree and audits)."""
    async for rows in _batches_after(session, EventLogRow, EventLogRow.seq, after_seq, batch):
        yield rows


async def tree_size(session: AsyncSession) -> int:
    """Number of leaves in the stored tree."""
    last = await session.scalar(
        select(func.max(EventLogNodeRow.idx)).where(EventLogNodeRow.level == 0)
    )
    return 0 if last is None else int(last) + 1


async def find_nodes(
    session: AsyncSession, keys: Iterable[tuple[int, int]]
) -> dict[tuple[int, int], str]:
    """The stored perfect nodes among `keys` (missing ones are absent from the result)."""
    wanted = sorted(set(keys))
    found: dict[tuple[int, int], str] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        rows = await session.execute(
            select(EventLogNodeRow.level, EventLogNodeRow.idx, EventLogNodeRow.hash).where(
                tuple_(EventLogNodeRow.level, EventLogNodeRow.idx).in_(chunk)
            )
        )
        found.update({(int(r.level), int(r.idx)): str(r.hash) for r in rows})
    return found


async def insert_nodes(session: AsyncSession, nodes: Sequence[tuple[int, int, str]]) -> None:
    """Store new perfect nodes (level, idx, hex hash) in one batch."""
    if nodes:
        await session.execute(
            insert(EventLogNodeRow),
            [{"level": level, "idx": idx, "hash": value} for level, idx, value in nodes],
        )


async def latest_tree_head(session: AsyncSession) -> SignedTreeHeadRow | None:
    """The newest signed tree head, if any."""
    return (
        await session.execute(
            select(SignedTreeHeadRow).order_by(SignedTreeHeadRow.tree_size.desc()).limit(1)
        )
    ).scalar_one_or_none()


async def tree_head_of_size(session: AsyncSession, size: int) -> SignedTreeHeadRow | None:
    """The signed tree head of exactly `size` entries, if one was signed."""
    return await session.get(SignedTreeHeadRow, size)


async def tree_heads(
    session: AsyncSession, batch: int = 10_000
) -> AsyncIterator[Sequence[SignedTreeHeadRow]]:
    """Every signed tree head by size, in batches (for audits)."""
    tree_size = SignedTreeHeadRow.tree_size
    async for rows in _batches_after(session, SignedTreeHeadRow, tree_size, -1, batch):
        yield rows
