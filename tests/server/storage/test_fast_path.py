"""The accept path's fast statements (`storage/fast/`) against their plain twins.

On PostgreSQL the fast statements run on the driver connection of the session; a session told
to `use_plain` (and SQLite always) runs the plain SQLAlchemy twins. Both must give the same
rows, and the fast ones must be part of the session's one transaction: what they write is seen
by the session before commit and is gone after its rollback.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from fcsbe.server.security.principal import Principal, Role
from fcsbe.server.security.tokens import hash_secret
from fcsbe.server.storage.base import utcnow
from fcsbe.server.storage.contracts import ContractRow
from fcsbe.server.storage.event_log import EventLogRow
from fcsbe.server.storage.fast import accept, credentials, keys
from fcsbe.server.storage.fast.driver import pg_connection, reads_outside_transaction, use_plain
from fcsbe.server.storage.flexibility_services import FlexibilityServiceRow, FsTransitionRow
from fcsbe.server.storage.idempotency import IdempotencyKeyRow
from tests.support.factories import make_fo
from tests.support.fs_fixtures import make_contract

PARTY = "FO-FAST"
NOW = utcnow()


def _key(key: str) -> dict[str, Any]:
    now = NOW
    return {
        "party_id": PARTY,
        "key": key,
        "method": "POST",
        "path": "/v1/flexibility-services",
        "request_hash": "ab" * 32,
        "status": "DONE",
        "response_status": 202,
        "response_headers": {"location": "/v1/flexibility-services/fs"},
        "response_body": b'{"fs_id": "x"}',
        "created_at": now,
        "expires_at": now + timedelta(days=1),
    }


async def _accept(session: AsyncSession, fs_id: str) -> int:
    now = NOW
    values = {
        "fo_party_id": PARTY,
        "fs_id": fs_id,
        "fsc_id": "fsc-signed",
        "fs_type": "SETPOINT",
        "window_start": now,
        "window_end": now + timedelta(hours=1),
        "response_deadline": now + timedelta(minutes=1),
        "request": {"fs_id": fs_id, "nested": [1, 2.5, None]},
        "correlation_id": "corr",
        "created_at": now,
    }
    event = {
        "time": now,
        "source": "FCSBE",
        "type": "FS_RECEIVED",
        "severity": "INFO",
        "party_id": PARTY,
        "fs_id": fs_id,
        "object_ref": f"fs/{fs_id}/1",
        "summary": "received",
        "payload_digest": "cd" * 32,
    }
    return await accept.insert_received_fs(session, values, event, _key(fs_id))


async def _written(session: AsyncSession, fs_id: str) -> tuple[Any, ...]:
    """What an accept wrote, read with plain SQLAlchemy, without ids and times."""
    fs = (
        await session.execute(
            select(FlexibilityServiceRow).where(FlexibilityServiceRow.fs_id == fs_id)
        )
    ).scalar_one()
    transition = (
        await session.execute(select(FsTransitionRow).where(FsTransitionRow.fs_pk == fs.id))
    ).scalar_one()
    event = (
        await session.execute(select(EventLogRow).where(EventLogRow.fs_id == fs_id))
    ).scalar_one()
    key = (
        await session.execute(select(IdempotencyKeyRow).where(IdempotencyKeyRow.key == fs_id))
    ).scalar_one()
    request = dict(fs.request)
    request.pop("fs_id")
    return (
        (fs.revision, fs.state, fs.fs_type, fs.contract_id is not None, request, fs.correlation_id),
        (transition.revision, transition.from_state, transition.to_state),
        (event.type, event.source, event.summary, event.payload_digest, event.seq),
        (key.status, key.response_status, list(key.response_headers or {}), key.response_body),
    )


@pytest.fixture
async def token(app: FastAPI) -> str:
    factory = app.state.session_factory
    token = await make_fo(factory, PARTY)
    await make_contract(factory, PARTY, "fsc-signed")
    await make_contract(factory, PARTY, "fsc-plain")
    async with factory() as session:
        await session.execute(
            update(ContractRow)
            .where(ContractRow.fsc_id == "fsc-signed")
            .values(signature_required=True)
        )
        await session.commit()
    return token


async def test_fast_and_plain_twins_write_and_read_the_same_rows(app: FastAPI, token: str) -> None:
    """Sessions one after the other: SQLite has a single connection."""
    factory = app.state.session_factory
    principal = Principal(PARTY, Role.FO, "cred", None)
    read: dict[bool, list[Any]] = {}
    for plain in (False, True):
        async with factory() as session:
            if plain:
                use_plain(session)
            await _accept(session, f"fs-{plain}")
            await session.commit()
            seen: list[Any] = [await _written(session, f"fs-{plain}")]
            for key in (None, "k-1"):
                found = await credentials.find_credential(session, hash_secret(token), key)
                assert found is not None
                seen.append(tuple(getattr(found, s) for s in credentials.Credential.__slots__))
                for fsc_id in ("fsc-signed", "fsc-plain", "none"):
                    seen.append(await credentials.requires_signature(session, principal, fsc_id))
            for key in (f"fs-{plain}", "unknown"):
                stored = await keys.find_key(session, PARTY, key)
                seen.append(
                    None if stored is None else [getattr(stored, s) for s in stored.__slots__]
                )
            read[plain] = seen
            await session.rollback()
    assert read[False][2:5] == [True, False, False]  # the signed contract is known as such
    assert isinstance(read[False][-2][3], dict)  # response headers decoded from JSON
    assert read[False] == read[True]


async def test_a_fast_write_is_part_of_the_sessions_transaction(app: FastAPI, token: str) -> None:
    factory = app.state.session_factory
    async with factory() as session:
        await _accept(session, "fs-rolled-back")
        await keys.store_key(session, _key("k-rolled-back"))
        seen = await _written(session, "fs-rolled-back")  # plain reads, same transaction
        assert seen[0][1] == "RECEIVED"
        assert await keys.find_key(session, PARTY, "k-rolled-back") is not None
        await session.rollback()
    async with factory() as session:
        assert await keys.find_key(session, PARTY, "k-rolled-back") is None
        assert await keys.find_key(session, PARTY, "fs-rolled-back") is None
        rows = await session.execute(select(FlexibilityServiceRow.id))
        assert rows.first() is None


async def test_the_signed_contracts_read_with_the_credential_end_with_the_transaction(
    app: FastAPI, token: str
) -> None:
    async with app.state.session_factory() as session:
        assert await credentials.find_credential(session, hash_secret(token)) is not None
        on_pg = await pg_connection(session) is not None
        read = credentials.signed_contracts(session, PARTY)
        assert read == (frozenset({"fsc-signed"}) if on_pg else None)
        await session.commit()
        assert credentials.signed_contracts(session, PARTY) is None


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


def test_every_fast_statement_has_a_plain_twin() -> None:
    names = [twin.name for twin in accept.TWINS]
    assert len(set(names)) == len(names)
    for twin in accept.TWINS:
        assert twin.plain is not None
        assert twin.fast.sql  # compiles for asyncpg


async def test_reads_outside_a_transaction_read_the_key_with_the_credential(
    app: FastAPI, token: str
) -> None:
    """The group-committed accept's reads: credential, signed contracts and the stored key in
    one statement (on SQLite too, on the reader beside the writer), and no transaction opened
    for them."""
    factory = app.state.session_factory
    async with factory() as session:
        await _accept(session, "fs-kept")
        await session.commit()
    for key in ("fs-kept", "unknown"):
        async with factory() as plain:
            use_plain(plain)
            expected = await keys.find_key(plain, PARTY, key)
        async with factory() as session:
            reads_outside_transaction(session)
            found = await credentials.find_credential(session, hash_secret(token), key)
            assert found is not None
            stored = await keys.find_key(session, PARTY, key)
            assert (stored is None) == (expected is None)
            if stored is not None and expected is not None:
                assert [getattr(stored, s) for s in stored.__slots__] == [
                    getattr(expected, s) for s in expected.__slots__
                ]
            driver = await pg_connection(session)
            if driver is not None:
                assert not driver.is_in_transaction()
            else:  # SQLite: read on the reader beside the writer, the session never began
                assert not session.in_transaction()
            assert credentials.signed_contracts(session, PARTY) == frozenset({"fsc-signed"})
            await session.commit()
