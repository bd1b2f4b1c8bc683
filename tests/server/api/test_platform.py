"""Cross-cutting services: principals, idempotency, event log chaining, outbox, paging."""

from __future__ import annotations

import asyncio
import base64

import httpx
import pytest
from fastapi import FastAPI, Request
from pydantic import BaseModel, Field
from sqlalchemy import func, select

from fcsbe.model import InputModel, Problem
from fcsbe.model.canonical import GENESIS_HASH, chain_hash
from fcsbe.server.api.edge.authentication import FoPrincipal, OperatorPrincipal
from fcsbe.server.api.edge.idempotency import IdempotencyKey, Outcome, run_idempotent
from fcsbe.server.deps import DbSession
from fcsbe.server.errors import UnprocessableContent
from fcsbe.server.notifications.outbox import enqueue_notification
from fcsbe.server.security.cursors import CursorSealer, InvalidCursor
from fcsbe.server.services.event_log.log import append_event, chain_pending, entry_fields
from fcsbe.server.storage.event_log import EventLogRow
from fcsbe.server.storage.notifications import OutboxRow
from tests.support.factories import make_fo, make_operator

pytestmark = pytest.mark.own_app  # adds probe routes to its app


class _Thing(InputModel):
    name: str = Field(description="name")
    slow: bool = Field(default=False, description="hold the transaction a while")


class _Made(BaseModel):
    name: str
    by: str
    event_count: int


@pytest.fixture
def probe(app: FastAPI) -> FastAPI:
    @app.post("/probe/things", status_code=201)
    async def make_thing(
        body: _Thing,
        request: Request,
        principal: FoPrincipal,
        session: DbSession,
        key: IdempotencyKey = None,
    ) -> _Made:
        async def handler() -> Outcome:
            await append_event(
                session,
                type="THING_MADE",
                object_ref=f"thing/{body.name}",
                summary="made a thing",
                party_id=principal.party_id,
                payload={"name": body.name},
            )
            await enqueue_notification(
                session,
                fo_party_id=principal.party_id,
                type="SECURITY_EVENT",
                data={"kind": "THING_MADE", "severity": "INFO", "detail": body.name},
            )
            if body.slow:
                await asyncio.sleep(0.3)
            if body.name == "bad":
                raise UnprocessableContent("bad thing")
            count = await session.scalar(select(func.count()).select_from(EventLogRow))
            made = _Made(name=body.name, by=principal.party_id, event_count=int(count or 0))
            return 201, made, {"location": f"/probe/things/{body.name}"}

        return await run_idempotent(request, session, principal.party_id, key, handler)  # type: ignore[return-value]

    @app.get("/probe/operator")
    async def operator_only(principal: OperatorPrincipal) -> dict[str, str]:
        return {"party": principal.party_id}

    return app


async def _count(app: FastAPI, table: type) -> int:
    async with app.state.session_factory() as session:
        return int(await session.scalar(select(func.count()).select_from(table)) or 0)


def _slug(response: httpx.Response) -> str:
    return Problem.model_validate_json(response.content).slug


async def test_authentication_failures(probe: FastAPI, http: httpx.AsyncClient) -> None:
    factory = probe.state.session_factory
    revoked = await make_fo(factory, "FO-R", revoked=True)
    expired = await make_fo(factory, "FO-E", expired=True)
    suspended = await make_fo(factory, "FO-S", enrolment_status="SUSPENDED")
    fo = await make_fo(factory, "FO-A")
    body = {"name": "x"}
    cases = [
        ({}, 401, "unauthorized"),
        ({"authorization": "Basic abc"}, 401, "invalid-token"),
        ({"authorization": "Bearer nope"}, 401, "invalid-token"),
        ({"authorization": f"Bearer {revoked}"}, 401, "token-revoked"),
        ({"authorization": f"Bearer {expired}"}, 401, "token-expired"),
        ({"authorization": f"Bearer {suspended}"}, 401, "enrolment-inactive"),
    ]
    for headers, status, slug in cases:
        response = await http.post("/probe/things", json=body, headers=headers)
        assert (response.status_code, _slug(response)) == (status, slug), headers
    assert (
        await http.post("/probe/things", json=body, headers={"authorization": "Bearer nope"})
    ).headers["www-authenticate"] == "Bearer"
    wrong_role = await http.get("/probe/operator", headers={"authorization": f"Bearer {fo}"})
    assert (wrong_role.status_code, _slug(wrong_role)) == (403, "wrong-role")
    operator = await make_operator(factory)
    ok = await http.get("/probe/operator", headers={"authorization": f"Bearer {operator}"})
    assert ok.json() == {"party": "NL-CSO"}
    # Only the use of a revoked token leaves a trace (a security event, committed at once).
    async with factory() as session:
        events = (await session.execute(select(EventLogRow))).scalars().all()
    assert [(e.type, e.party_id) for e in events] == [("SECURITY_REVOKED_TOKEN_USED", "FO-R")]


