"""The accept path's fast statements share the request session's transaction.

On PostgreSQL the hot path runs compiled statements on the driver connection of the session
(`storage/driver.py`); elsewhere the same statements run through SQLAlchemy. Either way they
must be part of the session's one transaction: what they write is seen by the session before
commit, is gone after a rollback, and is what the plain SQLAlchemy query reads back.
"""

from __future__ import annotations

from datetime import timedelta

from fastapi import FastAPI
from sqlalchemy import select, text

from fcsbe.server.storage.base import utcnow
from fcsbe.server.storage.driver import pg_connection
from fcsbe.server.storage.idempotency import IdempotencyKeyRow, find_key, store_key


def _key(key: str) -> dict[str, object]:
    now = utcnow()
    return {
        "party_id": "FO-FAST",
        "key": key,
        "method": "POST",
        "path": "/v1/flexibility-services",
        "request_hash": "ab" * 32,
        "status": "COMPLETED",
        "response_status": 202,
        "response_headers": {"location": "/v1/flexibility-services/fs-1"},
        "response_body": b'{"fs_id": "fs-1"}',
        "created_at": now,
        "expires_at": now + timedelta(days=1),
    }


async def test_a_fast_write_is_undone_by_the_session_rollback(app: FastAPI) -> None:
    factory = app.state.session_factory
    async with factory() as session:
        await store_key(session, _key("k-rolled-back"))
        seen = await find_key(session, "FO-FAST", "k-rolled-back")
        assert seen is not None  # seen by the session before commit: the same transaction
        assert seen.status == "COMPLETED"
        await session.rollback()
    async with factory() as session:
        assert await find_key(session, "FO-FAST", "k-rolled-back") is None


async def test_fast_and_plain_reads_agree_after_commit(app: FastAPI) -> None:
    factory = app.state.session_factory
    async with factory() as session:
        await store_key(session, _key("k-kept"))
        await session.commit()
    async with factory() as session:
        fast = await find_key(session, "FO-FAST", "k-kept")
        plain = (
            await session.execute(
                select(IdempotencyKeyRow).where(
                    IdempotencyKeyRow.party_id == "FO-FAST", IdempotencyKeyRow.key == "k-kept"
                )
            )
        ).scalar_one()
    assert fast is not None
    assert (
        fast.request_hash,
        fast.status,
        fast.response_status,
        fast.response_headers,
        bytes(fast.response_body or b""),
        fast.expires_at,
    ) == (
        plain.request_hash,
        plain.status,
        plain.response_status,
        plain.response_headers,
        plain.response_body,
        plain.expires_at,
    )


async def test_the_driver_connection_is_the_sessions_own(app: FastAPI) -> None:
    """On PostgreSQL both paths talk through one server process; elsewhere there is no fast
    path and the session's own connection is used."""
    async with app.state.session_factory() as session:
        driver = await pg_connection(session)
        if session.get_bind().dialect.name != "postgresql":
            assert driver is None
            return
        assert driver is not None
        through_session = (await session.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        assert await driver.fetchval("SELECT pg_backend_pid()") == through_session
        await session.rollback()
