"""Credential look-ups of concurrent FS accepts read in groups (`storage/fast/group_read.py`).

Each look-up of a group gets the row its own single statement would give: the right
credential, the stored key of its own party, None for an unknown token, whatever else the group
holds. A database failure fails every look-up of the group and no other.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy.exc import DBAPIError

from fcsbe.server.security.tokens import hash_secret
from fcsbe.server.settings import Settings
from fcsbe.server.storage.base import utcnow
from fcsbe.server.storage.engine import create_engine
from fcsbe.server.storage.fast.credentials import (
    CREDENTIAL_WITH_KEY,
    find_credential,
    read_in_groups,
)
from fcsbe.server.storage.fast.driver import pg_connection, reads_outside_transaction
from fcsbe.server.storage.fast.group_read import CredentialReads
from fcsbe.server.storage.fast.keys import LOCK_PREFIX, LOCK_SEPARATOR, find_key
from fcsbe.server.storage.idempotency import IdempotencyKeyRow
from tests.support.factories import make_fo


@pytest.fixture
def backend() -> str:
    """PostgreSQL only: SQLite reads beside its writer on the loop's thread, one by one."""
    return "postgresql"


async def _single(app: FastAPI, token_hash: str, key: str) -> tuple[object, ...] | None:
    """What the one-request statement answers for this pair."""
    async with app.state.session_factory() as session:
        reads_outside_transaction(session)
        driver = await pg_connection(session)
        assert driver is not None
        row = await CREDENTIAL_WITH_KEY.fast.fetchrow(
            driver,
            {
                "token_hash": token_hash,
                "key": key,
                "lock_prefix": LOCK_PREFIX,
                "lock_suffix": LOCK_SEPARATOR + key,
            },
        )
        return None if row is None else tuple(row)


async def test_each_look_up_of_a_group_gets_its_own_answer(app: FastAPI) -> None:
    factory = app.state.session_factory
    tokens = [await make_fo(factory, f"FO-{n}") for n in range(3)]
    now = utcnow()
    async with factory() as session:
        session.add(
            IdempotencyKeyRow(
                party_id="FO-1",
                key="used",
                method="POST",
                path="/v1/flexibility-services",
                request_hash="h1",
                status="DONE",
                response_status=202,
                response_headers={"location": "/x"},
                response_body=b"{}",
                created_at=now,
                expires_at=now.replace(year=now.year + 1),
            )
        )
        await session.commit()
    asked = [
        (hash_secret(tokens[n % 3]), key)
        for n, key in enumerate(["used", "used", "fresh", "used", "fresh", "fresh"] * 5)
    ]
    asked += [(hash_secret("fcsbe_at_unknown"), "used"), (asked[0][0], asked[0][1])]
    reads = CredentialReads(app.state.engine)
    try:
        answers = await asyncio.gather(*(reads.find(h, k) for h, k in asked))
        expected = [await _single(app, h, k) for h, k in asked]
        assert [None if a is None else tuple(a) for a in answers] == expected
        assert reads.reads == len(asked)
        assert reads.groups < len(asked)  # read together, not one by one
        parties = [None if a is None else a[2] for a in answers]
        assert parties[:3] == ["FO-0", "FO-1", "FO-2"]
        assert parties[-2] is None
        # Only FO-1's look-ups of "used" find its stored key.
        found_keys = {(a[2], k) for a, (_, k) in zip(answers, asked, strict=True) if a and a[10]}
        assert found_keys == {("FO-1", "used")}
    finally:
        await reads.close()


async def test_the_accept_edge_reads_its_credential_and_key_in_a_group(app: FastAPI) -> None:
    token = await make_fo(app.state.session_factory, "FO-G")
    async with app.state.session_factory() as session:
        reads_outside_transaction(session)
        read_in_groups(session, app.state.credential_reads)
        before = app.state.credential_reads.reads
        credential = await find_credential(session, hash_secret(token), "k-1")
        assert credential is not None
        assert credential.party_id == "FO-G"
        assert app.state.credential_reads.reads == before + 1
        assert await find_key(session, "FO-G", "k-1") is None  # read with the credential
        assert not session.in_transaction()  # the request's session never took a connection


async def test_a_failing_database_fails_the_group_and_the_next_group_reads_again(
    postgresql_url: str, tmp_path: Path
) -> None:
    broken = Settings(
        database_url=postgresql_url.rsplit("/", 1)[0] + "/fcsbe_no_such_database",
        data_dir=tmp_path,
    )
    engine = create_engine(broken)
    reads = CredentialReads(engine)
    try:
        results = await asyncio.gather(
            *(reads.find("h", f"k{n}") for n in range(4)), return_exceptions=True
        )
        assert all(isinstance(r, DBAPIError) for r in results), results
        # The reader goes on: the next look-up is tried again, and fails on its own.
        with pytest.raises(DBAPIError):
            await reads.find("h", "k9")
    finally:
        await reads.close()
        await engine.dispose()
