"""`fcsbe db upgrade` prepares a deployment completely: schema, server party and signing key,
exactly once even when several replicas run it at the same moment on one PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from fcsbe.server.storage.parties import PartyRow
from tests.support.databases import (
    create_postgres_database,
    drop_postgres_database,
    postgres_reachable,
)

CLEAN_ENV = {k: v for k, v in os.environ.items() if not k.startswith("FCSBE_")}


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'fcsbe.db'}"
        return
    why = postgres_reachable()
    if why is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is required in CI: {why}")
        pytest.skip(f"PostgreSQL not reachable: {why}")
    name, url = create_postgres_database("fcsbe_upgrade")
    yield url
    drop_postgres_database(name)


async def _server_parties(url: str) -> list[PartyRow]:
    engine = create_async_engine(url)
    try:
        async with AsyncSession(engine) as session:
            rows = await session.scalars(select(PartyRow).where(PartyRow.is_server))
            return list(rows)
    finally:
        await engine.dispose()


def test_replicas_upgrading_together_make_one_party_and_one_key(
    database_url: str, tmp_path: Path
) -> None:
    env = {
        **CLEAN_ENV,
        "FCSBE_DATABASE_URL": database_url,
        "FCSBE_DATA_DIR": str(tmp_path / "shared-volume"),
        "FCSBE_SERVER_PARTY_ID": "NL-CSO",
        "FCSBE_LOG_LEVEL": "WARNING",
    }
    replicas = [
        subprocess.Popen(
            [sys.executable, "-m", "fcsbe.cli", "db", "upgrade"],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    outputs = [replica.communicate(timeout=300) for replica in replicas]
    assert [replica.returncode for replica in replicas] == [0, 0, 0], outputs
    created = [out for out, _err in outputs if "server party NL-CSO created" in out]
    assert len(created) == 1, outputs
    (party,) = asyncio.run(_server_parties(database_url))
    assert party.party_id == "NL-CSO"
    key = json.loads((tmp_path / "shared-volume" / "keys" / "signing-key.jwk").read_text())
    assert [k["kid"] for k in party.jwks["keys"]] == [key["kid"]]
