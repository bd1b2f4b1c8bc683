"""Event log: scoped reads, tree growth, signed heads, inclusion and consistency proofs."""

from __future__ import annotations

import base64
import itertools
from datetime import timedelta

import pytest
from fastapi import FastAPI

from fcsbe.client import FcsbeClient, NotFoundError, UnprocessableEntityError
from fcsbe.client.proofs import (
    ProofVerificationError,
    verify_entry_inclusion,
    verify_heads_consistent,
    verify_tree_head,
)
from fcsbe.model import EMPTY_ROOT, MerkleTree, event_leaf_hash
from fcsbe.server.services.event_log.log import append_event, chain_pending
from fcsbe.server.services.event_log.tree import extend_tree, sign_tree_head, tree_step
from fcsbe.server.storage.base import utcnow
from tests.support.factories import make_fo, make_operator


async def _events(app: FastAPI, parties: list[str | None], fs_id: str | None = None) -> None:
    async with app.state.session_factory() as session:
        for n, party in enumerate(parties):
            await append_event(
                session,
                type="TEST_EVENT" if n % 2 else "FS_STATE_CHANGED",
                object_ref=f"obj/{n}",
                summary=f"event {n}",
                party_id=party,
                fs_id=fs_id,
                payload={"n": n},
            )
        await session.commit()


async def _grow(app: FastAPI) -> int:
    async with app.state.session_factory() as session:
        await chain_pending(session)
        added = await tree_step(session, app.state.keys, 0.0)
        await session.commit()
    return added


async def test_fo_reads_only_its_entries_and_operator_reads_all(
    app: FastAPI, client: FcsbeClient
) -> None:
    factory = app.state.session_factory
    client.token = await make_fo(factory, "FO-A")
    other = await make_fo(factory, "FO-B")
    operator = await make_operator(factory)
    await _events(app, ["FO-A", "FO-B", None, "FO-A", "FO-A"], fs_id="fs-1")
    await _grow(app)
    mine = await client.event_log.list(page_size=1).to_list()
    assert [e.seq for e in mine] == [1, 4, 5]
    assert all(e.expected_hash() == e.hash for e in mine)
    assert [e.seq for e in await client.event_log.list(type="TEST_EVENT").to_list()] == [4]
    assert [e.seq for e in await client.event_log.list(after_seq=4).to_list()] == [5]
    assert await client.event_log.list(fs_id="fs-other").to_list() == []
    client.token = other
    assert [e.seq for e in await client.event_log.list().to_list()] == [2]
    client.token = operator
    everything = await client.event_log.list().to_list()
    assert [e.seq for e in everything] == [1, 2, 3, 4, 5]
    for earlier, later in itertools.pairwise(everything):
        assert later.prev_hash == earlier.hash


async def test_tree_grows_in_batches_and_matches_an_in_memory_tree(
    app: FastAPI, client: FcsbeClient
) -> None:
    client.token = await make_operator(app.state.session_factory)
    await _events(app, ["FO-A"] * 13)
    async with app.state.session_factory() as session:
        await chain_pending(session)
        assert await extend_tree(session, limit=5) == 5
        assert await extend_tree(session, limit=5) == 5
        assert await extend_tree(session, limit=5) == 3
        assert await extend_tree(session) == 0
        head = await sign_tree_head(session, app.state.keys)
        assert await sign_tree_head(session, app.state.keys) is None
        await session.commit()
    assert head is not None
    entries = await client.event_log.list().to_list()
    tree = MerkleTree(event_leaf_hash(e.hash) for e in entries)
    assert head.tree_size == 13
    assert head.root_hash == tree.root().hex()
    assert await client.event_log.head() == head
    assert await client.event_log.head(tree_size=13) == head


