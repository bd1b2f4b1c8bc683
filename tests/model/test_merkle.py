"""RFC 9162 / RFC 6962 Merkle tree: the reference test vectors, corruption probes, properties.

The vectors are the RFC 6962 ones of the certificate-transparency project (also used by
transparency-dev/merkle): eight leaves, the roots of every prefix, inclusion and consistency
proofs. RFC 9162 keeps the RFC 6962 hashing, so they hold unchanged.
"""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fcsbe.model.merkle import (
    EMPTY_ROOT,
    CompactRange,
    MerkleTree,
    consistency_path,
    event_leaf_hash,
    inclusion_path,
    leaf_hash,
    node_hash,
    perfect_subtrees,
    required_nodes,
    root_hash,
    subtree_hash_from_nodes,
    verify_consistency,
    verify_inclusion,
)
from tests.support.depth import examples

LEAVES = [
    b"",
    bytes.fromhex("00"),
    bytes.fromhex("10"),
    bytes.fromhex("2021"),
    bytes.fromhex("3031"),
    bytes.fromhex("40414243"),
    bytes.fromhex("5051525354555657"),
    bytes.fromhex("606162636465666768696a6b6c6d6e6f"),
]
ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
# (leaf index, tree size, audit path)
INCLUSION = [
    (
        0,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (
        1,
        5,
        [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (0, 1, []),
]
# (first size, second size, proof)
CONSISTENCY = [
    (1, 1, []),
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        6,
        7,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
]
SOME_HASH = bytes.fromhex("abacaba000000000000000000000000000000000000000000060061e00123456")

TREE = MerkleTree(leaf_hash(leaf) for leaf in LEAVES)


def _h(values: list[str]) -> list[bytes]:
    return [bytes.fromhex(v) for v in values]


def test_hasher_vectors() -> None:
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert leaf_hash(b"").hex() == (
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
    )
    assert leaf_hash(b"L123456").hex() == (
        "395aa064aa4c29f7010acfe3f25db9485bbd4b91897b6ad7ad547639252b4d56"
    )
    assert node_hash(b"N123", b"N456").hex() == (
        "aa217fe888e47007fa15edab33c2b492a722cb106c64667fc2b044444de66bbb"
    )


@pytest.mark.parametrize("size", range(1, 9))
def test_roots_of_every_prefix(size: int) -> None:
    expected = ROOTS[size - 1]
    assert TREE.root(size).hex() == expected
    assert root_hash([leaf_hash(leaf) for leaf in LEAVES[:size]]).hex() == expected


def test_empty_tree() -> None:
    assert MerkleTree().root() == EMPTY_ROOT
    assert root_hash([]) == EMPTY_ROOT


@pytest.mark.parametrize(("index", "size", "path"), INCLUSION)
def test_inclusion_vectors(index: int, size: int, path: list[str]) -> None:
    proof = TREE.inclusion_proof(index, size)
    assert proof == _h(path)
    root = bytes.fromhex(ROOTS[size - 1])
    leaf = leaf_hash(LEAVES[index])
    assert verify_inclusion(index, size, leaf, proof, root)


def _inclusion_probes(
    index: int, size: int, leaf: bytes, proof: list[bytes], root: bytes
) -> list[tuple[int, int, bytes, list[bytes], bytes]]:
    probes = [
        (index - 1, size, leaf, proof, root),
        (index + 1, size, leaf, proof, root),
        (index ^ 2, size, leaf, proof, root),
        (index, size * 2, leaf, proof, root),
        (index, size // 2, leaf, proof, root),
        (index, size, b"WrongLeaf", proof, root),
        (index, size, leaf, proof, EMPTY_ROOT),
        (index, size, leaf, proof, SOME_HASH),
        (index, size, leaf, [*proof, b""], root),
        (index, size, leaf, [*proof, root], root),
        (index, size, leaf, [b"", *proof], root),
        (index, size, leaf, [root, *proof], root),
    ]
    for i in range(len(proof)):
        flipped = list(proof)
        flipped[i] = bytes([flipped[i][0] ^ 8]) + flipped[i][1:]
        probes.append((index, size, leaf, flipped, root))
    if proof:
        probes.append((index, size, leaf, proof[:-1], root))
    if len(proof) > 1:
        probes.append((index, size, leaf, [SOME_HASH, *proof[1:]], root))
    return probes


@pytest.mark.parametrize(("index", "size", "path"), [v for v in INCLUSION if v[2]])
def test_corrupted_inclusion_proofs_fail(index: int, size: int, path: list[str]) -> None:
    root = bytes.fromhex(ROOTS[size - 1])
    leaf = leaf_hash(LEAVES[index])
    for probe in _inclusion_probes(index, size, leaf, _h(path), root):
        assert not verify_inclusion(*probe), probe


def test_single_leaf_and_degenerate_inclusion() -> None:
    data_hash = leaf_hash(b"data")
    assert verify_inclusion(0, 1, data_hash, [], data_hash)
    assert not verify_inclusion(0, 1, b"", [], data_hash)
    assert not verify_inclusion(0, 1, data_hash, [], b"")
    for index, size in [(0, 0), (1, 0), (2, 1)]:
        assert not verify_inclusion(index, size, SOME_HASH, [], EMPTY_ROOT)


@pytest.mark.parametrize(("first", "second", "path"), CONSISTENCY)
def test_consistency_vectors(first: int, second: int, path: list[str]) -> None:
    proof = TREE.consistency_proof(first, second)
    assert proof == _h(path)
    first_root, second_root = bytes.fromhex(ROOTS[first - 1]), bytes.fromhex(ROOTS[second - 1])
    assert verify_consistency(first, second, first_root, second_root, proof)


@pytest.mark.parametrize(("first", "second", "path"), [v for v in CONSISTENCY if v[2]])
def test_corrupted_consistency_proofs_fail(first: int, second: int, path: list[str]) -> None:
    proof = _h(path)
    r1, r2 = bytes.fromhex(ROOTS[first - 1]), bytes.fromhex(ROOTS[second - 1])
    probes = [
        (first - 1, second, r1, r2, proof),
        (first + 1, second, r1, r2, proof),
        (first ^ 2, second, r1, r2, proof),
        (first, second * 2, r1, r2, proof),
        (first, second // 2, r1, r2, proof),
        (first, second, b"WrongRoot", r2, proof),
        (first, second, r1, b"WrongRoot", proof),
        (first, second, r2, r1, proof),
        (first, second, r1, r2, []),
        (first, second, r1, r2, [*proof, b""]),
        (first, second, r1, r2, [*proof, r1]),
        (first, second, r1, r2, [*proof, r2]),
        (first, second, r1, r2, [b"", *proof]),
        (first, second, r1, r2, [r1, *proof]),
        (first, second, r1, r2, [r2, *proof]),
        (first, second, r1, r2, [proof[0], *proof]),
        (first, second, r1, r2, proof[:-1]),
    ]
    for i in range(len(proof)):
        flipped = list(proof)
        flipped[i] = bytes([flipped[i][0] ^ 16]) + flipped[i][1:]
        probes.append((first, second, r1, r2, flipped))
    for probe in probes:
        assert not verify_consistency(*probe), probe


def test_trivial_consistency_cases() -> None:
    r1, r2 = b"don't care 1", b"don't care 2"
    assert not verify_consistency(0, 0, r1, r2, [])
    assert not verify_consistency(1, 1, r1, r2, [])
    assert verify_consistency(0, 0, r1, r1, [])
    assert verify_consistency(0, 1, r1, r2, [])
    assert verify_consistency(1, 1, r2, r2, [])
    assert not verify_consistency(1, 0, r1, r2, [])
    assert not verify_consistency(2, 1, r1, r2, [])
    assert not verify_consistency(1, 2, r1, r2, [])
    assert not verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT])
    assert not verify_consistency(0, 1, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT])
    assert not verify_consistency(1, 1, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT])


def test_perfect_subtrees_decompose_ranges() -> None:
    assert perfect_subtrees(0, 7) == [(2, 0), (1, 2), (0, 6)]
    assert perfect_subtrees(4, 6) == [(1, 2)]
    assert perfect_subtrees(8, 13) == [(2, 2), (0, 12)]
    with pytest.raises(ValueError, match="boundary"):
        perfect_subtrees(1, 3)
    with pytest.raises(ValueError, match="empty"):
        perfect_subtrees(3, 3)


def test_proof_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="outside"):
        inclusion_path(8, 8, TREE.subtree)
    with pytest.raises(ValueError, match="between"):
        consistency_path(9, 8, TREE.subtree)
    with pytest.raises(ValueError, match="outside"):
        TREE.root(9)


