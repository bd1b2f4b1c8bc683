"""Audit of the event log: prove it was never rewritten, or name the first entry that was.

`verify_log` streams the chained log once and checks, entry by entry: the sequence has no gap,
each `prev_hash` is the previous `hash`, each `hash` matches the entry's fields, each leaf of the
stored Merkle tree is the entry's hash; and, at every signed tree head, that the head's
signature holds and that the root recomputed from the entries equals the signed root. Finally a
log shorter than its latest head (or than its tree) was truncated. Memory is O(log n) whatever
the log's length. Run it with `fcsbe admin event-log verify`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from fcsbe.model import (
    GENESIS_HASH,
    CompactRange,
    SignatureError,
    chain_hash,
    event_leaf_hash,
    verify_detached,
)
from fcsbe.server.services.event_log.log import entry_fields
from fcsbe.server.services.event_log.tree import tree_head_payload
from fcsbe.server.storage.event_log import (
    EventLogRow,
    SignedTreeHeadRow,
    chained_entries,
    find_nodes,
    tree_heads,
    tree_size,
)

__all__ = ["LogAudit", "verify_log"]


@dataclass(frozen=True, slots=True)
class LogAudit:
    """What `verify_log` found: `first_bad_seq` is None when the log is intact."""

    entries: int
    heads_checked: int
    first_bad_seq: int | None = None
    reason: str | None = None

    @property
    def intact(self) -> bool:
        return self.first_bad_seq is None and self.reason is None


class _Bad(Exception):
    def __init__(self, seq: int | None, reason: str) -> None:
        super().__init__(reason)
        self.seq = seq
        self.reason = reason


class _Heads:
    """Signed tree heads in size order, read lazily alongside the log."""

    def __init__(self, source: AsyncIterator[Sequence[SignedTreeHeadRow]]) -> None:
        self._source = source
        self._buffer: list[SignedTreeHeadRow] = []
        self.checked = 0
        self.last_good = 0
        self.latest = 0

    async def next_size(self) -> int | None:
        if not self._buffer:
            self._buffer = list(await anext(self._source, []))
        return self._buffer[0].tree_size if self._buffer else None

    def pop(self) -> SignedTreeHeadRow:
        self.checked += 1
        head = self._buffer.pop(0)
        self.latest = head.tree_size
        return head


def _check_head(
    head: SignedTreeHeadRow, root: bytes, jwks: Mapping[str, Any] | None, last_good: int
) -> None:
    if jwks is not None:
        payload = tree_head_payload(head.tree_size, head.root_hash, head.timestamp)
        try:
            verify_detached(head.signature, payload, jwks)
        except SignatureError as exc:
            raise _Bad(None, f"tree head of size {head.tree_size}: bad signature ({exc})") from exc
    if root.hex() != head.root_hash:
        raise _Bad(
            last_good + 1,
            f"entries {last_good + 1}..{head.tree_size} no longer match the tree head signed "
            f"at size {head.tree_size}",
        )


def _check_entry(
    row: EventLogRow, expected: int, prev_hash: str, leaves: Mapping[tuple[int, int], str]
) -> str:
    if row.seq != expected:
        raise _Bad(expected, f"entry {expected} is missing (next entry is {row.seq})")
    if row.prev_hash != prev_hash:
        raise _Bad(expected, f"entry {expected} does not chain to entry {expected - 1}")
    if row.hash != chain_hash(prev_hash, entry_fields(row, expected, prev_hash)):
        raise _Bad(expected, f"entry {expected} was altered (its hash does not match)")
    leaf = leaves.get((0, expected - 1))
    if leaf is not None and leaf != event_leaf_hash(str(row.hash)).hex():
        raise _Bad(expected, f"entry {expected} differs from the one in the Merkle tree")
    return str(row.hash)


async def verify_log(session: AsyncSession, jwks: Mapping[str, Any] | None = None) -> LogAudit:
    """Check the whole log (see the module docstring); `jwks` checks head signatures too."""
    heads = _Heads(tree_heads(session))
    compact = CompactRange()
    prev_hash, expected = GENESIS_HASH, 1
    try:
        async for rows in chained_entries(session, 0):
            leaves = await find_nodes(session, [(0, int(row.seq or 0) - 1) for row in rows])
            for row in rows:
                prev_hash = _check_entry(row, expected, prev_hash, leaves)
                expected += 1
                compact.append(event_leaf_hash(prev_hash))
                while (size := await heads.next_size()) is not None and size <= compact.size:
                    if size == compact.size:
                        _check_head(heads.pop(), compact.root(), jwks, heads.last_good)
                        heads.last_good = size
                    else:
                        heads.pop()
        count = compact.size
        while (size := await heads.next_size()) is not None:
            head = heads.pop()
            if head.tree_size == 0:
                continue
            raise _Bad(count + 1, f"log truncated: a head covers {size} entries, {count} remain")
        stored = await tree_size(session)
        if stored > count:
            raise _Bad(count + 1, f"log truncated: the tree holds {stored} entries, {count} remain")
    except _Bad as bad:
        return LogAudit(compact.size, heads.checked, bad.seq, bad.reason)
    return LogAudit(compact.size, heads.checked)
