"""Group commit (`storage/fast/group_commit.py`): many requests' writes, one transaction.

Each write set is answered only once the transaction holding it committed; a write set that
fails on its own fails alone; a failure of the database fails the batch and commits nothing.
Through the API: concurrent accepts share commits, and concurrent requests with one key or
one fs_id still get exactly one effect.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event, func, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from fcsbe.server.storage.base import utcnow
from fcsbe.server.storage.fast.group_commit import GroupCommit
from fcsbe.server.storage.fast.keys import find_key, store_key
from fcsbe.server.storage.flexibility_services import FlexibilityServiceRow
from fcsbe.server.storage.idempotency import IdempotencyKeyRow
from tests.support.factories import make_fo
from tests.support.fs_fixtures import make_contract, request_body


def _key(key: str) -> dict[str, Any]:
    now = utcnow()
    return {
        "party_id": "FO-A",
        "key": key,
        "method": "POST",
        "path": "/p",
        "request_hash": "ab" * 32,
        "status": "DONE",
        "response_status": 202,
        "response_headers": None,
        "response_body": b"{}",
        "created_at": now,
        "expires_at": now + timedelta(days=1),
    }


def _storing(key: str) -> Any:
    async def write(session: AsyncSession) -> str:
        await store_key(session, _key(key))
        return key

    return write


async def _keys(app: FastAPI) -> set[str]:
    async with app.state.session_factory() as session:
        return set((await session.execute(select(IdempotencyKeyRow.key))).scalars())


async def test_waiting_writes_share_a_transaction_and_each_is_answered_after_it(
    app: FastAPI,
) -> None:
    group = GroupCommit(app.state.session_factory)
    committed: list[bool] = []

    async def one(n: int) -> None:
        assert await group.run(_storing(f"k{n}")) == f"k{n}"
        async with app.state.session_factory() as session:  # durable once answered
            committed.append(await find_key(session, "FO-A", f"k{n}") is not None)

    await asyncio.gather(*(one(n) for n in range(40)))
    await group.close()
    assert committed == [True] * 40
    assert group.writes == 40
    assert group.batches < 40  # the writes that waited went together


async def test_a_bad_write_fails_alone(app: FastAPI) -> None:
    group = GroupCommit(app.state.session_factory)

    async def refused(_: AsyncSession) -> None:
        raise ValueError("not this one")

    outcomes = await asyncio.gather(
        group.run(_storing("a")),
        group.run(_storing("a")),  # the same primary key: a constraint violation
        group.run(refused),
        group.run(_storing("b")),
        group.run(_storing("b")),  # fails in the second pass, under its savepoint
        group.run(_storing("c")),
        return_exceptions=True,
    )
    await group.close()
    assert type(outcomes[4]).__name__ == "IntegrityError"
    assert outcomes[5] == "c"
    assert outcomes[0] == "a"
    assert type(outcomes[1]).__name__ == "IntegrityError"
    assert isinstance(outcomes[2], ValueError)
    assert outcomes[3] == "b"
    assert await _keys(app) == {"a", "b", "c"}


async def test_a_database_failure_fails_the_whole_batch(app: FastAPI) -> None:
    group = GroupCommit(app.state.session_factory)
    gone = DBAPIError("COMMIT", None, Exception("connection lost"), connection_invalidated=True)

    async def lost(session: AsyncSession) -> None:
        await store_key(session, _key("lost"))
        raise gone

    outcomes = await asyncio.gather(
        group.run(_storing("c")), group.run(lost), group.run(_storing("d")), return_exceptions=True
    )
    await group.close()
    assert all(outcome is gone for outcome in outcomes[1:])
    assert not {"d", "lost"} & await _keys(app)


async def test_concurrent_accepts_with_one_key_or_one_fs_id_have_one_effect(
    app: FastAPI, http: httpx.AsyncClient
) -> None:
    token = await make_fo(app.state.session_factory, "FO-A")
    await make_contract(app.state.session_factory, "FO-A")
    auth = {"authorization": f"Bearer {token}"}

    now = utcnow()

    def post(fs_id: str, key: str) -> Any:
        headers = {**auth, "idempotency-key": key}
        body = request_body(fs_id, now=now)  # retries of one request are byte-identical
        return http.post("/v1/flexibility-services", json=body, headers=headers)

    same_key = await asyncio.gather(*(post("fs-1", "key-1") for _ in range(4)))
    same_fs = await asyncio.gather(*(post("fs-2", f"key-2-{n}") for n in range(4)))
    others = await asyncio.gather(*(post(f"fs-x{n}", f"key-x{n}") for n in range(8)))

    # one key: one effect; the others replay it, or are told it is still in progress
    assert {r.status_code for r in same_key} <= {202, 409}
    bodies = {r.content for r in same_key if r.status_code == 202}
    assert len(bodies) == 1
    assert [r.status_code for r in same_fs].count(202) == 1
    assert {r.status_code for r in same_fs} == {202, 409}
    assert [r.status_code for r in others] == [202] * 8
    async with app.state.session_factory() as session:
        count = await session.scalar(select(func.count()).select_from(FlexibilityServiceRow))
    assert count == 10
    assert app.state.group_commit.writes >= 10


async def test_a_batch_of_accepts_is_one_statement_without_begin_or_commit(
    app: FastAPI, http: httpx.AsyncClient, backend: str
) -> None:
    """On PostgreSQL a batch of accepts is one statement, atomic and durable on its own: no
    BEGIN and no COMMIT round trip (SQLite's writer always begins its transaction)."""
    if backend != "postgresql":
        pytest.skip("SQLite's single writer begins every transaction (BEGIN IMMEDIATE)")
    token = await make_fo(app.state.session_factory, "FO-A")
    await make_contract(app.state.session_factory, "FO-A")
    logged: list[str] = []

    def log(query: Any) -> None:
        logged.append(" ".join(query.query.split())[:40])

    def on_checkout(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        driver = dbapi_connection.driver_connection
        if log not in driver._query_loggers:
            driver.add_query_logger(log)

    event.listen(app.state.engine.sync_engine, "checkout", on_checkout)
    try:
        auth = {"authorization": f"Bearer {token}"}
        answers = await asyncio.gather(
            *(
                http.post(
                    "/v1/flexibility-services",
                    json=request_body(f"fs-{n}"),
                    headers={**auth, "idempotency-key": f"k-{n}"},
                )
                for n in range(12)
            )
        )
    finally:
        event.remove(app.state.engine.sync_engine, "checkout", on_checkout)
    assert [a.status_code for a in answers] == [202] * 12
    inserts = [q for q in logged if "INSERT INTO flexibility_services" in q or "WITH " in q]
    assert inserts, logged
    assert not [q for q in logged if q.upper().startswith(("BEGIN", "COMMIT"))], logged
    async with app.state.session_factory() as session:
        count = await session.scalar(select(func.count()).select_from(FlexibilityServiceRow))
    assert count == 12
