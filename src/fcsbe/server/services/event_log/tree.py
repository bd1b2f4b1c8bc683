"""The RFC 9162 Merkle tree over the event log: growing it, signing tree heads, proving.

`extend_tree` is a worker step after the chainer: it stores the perfect nodes that newly chained
entries complete (resuming from the O(log n) frontier, never re-reading the log), so a root or a
proof costs O(log n) node lookups however long the log is. `sign_tree_head` signs the current
root with the server key, at most once per interval unless forced (a PoW needs a head covering
its entries at once). Leaves are the entries' chain hashes (`fcsbe.model.merkle.event_leaf_hash`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from fcsbe.model import (
    EMPTY_ROOT,
    CompactRange,
    ConsistencyProof,
    EventInclusion,
    FieldError,
    InclusionProof,
    NodeKey,
    SignedTreeHead,
    SubtreeHash,
    consistency_path,
    event_leaf_hash,
    inclusion_path,
    perfect_subtrees,
    required_nodes,
    subtree_hash_from_nodes,
)
from fcsbe.server.errors import NotFound, ServiceUnavailable, UnprocessableContent
from fcsbe.server.security.keys import ServerKeys
from fcsbe.server.storage.base import utcnow
from fcsbe.server.storage.event_log import (
    EventLogRow,
    SignedTreeHeadRow,
    chained_entries,
    entry_by_seq,
    find_nodes,
    insert_nodes,
    latest_tree_head,
    tree_head_of_size,
    tree_size,
)
from fcsbe.server.storage.locks import advisory_lock
from fcsbe.server.storage.wakeup import wake_workers

__all__ = [
    "EVENT_LOG_TREE_LOCK",
    "TreeCorruptedError",
    "checked_consistency_proof",
    "checked_inclusion_proof",
    "consistency_proof",
    "current_tree_head",
    "extend_tree",
    "inclusion_proof",
    "prove_entries",
    "sign_tree_head",
    "tree_head_model",
    "tree_head_payload",
    "tree_step",
]

EVENT_LOG_TREE_LOCK = 63382_0002
"""PostgreSQL advisory-lock id held while the tree grows or a head is signed."""


class TreeCorruptedError(RuntimeError):
    """A stored tree node the tree needs is missing: the node table was tampered with."""


def _time_text(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def tree_head_payload(size: int, root_hash: str, timestamp: datetime) -> dict[str, object]:
    """What a tree-head signature covers (`SignedTreeHead.signed_payload()`)."""
    return {"tree_size": size, "root_hash": root_hash, "timestamp": _time_text(timestamp)}


def tree_head_model(row: SignedTreeHeadRow) -> SignedTreeHead:
    """The wire form of a stored head."""
    return SignedTreeHead(
        tree_size=row.tree_size,
        root_hash=row.root_hash,
        timestamp=row.timestamp,
        key_id=row.key_id,
        signature=row.signature,
    )


async def _lock(session: AsyncSession) -> None:
    await advisory_lock(session, EVENT_LOG_TREE_LOCK)


async def _nodes(session: AsyncSession, keys: Iterable[NodeKey]) -> dict[NodeKey, bytes]:
    wanted = set(keys)
    found = await find_nodes(session, wanted)
    missing = wanted - set(found)
    if missing:
        raise TreeCorruptedError(f"{len(missing)} tree node(s) missing, e.g. {min(missing)}")
    return {key: bytes.fromhex(value) for key, value in found.items()}


async def _subtree_hash(session: AsyncSession, keys: Iterable[NodeKey]) -> SubtreeHash:
    return subtree_hash_from_nodes(await _nodes(session, keys))


async def extend_tree(session: AsyncSession, limit: int = 5_000) -> int:
    """Add up to `limit` newly chained entries to the tree; returns how many were added."""
    await _lock(session)
    size = await tree_size(session)
    keys = perfect_subtrees(0, size) if size else []
    frontier = await _nodes(session, keys)
    compact = CompactRange(size, [frontier[key] for key in keys])
    nodes: list[tuple[int, int, str]] = []
    async for rows in chained_entries(session, size, batch=limit):
        for row in rows:
            if row.seq != compact.size + 1 or row.hash is None:
                break
            for (level, idx), value in compact.append(event_leaf_hash(row.hash)):
                nodes.append((level, idx, value.hex()))
        break
    await insert_nodes(session, nodes)
    return compact.size - size


async def _root(session: AsyncSession, size: int) -> bytes:
    if size == 0:
        return EMPTY_ROOT
    return (await _subtree_hash(session, perfect_subtrees(0, size)))(0, size)


async def sign_tree_head(
    session: AsyncSession,
    keys: ServerKeys,
    *,
    min_interval_s: float = 0.0,
    now: datetime | None = None,
) -> SignedTreeHead | None:
    """Sign the current tree if it grew since the last head (and that head is at least
    `min_interval_s` old); returns the new head, or None when none was due."""
    await _lock(session)
    now = now or utcnow()
    size = await tree_size(session)
    latest = await latest_tree_head(session)
    if latest is not None:
        if latest.tree_size >= size:
            return None
        if (now - latest.timestamp).total_seconds() < min_interval_s:
            return None
    elif size == 0:
        return None
    root = (await _root(session, size)).hex()
    row = SignedTreeHeadRow(
        tree_size=size,
        root_hash=root,
        timestamp=now,
        key_id=keys.kid,
        signature=keys.sign(tree_head_payload(size, root, now)),
    )
    session.add(row)
    await session.flush()
    return tree_head_model(row)


async def inclusion_proof(session: AsyncSession, seq: int, size: int) -> InclusionProof:
    """Audit path of entry `seq` in the tree of `size` entries (1 <= seq <= size <= tree)."""
    index = seq - 1
    mth = await _subtree_hash(session, required_nodes(inclusion=(index, size)))
    path = inclusion_path(index, size, mth)
    return InclusionProof(leaf_index=index, tree_size=size, audit_path=[p.hex() for p in path])


async def consistency_proof(session: AsyncSession, first: int, second: int) -> ConsistencyProof:
    """Proof that the tree of `first` entries is a prefix of the tree of `second` entries."""
    mth = await _subtree_hash(session, required_nodes(consistency=(first, second)))
    proof = consistency_path(first, second, mth)
    return ConsistencyProof(first_size=first, second_size=second, proof=[p.hex() for p in proof])


async def prove_entries(
    session: AsyncSession, rows: Sequence[EventLogRow], size: int
) -> list[EventInclusion]:
    """Inclusion proofs of several entries in the tree of `size`, with one node query."""
    keys: set[NodeKey] = set()
    for row in rows:
        keys |= required_nodes(inclusion=(int(row.seq or 0) - 1, size))
    mth = await _subtree_hash(session, keys)
    return [
        EventInclusion(
            seq=int(row.seq or 0),
            hash=str(row.hash),
            audit_path=[p.hex() for p in inclusion_path(int(row.seq or 0) - 1, size, mth)],
        )
        for row in rows
    ]


async def tree_step(session: AsyncSession, keys: ServerKeys, min_interval_s: float) -> int:
    """The worker step: grow the tree, then sign a head if one is due; returns entries added.

    A new head is announced to every replica's loops at commit: proofs of work wait for a head
    that covers their record, and must not sleep through it."""
    added = await extend_tree(session)
    if await sign_tree_head(session, keys, min_interval_s=min_interval_s) is not None:
        await wake_workers(session)
    return added


async def current_tree_head(
    session: AsyncSession, keys: ServerKeys, size: int | None = None
) -> SignedTreeHead:
    """The latest head (or the head of exactly `size`); an empty log gets a fresh signed head
    of the empty tree, a log not yet under any head a 503 (the tree step signs within seconds)."""
    if size is not None:
        row = await tree_head_of_size(session, size)
        if row is None:
            raise NotFound(f"No tree head of size {size} was signed.", slug="tree-head-not-found")
        return tree_head_model(row)
    latest = await latest_tree_head(session)
    if latest is not None:
        return tree_head_model(latest)
    if await tree_size(session) or await entry_by_seq(session, 1) is not None:
        raise ServiceUnavailable("The first tree head is being signed; retry shortly.")
    now = utcnow()
    root = EMPTY_ROOT.hex()
    return SignedTreeHead(
        tree_size=0,
        root_hash=root,
        timestamp=now,
        key_id=keys.kid,
        signature=keys.sign(tree_head_payload(0, root, now)),
    )


def _bad(pointer: str, detail: str) -> UnprocessableContent:
    return UnprocessableContent(
        detail,
        slug="proof-out-of-range",
        errors=[FieldError(pointer=pointer, detail=detail, code="out_of_range")],
    )


async def _default_size(session: AsyncSession) -> int:
    latest = await latest_tree_head(session)
    if latest is None:
        raise NotFound("No tree head has been signed yet.", slug="tree-head-not-found")
    return latest.tree_size


async def checked_inclusion_proof(
    session: AsyncSession, party_id: str | None, seq: int, size: int | None
) -> InclusionProof:
    """Inclusion proof of an entry `party_id` may read (None: any), against `size` or the
    latest head."""
    size = size if size is not None else await _default_size(session)
    if size > await tree_size(session):
        raise _bad("/query/tree_size", f"tree_size {size} is beyond the tree")
    if seq > size:
        raise _bad("/query/seq", f"seq {seq} is not in a tree of {size} entries")
    row = await entry_by_seq(session, seq)
    if row is None or (party_id is not None and row.party_id != party_id):
        raise NotFound(f"No event-log entry {seq} that you may read.", slug="event-not-found")
    return await inclusion_proof(session, seq, size)


async def checked_consistency_proof(
    session: AsyncSession, first: int, second: int | None
) -> ConsistencyProof:
    """Consistency proof between `first` and `second` (default: the latest head)."""
    second = second if second is not None else await _default_size(session)
    if second > await tree_size(session):
        raise _bad("/query/second", f"second {second} is beyond the tree")
    if first > second:
        raise _bad("/query/first", f"first {first} must not exceed second {second}")
    return await consistency_proof(session, first, second)
