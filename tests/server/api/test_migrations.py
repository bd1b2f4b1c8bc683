"""Migrations: up -> down -> up on both backends, and the tables agree with the migrations."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import create_async_engine

from fcsbe.server.app import DatabaseNotMigratedError, create_app
from fcsbe.server.settings import Settings
from fcsbe.server.storage import migrations
from fcsbe.server.storage.schema import metadata
from tests.conftest import IN_CI
from tests.support.databases import (
    create_postgres_database,
    drop_postgres_database,
    postgres_reachable,
)


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database with no tables at all, private to the test."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
        return
    problem = postgres_reachable()
    if problem:
        if IN_CI:
            pytest.fail(f"PostgreSQL unreachable: {problem}")
        pytest.skip(problem)
    name, url = create_postgres_database("fcsbe_mig")
    try:
        yield url
    finally:
        drop_postgres_database(name)


async def _tables(url: str) -> set[str]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            names = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
        return set(names) - {"alembic_version"}
    finally:
        await engine.dispose()


async def _diff(url: str) -> list[object]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(
                lambda sync: compare_metadata(
                    MigrationContext.configure(sync, opts={"compare_type": True}), metadata
                )
            )
    finally:
        await engine.dispose()


async def test_upgrade_downgrade_upgrade(empty_database_url: str) -> None:
    expected = set(metadata.tables)
    await migrations.upgrade_async(empty_database_url)
    assert await _tables(empty_database_url) == expected
    await asyncio.to_thread(migrations.downgrade, empty_database_url, "base")
    assert await _tables(empty_database_url) == set()
    await migrations.upgrade_async(empty_database_url)
    assert await _tables(empty_database_url) == expected


async def test_models_and_migrations_agree(empty_database_url: str) -> None:
    await migrations.upgrade_async(empty_database_url)
    assert await _diff(empty_database_url) == []


async def test_sqlite_migrates_itself_on_start(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"
    app = create_app(Settings(database_url=url, log_level="WARNING"))
    async with app.router.lifespan_context(app):
        pass
    assert await _tables(url) == set(metadata.tables)


async def test_unmigrated_database_refuses_to_start(empty_database_url: str) -> None:
    app = create_app(
        Settings(database_url=empty_database_url, auto_migrate=False, log_level="WARNING")
    )
    with pytest.raises(DatabaseNotMigratedError, match="fcsbe db upgrade"):
        async with app.router.lifespan_context(app):
            pass


def test_postgresql_default_is_no_auto_migrate() -> None:
    assert Settings(database_url="postgresql+asyncpg://u@h/db").migrate_on_start is False
    assert Settings(database_url="sqlite+aiosqlite:///x.db").migrate_on_start is True