async def test_heads_and_proofs_verify_offline(app: FastAPI, client: FcsbeClient) -> None:
    factory = app.state.session_factory
    client.token = await make_fo(factory, "FO-A")
    jwks = (await client.discovery.version_details()).jwks
    empty = await client.event_log.head()
    assert (empty.tree_size, empty.root_hash) == (0, EMPTY_ROOT.hex())
    verify_tree_head(empty, jwks)

    await _events(app, ["FO-A", "FO-B", "FO-A"])
    await _grow(app)
    first = await client.event_log.head()
    verify_tree_head(first, jwks)
    entries = await client.event_log.list().to_list()
    for entry in entries:
        proof = await client.event_log.inclusion_proof(entry.seq)
        verify_entry_inclusion(entry, proof, first)

    await _events(app, ["FO-A"] * 6)
    await _grow(app)
    second = await client.event_log.head()
    assert second.tree_size == 9
    consistency = await client.event_log.consistency_proof(first.tree_size)
    verify_heads_consistent(first, second, consistency, jwks)
    # An old entry is still provable against the new head, and against the old one.
    old = await client.event_log.inclusion_proof(entries[0].seq, tree_size=first.tree_size)
    verify_entry_inclusion(entries[0], old, first)
    with pytest.raises(ProofVerificationError):
        verify_entry_inclusion(entries[0], old, second)
    forged = first.model_copy(update={"root_hash": second.root_hash})
    with pytest.raises(ProofVerificationError, match="signature"):
        verify_tree_head(forged, jwks)
    with pytest.raises(ProofVerificationError, match="does not extend"):
        verify_heads_consistent(first, second, consistency.model_copy(update={"proof": []}), jwks)
    tampered = entries[0].model_copy(update={"summary": "rewritten"})
    with pytest.raises(ProofVerificationError, match="hash"):
        verify_entry_inclusion(tampered, old, first)


async def test_proof_requests_are_checked(app: FastAPI, client: FcsbeClient) -> None:
    factory = app.state.session_factory
    client.token = await make_fo(factory, "FO-A")
    with pytest.raises(NotFoundError):
        await client.event_log.inclusion_proof(1)
    await _events(app, ["FO-A", "FO-B"])
    await _grow(app)
    with pytest.raises(NotFoundError) as hidden:
        await client.event_log.inclusion_proof(2)
    assert hidden.value.problem is not None
    assert hidden.value.problem.type.endswith("event-not-found")
    with pytest.raises(UnprocessableEntityError) as beyond:
        await client.event_log.inclusion_proof(1, tree_size=5)
    assert beyond.value.problem is not None
    assert beyond.value.problem.errors is not None
    assert beyond.value.problem.errors[0].pointer == "/query/tree_size"
    with pytest.raises(UnprocessableEntityError):
        await client.event_log.consistency_proof(3)
    with pytest.raises(NotFoundError):
        await client.event_log.head(tree_size=1)
    http = client._transport.http
    headers = {"authorization": f"Bearer {client.token}"}
    mixed = await http.get("/v1/event-log/proof?seq=1&first=1", headers=headers)
    assert mixed.status_code == 422
    assert mixed.json()["errors"][0]["pointer"] == "/query/first"
    neither = await http.get("/v1/event-log/proof", headers=headers)
    assert neither.status_code == 422
    bad_cursor = await http.get("/v1/event-log?cursor=bm90LWFuLWludA", headers=headers)
    assert bad_cursor.status_code == 422
    assert (await http.get("/v1/event-log")).status_code == 401


async def test_unchained_log_has_no_head_yet(app: FastAPI, client: FcsbeClient) -> None:
    client.token = await make_fo(app.state.session_factory, "FO-A")
    await _events(app, ["FO-A"])
    async with app.state.session_factory() as session:
        await chain_pending(session)
        await session.commit()
    response = await client._transport.http.get(
        "/v1/event-log/head", headers={"authorization": f"Bearer {client.token}"}
    )
    assert response.status_code == 503
    assert response.headers["retry-after"]


async def test_heads_are_rate_limited_unless_forced(app: FastAPI) -> None:
    await _events(app, ["FO-A"])
    await _grow(app)
    await _events(app, ["FO-A"])
    async with app.state.session_factory() as session:
        await chain_pending(session)
        assert await tree_step(session, app.state.keys, 3600.0) == 1
        now = utcnow() + timedelta(hours=2)
        later = await sign_tree_head(session, app.state.keys, min_interval_s=3600.0, now=now)
        await session.commit()
    assert later is not None
    assert later.tree_size == 2


async def test_huge_numbers_are_422_not_500(app: FastAPI, client: FcsbeClient) -> None:
    client.token = await make_fo(app.state.session_factory, "FO-A")
    headers = {"authorization": f"Bearer {client.token}"}
    huge = 10**20
    for path in (
        f"/v1/event-log?after_seq={huge}",
        f"/v1/event-log/head?tree_size={huge}",
        f"/v1/event-log/proof?seq={huge}",
        f"/v1/event-log/proof?first=1&second={huge}",
        "/v1/event-log?cursor=" + base64.urlsafe_b64encode(str(huge).encode()).decode(),
    ):
        response = await client._transport.http.get(path, headers=headers)
        assert response.status_code == 422, path
