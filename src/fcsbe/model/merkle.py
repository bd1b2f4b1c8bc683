"""RFC 9162 (Certificate Transparency v2) Merkle tree: hashes, proofs and their verification.

Pure functions shared by the server (which builds tree heads and proofs from stored nodes) and
the FO client (which verifies them offline). The tree is the one of RFC 9162 §2.1: a leaf hash is
SHA-256(0x00 || leaf data), an interior node SHA-256(0x01 || left || right), the tree over n
leaves splits at the largest power of two below n, the empty tree hashes to SHA-256("").

For the event log, leaf `i` (0-based) is entry `seq = i + 1` and its leaf data is the 32 bytes of
the entry's chain `hash` (`event_leaf_hash`): the chain already commits to every field, so the
tree commits to the whole log and a proof can be checked from the hash alone.

Every subtree the RFC algorithms touch starts at a multiple of a power of two at least as large
as itself, so it is a left-to-right run of *perfect* subtrees, addressed as (level, index): the
node over leaves [index * 2^level, (index + 1) * 2^level). A store that keeps those perfect nodes
answers any root or proof with O(log n) lookups (`required_nodes` says which).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence

__all__ = [
    "EMPTY_ROOT",
    "CompactRange",
    "MerkleTree",
    "NodeKey",
    "SubtreeHash",
    "consistency_path",
    "event_leaf_hash",
    "fold_subtrees",
    "inclusion_path",
    "leaf_hash",
    "node_hash",
    "perfect_subtrees",
    "required_nodes",
    "root_hash",
    "subtree_hash_from_nodes",
    "verify_consistency",
    "verify_inclusion",
]

EMPTY_ROOT = hashlib.sha256(b"").digest()
"""Root hash of the empty tree (RFC 9162 §2.1.1)."""

NodeKey = tuple[int, int]
"""(level, index) of a perfect subtree: leaves [index * 2^level, (index + 1) * 2^level)."""

SubtreeHash = Callable[[int, int], bytes]
"""MTH(D[start:end]): the hash of the subtree over leaves [start, end)."""


def leaf_hash(data: bytes) -> bytes:
    """RFC 9162 leaf hash: SHA-256(0x00 || data)."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 9162 interior node hash: SHA-256(0x01 || left || right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def event_leaf_hash(entry_hash: str) -> bytes:
    """Leaf hash of an event-log entry, given its chain `hash` (64 hex digits)."""
    return leaf_hash(bytes.fromhex(entry_hash))


def _split(n: int) -> int:
    """The largest power of two strictly below n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def perfect_subtrees(start: int, end: int) -> list[NodeKey]:
    """The perfect subtrees, left to right, whose fold is MTH(D[start:end]).

    Raises ValueError for a range the RFC algorithms never ask for (a misaligned start).
    """
    if not 0 <= start < end:
        raise ValueError(f"empty or negative leaf range [{start}, {end})")
    nodes: list[NodeKey] = []
    while start < end:
        level = (end - start).bit_length() - 1
        if start % (1 << level):
            raise ValueError(f"leaf range [{start}, {end}) does not start on a subtree boundary")
        nodes.append((level, start >> level))
        start += 1 << level
    return nodes


def fold_subtrees(hashes: Sequence[bytes]) -> bytes:
    """Combine the hashes of `perfect_subtrees` (left to right) into the subtree hash."""
    if not hashes:
        return EMPTY_ROOT
    result = hashes[-1]
    for left in reversed(hashes[:-1]):
        result = node_hash(left, result)
    return result


def subtree_hash_from_nodes(nodes: Mapping[NodeKey, bytes]) -> SubtreeHash:
    """An MTH function over a store of perfect nodes (KeyError when one is missing)."""

    def mth(start: int, end: int) -> bytes:
        return fold_subtrees([nodes[key] for key in perfect_subtrees(start, end)])

    return mth


def inclusion_path(index: int, size: int, mth: SubtreeHash) -> list[bytes]:
    """PATH(index, D[size]) of RFC 9162 §2.1.3.1: sibling hashes from the leaf up."""
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} is outside a tree of {size} leaves")
    path: list[bytes] = []
    start, end = 0, size
    while end - start > 1:
        k = _split(end - start)
        if index < start + k:
            path.append(mth(start + k, end))
            end = start + k
        else:
            path.append(mth(start, start + k))
            start += k
    path.reverse()
    return path


def consistency_path(first: int, second: int, mth: SubtreeHash) -> list[bytes]:
    """PROOF(first, D[second]) of RFC 9162 §2.1.4.1 (empty when first is 0 or equal)."""
    if not 0 <= first <= second:
        raise ValueError(f"first size {first} must be between 0 and the second size {second}")
    if first in (0, second):
        return []
    proof: list[bytes] = []
    start, end, m, complete = 0, second, first, True
    while m != end - start:
        k = _split(end - start)
        if m <= k:
            proof.append(mth(start + k, end))
            end = start + k
        else:
            proof.append(mth(start, start + k))
            start, m, complete = start + k, m - k, False
    if not complete:
        proof.append(mth(start, end))
    proof.reverse()
    return proof


def required_nodes(
    *, inclusion: tuple[int, int] | None = None, consistency: tuple[int, int] | None = None
) -> set[NodeKey]:
    """The perfect nodes a store must supply for an inclusion proof `(index, size)`, a
    consistency proof `(first, second)` and the root(s) of the sizes involved."""
    wanted: set[NodeKey] = set()

    def record(start: int, end: int) -> bytes:
        wanted.update(perfect_subtrees(start, end))
        return EMPTY_ROOT

    sizes: list[int] = []
    if inclusion is not None:
        inclusion_path(*inclusion, record)
        sizes.append(inclusion[1])
    if consistency is not None:
        consistency_path(*consistency, record)
        sizes.extend(consistency)
    for size in sizes:
        if size:
            record(0, size)
    return wanted


def root_hash(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH of a whole tree given its leaf hashes (O(n), for tests and audits)."""
    return MerkleTree(leaf_hashes).root()