async def test_idempotency_semantics(probe: FastAPI, http: httpx.AsyncClient) -> None:
    token = await make_fo(probe.state.session_factory)
    auth = {"authorization": f"Bearer {token}"}

    missing = await http.post("/probe/things", json={"name": "a"}, headers=auth)
    assert (missing.status_code, _slug(missing)) == (400, "idempotency-key-missing")

    first = await http.post(
        "/probe/things", json={"name": "a"}, headers={**auth, "idempotency-key": "k1"}
    )
    assert first.status_code == 201
    assert first.headers["location"] == "/probe/things/a"
    replay = await http.post(
        "/probe/things", json={"name": "a"}, headers={**auth, "idempotency-key": "k1"}
    )
    assert replay.status_code == 201
    assert replay.content == first.content
    assert replay.headers["location"] == "/probe/things/a"
    assert replay.headers["idempotent-replayed"] == "true"

    reused = await http.post(
        "/probe/things", json={"name": "b"}, headers={**auth, "idempotency-key": "k1"}
    )
    assert (reused.status_code, _slug(reused)) == (422, "idempotency-key-reused")

    failed = await http.post(
        "/probe/things", json={"name": "bad"}, headers={**auth, "idempotency-key": "k2"}
    )
    assert failed.status_code == 422
    assert await _count(probe, EventLogRow) == 1
    assert await _count(probe, OutboxRow) == 1

    other = await make_fo(probe.state.session_factory, "FO-B")
    same_key_other_party = await http.post(
        "/probe/things",
        json={"name": "a"},
        headers={"authorization": f"Bearer {other}", "idempotency-key": "k1"},
    )
    assert same_key_other_party.status_code == 201
    assert same_key_other_party.json()["by"] == "FO-B"


async def test_concurrent_same_key_runs_once(
    probe: FastAPI, http: httpx.AsyncClient, backend: str
) -> None:
    token = await make_fo(probe.state.session_factory)
    headers = {"authorization": f"Bearer {token}", "idempotency-key": "race"}
    body = {"name": "r", "slow": True}
    responses = await asyncio.gather(
        *(http.post("/probe/things", json=body, headers=headers) for _ in range(4))
    )
    statuses = sorted(r.status_code for r in responses)
    winners = [
        r for r in responses if r.status_code == 201 and "idempotent-replayed" not in r.headers
    ]
    assert len(winners) == 1
    if backend == "postgresql":
        # Concurrent duplicates are refused while the first runs.
        assert statuses.count(409) >= 1
    for response in responses:
        assert response.status_code in (201, 409)
        if response.status_code == 201:
            assert response.content == winners[0].content
    assert await _count(probe, EventLogRow) == 1


async def test_event_log_chain(app: FastAPI) -> None:
    async with app.state.session_factory() as session:
        for i in range(5):
            await append_event(
                session, type="T", object_ref=f"o/{i}", summary=f"s{i}", payload={"i": i}
            )
        await session.commit()
    async with app.state.session_factory() as session:
        assert await chain_pending(session, limit=3) == 3
        await session.commit()
    async with app.state.session_factory() as session:
        await append_event(session, type="T", object_ref="o/5", summary="s5")
        await session.commit()
        assert await chain_pending(session) == 3
        await session.commit()
        assert await chain_pending(session) == 0
        rows = (
            (await session.execute(select(EventLogRow).order_by(EventLogRow.seq))).scalars().all()
        )
    assert [r.seq for r in rows] == [1, 2, 3, 4, 5, 6]
    prev = GENESIS_HASH
    for row in rows:
        assert row.prev_hash == prev
        assert row.hash == chain_hash(prev, entry_fields(row, row.seq or 0, prev))
        prev = row.hash
    assert [r.object_ref for r in rows] == [f"o/{i}" for i in range(6)]


async def test_outbox_row_carries_the_notification(app: FastAPI) -> None:
    async with app.state.session_factory() as session:
        nid = await enqueue_notification(
            session,
            fo_party_id="FO-A",
            type="FS_STATE_CHANGED",
            data={"revision": 1, "to_state": "ACCEPTED"},
            fs_id="fs-1",
        )
        await session.commit()
        row = (await session.execute(select(OutboxRow))).scalar_one()
    assert row.notification_id == nid
    assert row.status == "PENDING"
    assert row.payload["data"] == {"revision": 1, "to_state": "ACCEPTED"}
    assert row.payload["occurred_at"].endswith("Z")


def test_cursor_round_trip_and_garbage() -> None:
    sealer = CursorSealer(b"k" * 32)
    cursor = sealer.seal(["2026-01-01", 987654321], "FO-A /v1/sites")
    assert sealer.open(cursor, "FO-A /v1/sites") == ["2026-01-01", 987654321]
    raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    assert b"987654321" not in raw, "the sort key is encrypted, not encoded"
    for bad in (
        "%%%not-base64",
        cursor[:-1] + "!",
        cursor[:-2] + ("AA" if cursor[-2:] != "AA" else "BB"),
    ):
        with pytest.raises(InvalidCursor):
            sealer.open(bad, "FO-A /v1/sites")
    with pytest.raises(InvalidCursor):  # another caller, another list, another server
        sealer.open(cursor, "FO-B /v1/sites")
    with pytest.raises(InvalidCursor):
        sealer.open(cursor, "FO-A /v1/sessions")
    with pytest.raises(InvalidCursor):
        CursorSealer(b"x" * 32).open(cursor, "FO-A /v1/sites")
