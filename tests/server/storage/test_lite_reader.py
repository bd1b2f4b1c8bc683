"""SQLite reads beside the single writer (`storage/fast/lite_reader.py`).

A session told `reads_outside_transaction` (the FS accept) reads on the database's reader, not
on the writer connection: so it takes no `BEGIN IMMEDIATE`, and a writer holding its
transaction open does not keep it waiting. Once the session's own transaction has begun, its
reads join that transaction (they must see its writes).
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy import text

from fcsbe.server.security.tokens import hash_secret
from fcsbe.server.storage.fast.credentials import find_credential
from fcsbe.server.storage.fast.driver import lite_connection, reads_outside_transaction
from fcsbe.server.storage.fast.lite_reader import LiteReader
from tests.support.factories import make_fo


@pytest.fixture
def backend() -> str:
    """SQLite only: PostgreSQL reads outside a transaction on a pooled connection of its own."""
    return "sqlite"


@pytest.fixture
def sqlite_app(app: FastAPI) -> FastAPI:
    return app


async def test_reads_outside_a_transaction_do_not_wait_for_the_writer(sqlite_app: FastAPI) -> None:
    factory = sqlite_app.state.session_factory
    token = await make_fo(factory, "FO-R")
    async with factory() as writer:
        # The writer holds the only pooled connection, in a write transaction, uncommitted.
        await writer.execute(text("UPDATE parties SET legal_name = 'changing' WHERE 1 = 0"))
        async with factory() as reader:
            reads_outside_transaction(reader)
            connection = await asyncio.wait_for(lite_connection(reader), timeout=5)
            assert isinstance(connection, LiteReader)
            found = await asyncio.wait_for(find_credential(reader, hash_secret(token)), 5)
            assert found is not None
            assert found.party_id == "FO-R"
            assert not reader.in_transaction()
        await writer.rollback()


async def test_reads_join_the_session_s_transaction_once_it_began(sqlite_app: FastAPI) -> None:
    async with sqlite_app.state.session_factory() as session:
        reads_outside_transaction(session)
        await session.execute(text("SELECT 1"))  # begins the session's transaction
        connection = await lite_connection(session)
        assert connection is not None
        assert not isinstance(connection, LiteReader)


async def test_a_read_waits_for_a_locked_database_on_the_reader_s_thread(tmp_path: Path) -> None:
    """Reads run on the event loop's thread while the database answers at once; when it is
    locked they wait on the reader's thread, so the loop goes on serving meanwhile. (A WAL
    database locks its readers out only in rare moments: a database in rollback-journal mode,
    whose writer can hold an exclusive lock at will, stands in for them.)"""
    path = str(tmp_path / "locked.db")
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (n INTEGER)")
    holder.execute("INSERT INTO t VALUES (7)")
    reader = LiteReader(path)
    try:
        assert await reader.execute_fetchall("SELECT n FROM t", ()) == [(7,)]
        holder.execute("BEGIN EXCLUSIVE")
        holder.execute("UPDATE t SET n = 8")
        ticks = 0

        async def tick() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        ticker = asyncio.create_task(tick())
        read = asyncio.create_task(reader.execute_fetchall("SELECT n FROM t", ()))
        await asyncio.sleep(0.3)
        assert not read.done()
        assert ticks >= 10  # the locked read did not block the loop
        holder.execute("COMMIT")
        assert await asyncio.wait_for(read, timeout=5) == [(8,)]
        ticker.cancel()
    finally:
        holder.close()
        await reader.close()
