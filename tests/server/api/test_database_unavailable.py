"""What a lost database looks like to the error handler: 503 + Retry-After, never a 500.

The exceptions are the ones SQLAlchemy and asyncpg really raise when PostgreSQL goes away
(seen under tests/reliability/test_database_outage.py); a genuine bug still answers 500.
"""

from __future__ import annotations

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError, ProgrammingError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.ext.asyncio import create_async_engine

from fcsbe.model import Problem
from fcsbe.server.errors import is_database_unavailable
from fcsbe.server.settings import Settings
from fcsbe.server.storage.engine import DatabaseUnreachable, create_engine

pytestmark = pytest.mark.own_app  # adds probe routes to its app


class _Translated(Exception):
    """The shape of SQLAlchemy's asyncpg adapter errors: a message and the SQLSTATE."""

    def __init__(self, message: str, sqlstate: str | None) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


def _wrapped(sqlstate: str) -> DBAPIError:
    return DBAPIError("COMMIT", None, _Translated("connection lost", sqlstate))


UNAVAILABLE: dict[str, BaseException] = {
    "refused": ConnectionRefusedError(111, "Connect call failed"),
    "unreachable": DatabaseUnreachable("cannot connect to the database: OSError"),
    "statement-timeout": TimeoutError(),
    "pool-timeout": PoolTimeoutError("QueuePool limit reached"),
    "operational": OperationalError("SELECT 1", None, Exception("database is locked")),
    "invalidated": DBAPIError("SELECT 1", None, Exception("closed"), connection_invalidated=True),
    "interface-closed": InterfaceError(
        "SELECT 1", None, Exception("connection is closed"), connection_invalidated=True
    ),
    "connection-does-not-exist": _wrapped(asyncpg.exceptions.ConnectionDoesNotExistError.sqlstate),
    "admin-shutdown": _wrapped("57P01"),
    "too-many-connections": _wrapped("53300"),
}
BUGS: dict[str, BaseException] = {
    "syntax": ProgrammingError("SELEC 1", None, _Translated("syntax error", "42601")),
    "plain-dbapi": DBAPIError("SELECT 1", None, Exception("another operation is in progress")),
    "runtime": RuntimeError("a bug"),
}


@pytest.mark.parametrize("name", sorted(UNAVAILABLE))
def test_outage_exceptions_are_recognised(name: str) -> None:
    assert is_database_unavailable(UNAVAILABLE[name])


@pytest.mark.parametrize("name", sorted(BUGS))
def test_bugs_are_not_mistaken_for_outages(name: str) -> None:
    assert not is_database_unavailable(BUGS[name])


def test_a_cause_chain_is_followed() -> None:
    outer = RuntimeError("while committing")
    outer.__cause__ = ConnectionResetError(104, "reset by peer")
    assert is_database_unavailable(outer)


@pytest.fixture
def raising(app: FastAPI) -> FastAPI:
    @app.get("/probe/raise/{name}")
    async def probe(name: str) -> None:
        raise {**UNAVAILABLE, **BUGS}[name]

    return app


@pytest.mark.parametrize("name", ["refused", "statement-timeout", "connection-does-not-exist"])
async def test_outages_answer_503_with_retry_after(
    raising: FastAPI, http: httpx.AsyncClient, name: str
) -> None:
    response = await http.get(f"/probe/raise/{name}")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"
    assert Problem.model_validate_json(response.content).slug == "service-unavailable"


@pytest.mark.parametrize("name", ["syntax", "plain-dbapi"])
async def test_database_bugs_answer_500(
    raising: FastAPI, http: httpx.AsyncClient, name: str
) -> None:
    response = await http.get(f"/probe/raise/{name}")
    assert response.status_code == 500
    assert "retry-after" not in response.headers


async def test_refused_connect_becomes_database_unreachable() -> None:
    settings = Settings(
        database_url="postgresql+asyncpg://nobody@127.0.0.1:9/none", db_connect_timeout_s=1
    )
    engine = create_engine(settings)
    try:
        with pytest.raises(DatabaseUnreachable) as raised:
            async with engine.connect():
                pass
    finally:
        await engine.dispose()
    assert isinstance(raised.value.__cause__, OSError)


async def test_without_the_guard_asyncpg_raises_raw_os_errors() -> None:
    """Why the guard exists: the same refusal reaches the app as a bare OSError."""
    engine = create_async_engine(
        "postgresql+asyncpg://nobody@127.0.0.1:9/none", connect_args={"timeout": 1}
    )
    try:
        with pytest.raises(OSError, match=r"Connect call failed|refused") as raised:
            async with engine.connect():
                pass
    finally:
        await engine.dispose()
    assert not isinstance(raised.value, DatabaseUnreachable)
