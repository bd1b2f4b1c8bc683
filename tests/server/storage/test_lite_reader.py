"""SQLite reads beside the single writer (`storage/fast/lite_reader.py`).

A session told `reads_outside_transaction` (the FS accept) reads on the database's reader, not
on the writer connection: so it takes no `BEGIN IMMEDIATE`, and a writer holding its
transaction open does not keep it waiting. Once the session's own transaction has begun, its
reads join that transaction (they must see its writes).
"""

from __future__ import annotations

import asyncio

import pytest
from fastapi import FastAPI
from sqlalchemy import text

from fcsbe.server.security.tokens import hash_secret
from fcsbe.server.storage.fast.accept import find_credential
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
