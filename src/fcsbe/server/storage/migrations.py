"""Runs alembic migrations from code: `fcsbe db upgrade|downgrade`, start-up and tests.

The migration scripts live in the repository's top-level `alembic/` folder; a wheel carries them
as `fcsbe/_alembic`. Alembic's env runs its own event loop, so callers inside a running loop must
use the `*_async` variants, which run it in a worker thread.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from fcsbe.server.storage.data_files import private_sqlite_files

__all__ = [
    "alembic_config",
    "current_revision",
    "downgrade",
    "downgrade_async",
    "exclusive",
    "head_revision",
    "is_up_to_date",
    "upgrade",
    "upgrade_async",
]


def _script_location() -> Path:
    package_dir = Path(__file__).resolve().parents[2]  # .../fcsbe
    for candidate in (package_dir / "_alembic", package_dir.parents[1] / "alembic"):
        if (candidate / "env.py").is_file():
            return candidate
    raise RuntimeError("alembic migration scripts not found (is the package installed fully?)")


def alembic_config(database_url: str) -> Config:
    """An alembic Config pointing at our scripts and at `database_url`."""
    config = Config()
    config.set_main_option("script_location", str(_script_location()))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Migrate the database up to `revision` (idempotent). An SQLite file is created, or
    kept, readable by this user only (`data_files`)."""
    private_sqlite_files(database_url)
    command.upgrade(alembic_config(database_url), revision)
    private_sqlite_files(database_url)


def downgrade(database_url: str, revision: str = "base") -> None:
    """Migrate the database down to `revision` (`base` drops every table)."""
    command.downgrade(alembic_config(database_url), revision)


async def upgrade_async(database_url: str, revision: str = "head") -> None:
    """`upgrade` for callers already inside an event loop."""
    await asyncio.to_thread(upgrade, database_url, revision)


async def downgrade_async(database_url: str, revision: str = "base") -> None:
    """`downgrade` for callers already inside an event loop."""
    await asyncio.to_thread(downgrade, database_url, revision)


@asynccontextmanager
async def _file_lock(database: str | None) -> AsyncIterator[None]:
    if not database or database == ":memory:":
        yield
        return
    import fcntl

    path = Path(database).with_name(Path(database).name + ".migrate-lock")
    with path.open("a") as handle:
        await asyncio.to_thread(fcntl.flock, handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


MIGRATION_LOCK_KEY = 63_382_001
"""The PostgreSQL advisory lock `fcsbe db upgrade` holds (any constant unique to fcsbe)."""


@asynccontextmanager
async def exclusive(engine: AsyncEngine) -> AsyncIterator[None]:
    """One migrating process at a time on a shared PostgreSQL database: replicas that run
    `fcsbe db upgrade` together wait for each other instead of racing to create the same tables
    and the same server party. On SQLite the lock is an exclusive `flock` on a file next to
    the database (processes on one host share the file)."""
    if engine.dialect.name == "sqlite":
        async with _file_lock(engine.url.database):
            yield
        return
    if engine.dialect.name != "postgresql":
        yield
        return
    async with engine.connect() as connection:
        await connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        await connection.commit()
        try:
            yield
        finally:
            await connection.execute(
                text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK_KEY}
            )
            await connection.commit()


@functools.cache
def head_revision(database_url: str) -> str | None:
    """The newest revision the scripts know (they do not change while the process runs, and
    reading them costs each start of the app tens of ms)."""
    return ScriptDirectory.from_config(alembic_config(database_url)).get_current_head()


async def current_revision(engine: AsyncEngine) -> str | None:
    """The revision the database is at (None when never migrated)."""
    async with engine.connect() as connection:
        return await connection.run_sync(
            lambda sync: MigrationContext.configure(sync).get_current_revision()
        )


async def is_up_to_date(engine: AsyncEngine, database_url: str) -> bool:
    """True when the database is at the scripts' head revision."""
    return await current_revision(engine) == head_revision(database_url)
