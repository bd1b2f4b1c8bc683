"""A group commit's batch on an SQLite file, in one hop (`storage/fast/lite_write.py`).

The batch's INSERTs run between their BEGIN IMMEDIATE and COMMIT in one call on the writer's
own connection and thread, while the group committer holds the engine's only connection. The
rows must be those of the accepts written one by one; a refused row fails only its request; a
busy database fails the batch and writes nothing; and the engine's connection, given back idle,
is not rolled back (a hop for nothing), while one given back in a transaction still is.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError, OperationalError

from fcsbe.server.settings import Settings
from fcsbe.server.storage.base import utcnow
from fcsbe.server.storage.engine import create_engine
from fcsbe.server.storage.fast.accept import insert_received_fs
from fcsbe.server.storage.fast.accept_many import insert_received_many, lite_statements
from fcsbe.server.storage.fast.driver import use_plain
from fcsbe.server.storage.fast.group_commit import GroupCommit
from fcsbe.server.storage.fast.lite_write import LiteWriter, writer_for
from fcsbe.server.storage.flexibility_services import FlexibilityServiceRow
from fcsbe.server.storage.parties import PartyRow
from tests.support.accepts import received_accepts, seed_two_fos, stored_rows
from tests.support.databases import empty_all
from tests.support.factories import make_fo
from tests.support.fs_fixtures import make_contract, request_body


@pytest.fixture
def backend() -> str:
    """SQLite only: the writer is SQLite's (PostgreSQL writes a batch in one statement)."""
    return "sqlite"


async def _engine_statements(app: FastAPI) -> list[str]:
    """Every statement the engine's one SQLite connection runs from now on (appended)."""
    seen: list[str] = []
    async with app.state.engine.connect() as connection:
        raw = await connection.get_raw_connection()
        await raw.driver_connection.set_trace_callback(seen.append)
    return seen


def _writer(app: FastAPI, busy_timeout_ms: int = 5000) -> LiteWriter:
    writer = writer_for(app.state.engine, busy_timeout_ms)
    assert writer is not None
    return writer


def _group(app: FastAPI, writer: LiteWriter) -> GroupCommit:
    return GroupCommit(app.state.session_factory, lite=(app.state.engine, writer))


async def _accept(group: GroupCommit, item: Any) -> None:
    async def one_by_one(session: Any) -> None:
        await insert_received_fs(session, *item)

    await group.run(
        one_by_one,
        order=(item[0]["fo_party_id"], item[0]["fs_id"]),
        bulk=insert_received_many,
        item=item,
        one_statement=True,
        lite_bulk=lite_statements,
    )


async def test_a_batch_leaves_the_rows_of_its_accepts_written_one_by_one(app: FastAPI) -> None:
    accepts = received_accepts(12)
    await seed_two_fos(app)
    writer = _writer(app)
    group = _group(app, writer)
    try:
        await asyncio.gather(*(_accept(group, item) for item in accepts))
    finally:
        await group.close()
        await writer.close()
    assert group.batches < len(accepts)  # they went together
    together = await stored_rows(app)
    await empty_all(app.state.engine)
    await seed_two_fos(app)
    for item in accepts:
        async with app.state.session_factory() as session:
            use_plain(session)
            await insert_received_fs(session, *item)
            await session.commit()
    assert together == await stored_rows(app)
    assert len(together["fs"]) == len(together["keys"]) + 3 == 12


async def test_accepts_through_the_api_are_written_by_the_writer_alone(
    app: FastAPI, http: httpx.AsyncClient
) -> None:
    token = await make_fo(app.state.session_factory, "FO-A")
    await make_contract(app.state.session_factory, "FO-A")
    seen = await _engine_statements(app)
    answers = await asyncio.gather(
        *(
            http.post(
                "/v1/flexibility-services",
                json=request_body(f"fs-{n}"),
                headers={"authorization": f"Bearer {token}", "idempotency-key": f"k-{n}"},
            )
            for n in range(20)
        )
    )
    assert [a.status_code for a in answers] == [202] * 20
    # No BEGIN, INSERT, COMMIT or ROLLBACK on the engine's connection: the writer did them.
    assert [s for s in seen if not s.lstrip().upper().startswith("SELECT")] == []
    async with app.state.session_factory() as session:
        stored = await session.scalar(select(func.count()).select_from(FlexibilityServiceRow))
    assert stored == 20


async def test_a_refused_row_fails_only_its_request(app: FastAPI) -> None:
    accepts = received_accepts(8)
    await seed_two_fos(app)
    async with app.state.session_factory() as session:
        await insert_received_fs(session, *accepts[5])  # its fs_id is taken
        await session.commit()
    writer = _writer(app)
    group = _group(app, writer)
    try:
        outcomes = await asyncio.gather(
            *(_accept(group, item) for item in accepts), return_exceptions=True
        )
    finally:
        await group.close()
        await writer.close()
    assert [type(o) for o in outcomes] == [type(None)] * 5 + [IntegrityError] + [type(None)] * 2
    assert len((await stored_rows(app))["fs"]) == 8


async def test_the_writer_enforces_foreign_keys(app: FastAPI) -> None:
    """The writer's connection is set up as the engine's (foreign keys on): an accept of a
    party that does not exist is refused, not stored."""
    accepts = received_accepts(2)  # FO-A and FO-B, neither seeded
    writer = _writer(app)
    try:
        with pytest.raises(IntegrityError, match="FOREIGN KEY"):
            await writer.write(lite_statements(accepts))
    finally:
        await writer.close()
    assert (await stored_rows(app))["fs"] == []


async def test_a_busy_database_fails_the_batch_and_writes_nothing(
    app: FastAPI, tmp_path: Path
) -> None:
    accepts = received_accepts(4)
    await seed_two_fos(app)
    before = await stored_rows(app)
    writer = _writer(app, busy_timeout_ms=50)
    group = _group(app, writer)
    holder = sqlite3.connect(app.state.engine.url.database, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process's writer, holding the lock
    try:
        outcomes = await asyncio.gather(
            *(_accept(group, item) for item in accepts), return_exceptions=True
        )
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        await group.close()
        await writer.close()
    assert all(isinstance(o, OperationalError) for o in outcomes), outcomes
    assert "locked" in str(outcomes[0])
    assert await stored_rows(app) == before


async def test_the_engine_connection_is_rolled_back_only_when_in_a_transaction(
    tmp_path: Path,
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'reset.db'}"
    engine = create_engine(Settings(database_url=url, data_dir=tmp_path))
    try:
        async with engine.begin() as connection:
            await connection.run_sync(PartyRow.__table__.create)
        rollbacks: list[bool] = []  # each a hop to aiosqlite's thread
        async with engine.connect() as connection:
            driver = (await connection.get_raw_connection()).driver_connection
            rollback = driver.rollback

            async def counted() -> None:
                rollbacks.append(driver.in_transaction)
                await rollback()

            driver.rollback = counted
        async with engine.connect() as connection:  # given back idle: nothing to undo
            await connection.get_raw_connection()
        assert rollbacks == []
        async with engine.connect() as connection:  # given back in a transaction
            await connection.execute(
                insert(PartyRow).values(
                    party_id="P",
                    roles=["FO"],
                    legal_name="P",
                    country="NL",
                    identifiers={},
                    jwks={"keys": []},
                    created_at=utcnow(),
                )
            )
        assert rollbacks == [True]
        async with engine.connect() as connection:
            assert (await connection.scalar(select(func.count()).select_from(PartyRow))) == 0
    finally:
        await engine.dispose()
