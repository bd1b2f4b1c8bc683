"""Shared fixtures: migrated databases on both backends, an app per test, clients.

Tests that take `database_url` (directly or through `app`, `http`, `client`) run once on SQLite
and once on PostgreSQL; their ids end in `[sqlite]` / `[postgresql]`.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from fcsbe.client import FcsbeClient, RetryPolicy
from fcsbe.server.app import create_app
from fcsbe.server.settings import Settings
from fcsbe.server.storage import migrations
from tests.support.apps import app_for
from tests.support.databases import (
    create_postgres_database,
    drop_postgres_database,
    empty_all,
    postgres_reachable,
)
from tests.support.depth import load_profile

load_profile()  # before any test module is imported: their @settings build on it

BACKENDS = ("sqlite", "postgresql")
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked `slow` (servers in child processes, tens of seconds each) run first, so that
    the workers share them out early rather than one worker ending the run alone on them."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


MEMORY_DISK = Path("/dev/shm")
"""Where the SQLite test database lives when the machine has it: the server commits with
`synchronous=FULL`, and a sync costs nothing in memory (the tests judge results, not
durability)."""


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with contextlib.ExitStack() as stack:
        if MEMORY_DISK.is_dir() and os.access(MEMORY_DISK, os.W_OK):
            folder = Path(stack.enter_context(tempfile.TemporaryDirectory(dir=MEMORY_DISK)))
        else:
            folder = tmp_path_factory.mktemp("sqlite")
        url = f"sqlite+aiosqlite:///{folder / 'fcsbe.db'}"
        migrations.upgrade(url)
        yield url


@pytest.fixture(scope="session")
def postgresql_url() -> Iterator[str]:
    problem = postgres_reachable()
    if problem is not None:
        message = f"PostgreSQL unreachable ({problem})"
        if IN_CI:
            pytest.fail(f"{message}: CI requires it", pytrace=False)
        pytest.skip(message)
    name, url = create_postgres_database()
    try:
        migrations.upgrade(url)
        yield url
    finally:
        drop_postgres_database(name)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database_url(backend: str, request: pytest.FixtureRequest) -> str:
    url: str = request.getfixturevalue(f"{backend}_url")
    return url


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        auto_migrate=False,
        data_dir=tmp_path / "var",
        log_level="WARNING",
        workers_enabled=False,
        simulator_enabled=False,
    )


def name_for(address: str) -> str:
    """A name `fake_dns` resolves to exactly `address` (its bytes in hex, under addr.test)."""
    return f"{ipaddress.ip_address(address).packed.hex()}.addr.test"


async def fake_dns(host: str, _port: int) -> list[str]:
    """DNS for tests (a network peer): names under example.* are public, *.internal private,
    and `name_for(address)` answers that one address (any address a test needs a name for)."""
    label, _, zone = host.partition(".")
    if zone == "addr.test" and len(label) in (8, 32):
        return [str(ipaddress.ip_address(bytes.fromhex(label)))]
    if host.endswith(".internal"):
        return ["10.20.30.40"]
    if host.endswith((".example", ".example.com", ".example.org", ".example.net")):
        return ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"]
    raise OSError(f"{host}: name does not resolve")


@pytest.fixture
async def app(settings: Settings, request: pytest.FixtureRequest) -> AsyncIterator[FastAPI]:
    """The app on the test's settings, started, with empty tables. Its routes are built once per
    distinct settings (`tests.support.apps`); `@pytest.mark.own_app` builds one for the test."""
    own = request.node.get_closest_marker("own_app") is not None
    application = create_app(settings) if own else app_for(settings)
    application.state.callback_resolver = fake_dns
    async with application.router.lifespan_context(application):
        await empty_all(application.state.engine)
        yield application


@pytest.fixture
async def http(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://fcsbe.test") as client:
        yield client


async def _no_sleep(_seconds: float) -> None:
    return None


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[FcsbeClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with FcsbeClient(
        "http://fcsbe.test", transport=transport, retry=RetryPolicy(), sleep=_no_sleep
    ) as fo_client:
        yield fo_client