def verify_inclusion(
    index: int, size: int, leaf: bytes, path: Sequence[bytes], root: bytes
) -> bool:
    """RFC 9162 §2.1.3.2: does `path` prove leaf hash `leaf` at `index` in the tree `root`?"""
    if not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while fn and not fn & 1:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r == root


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]
) -> bool:
    """RFC 9162 §2.1.4.2: does `proof` show the tree `first_root` of `first` leaves is a prefix
    of the tree `second_root` of `second` leaves?"""
    if not 0 <= first <= second:
        return False
    if first == second:
        return not proof and first_root == second_root
    if first == 0:
        return not proof
    if not proof:
        return False
    path = list(proof)
    if first & (first - 1) == 0:
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while fn and not fn & 1:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and fr == first_root and sr == second_root


class MerkleTree:
    """An in-memory tree keeping every perfect node (2n hashes): O(1) append amortised,
    O(log n) roots and proofs for any earlier size. The server keeps the same nodes in a table."""

    def __init__(self, leaf_hashes: Iterable[bytes] = ()) -> None:
        self.levels: list[list[bytes]] = [[]]
        for leaf in leaf_hashes:
            self.append(leaf)

    @property
    def size(self) -> int:
        """Number of leaves."""
        return len(self.levels[0])

    def append(self, leaf: bytes) -> list[tuple[NodeKey, bytes]]:
        """Add a leaf hash; returns the perfect nodes it completed, leaf first."""
        made: list[tuple[NodeKey, bytes]] = []
        level, node = 0, leaf
        while True:
            if level == len(self.levels):
                self.levels.append([])
            row = self.levels[level]
            row.append(node)
            made.append(((level, len(row) - 1), node))
            if len(row) % 2:
                return made
            node = node_hash(row[-2], row[-1])
            level += 1

    def node(self, key: NodeKey) -> bytes:
        """A perfect node by (level, index)."""
        level, index = key
        return self.levels[level][index]

    def subtree(self, start: int, end: int) -> bytes:
        """MTH(D[start:end]) for an RFC-aligned range."""
        return fold_subtrees([self.node(key) for key in perfect_subtrees(start, end)])

    def root(self, size: int | None = None) -> bytes:
        """Root hash of the tree of the first `size` leaves (default: all)."""
        size = self.size if size is None else size
        if not 0 <= size <= self.size:
            raise ValueError(f"size {size} is outside 0..{self.size}")
        return self.subtree(0, size) if size else EMPTY_ROOT

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """Audit path of leaf `index` in the tree of `size` leaves (default: all)."""
        return inclusion_path(index, self.size if size is None else size, self.subtree)

    def consistency_proof(self, first: int, second: int | None = None) -> list[bytes]:
        """Consistency proof between the trees of `first` and `second` leaves."""
        return consistency_path(first, self.size if second is None else second, self.subtree)


class CompactRange:
    """The O(log n) state that grows a tree leaf by leaf: the perfect subtrees of
    `perfect_subtrees(0, size)`. Enough to compute the root and every new perfect node, so the
    server extends its stored tree and an auditor recomputes roots without holding the log."""

    def __init__(self, size: int = 0, hashes: Sequence[bytes] = ()) -> None:
        keys = perfect_subtrees(0, size) if size else []
        if len(keys) != len(hashes):
            raise ValueError(f"a tree of {size} leaves has {len(keys)} frontier nodes")
        self.size = size
        self._stack: list[tuple[int, bytes]] = [
            (level, node) for (level, _), node in zip(keys, hashes, strict=True)
        ]

    @property
    def hashes(self) -> list[bytes]:
        """The frontier hashes, left to right."""
        return [node for _, node in self._stack]

    def append(self, leaf: bytes) -> list[tuple[NodeKey, bytes]]:
        """Add a leaf hash; returns the perfect nodes it completed, leaf first."""
        self.size += 1
        made: list[tuple[NodeKey, bytes]] = [((0, self.size - 1), leaf)]
        level, node = 0, leaf
        while self._stack and self._stack[-1][0] == level:
            _, left = self._stack.pop()
            level, node = level + 1, node_hash(left, node)
            made.append(((level, (self.size >> level) - 1), node))
        self._stack.append((level, node))
        return made

    def root(self) -> bytes:
        """Root hash of the tree so far."""
        return fold_subtrees(self.hashes)