def test_event_leaf_hash_is_the_leaf_hash_of_the_chain_hash_bytes() -> None:
    chain = hashlib.sha256(b"entry").hexdigest()
    assert event_leaf_hash(chain) == leaf_hash(bytes.fromhex(chain))


@settings(max_examples=examples(60), deadline=None)
@given(size=st.integers(1, 300), data=st.data())
def test_store_backed_proofs_match_the_in_memory_tree(size: int, data: st.DataObject) -> None:
    """What the server does: fetch only `required_nodes`, then prove; the proofs verify."""
    tree = MerkleTree(leaf_hash(i.to_bytes(4, "big")) for i in range(size))
    index = data.draw(st.integers(0, size - 1))
    first = data.draw(st.integers(0, size))
    keys = required_nodes(inclusion=(index, size), consistency=(first, size))
    store = {key: tree.node(key) for key in keys}
    mth = subtree_hash_from_nodes(store)
    root = mth(0, size)
    assert root == tree.root() == root_hash([tree.node((0, i)) for i in range(size)])
    path = inclusion_path(index, size, mth)
    assert path == tree.inclusion_proof(index)
    assert verify_inclusion(index, size, tree.node((0, index)), path, root)
    proof = consistency_path(first, size, mth)
    first_root = tree.root(first)
    assert verify_consistency(first, size, first_root, root, proof)
    if 0 < first < size:
        assert not verify_consistency(first, size, SOME_HASH, root, proof)


def test_appending_reports_the_completed_nodes() -> None:
    tree = MerkleTree()
    made = [tree.append(leaf_hash(leaf)) for leaf in LEAVES[:4]]
    assert [key for key, _ in made[3]] == [(0, 3), (1, 1), (2, 0)]
    assert made[3][-1][1].hex() == ROOTS[3]


@settings(max_examples=examples(40), deadline=None)
@given(first=st.integers(0, 200), more=st.integers(0, 200))
def test_compact_range_resumes_from_a_stored_frontier(first: int, more: int) -> None:
    """The server's tree extension: resume from the frontier nodes, emit the same nodes."""
    leaves = [leaf_hash(i.to_bytes(4, "big")) for i in range(first + more)]
    tree = MerkleTree(leaves[:first])
    frontier = [tree.node(key) for key in (perfect_subtrees(0, first) if first else [])]
    compact = CompactRange(first, frontier)
    assert compact.root() == tree.root()
    for leaf in leaves[first:]:
        assert compact.append(leaf) == tree.append(leaf)
        assert compact.root() == tree.root()
    assert compact.size == tree.size
    with pytest.raises(ValueError, match="frontier"):
        CompactRange(3, [])
