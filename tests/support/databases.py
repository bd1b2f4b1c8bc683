"""Real databases for the tests: an SQLite file always, PostgreSQL whenever reachable.

Each test run gets a fresh PostgreSQL database (created from the admin URL, dropped at the end)
and a fresh SQLite file; both are migrated once by alembic, and every test starts from empty
tables. Under `CI=true` an unreachable PostgreSQL fails the run instead of skipping.

Test databases trade durability for speed: PostgreSQL's test databases commit without waiting
for the WAL to reach the disk (`synchronous_commit = off`: a crash of PostgreSQL itself may lose
the last commits, which no test does), and tables are emptied by DELETE rather than TRUNCATE
(which makes and syncs new files for every table and index it empties: tenths of a second a test
on a busy machine, for a few rows).
"""

from __future__ import annotations

import asyncio
import os
import uuid

import asyncpg
from sqlalchemy.ext.asyncio import AsyncEngine

from fcsbe.server.storage.schema import metadata

__all__ = [
    "PG_ADMIN_DSN",
    "create_postgres_database",
    "drop_postgres_database",
    "empty_all",
    "postgres_reachable",
]

PG_ADMIN_DSN = os.environ.get(
    "FCSBE_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test"
)


async def _admin_execute(sql: str) -> None:
    connection = await asyncpg.connect(PG_ADMIN_DSN, timeout=5)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


def postgres_reachable() -> str | None:
    """None when PostgreSQL answers, else why not."""
    try:
        asyncio.run(_admin_execute("SELECT 1"))
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        return f"{exc.__class__.__name__}: {exc}"
    return None


def create_postgres_database(prefix: str = "fcsbe_test") -> tuple[str, str]:
    """Create an empty database; returns (its name, its SQLAlchemy async URL)."""
    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    asyncio.run(_admin_execute(f'CREATE DATABASE "{name}"'))
    asyncio.run(_admin_execute(f'ALTER DATABASE "{name}" SET synchronous_commit TO off'))
    base = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    return name, f"{base}/{name}"


def drop_postgres_database(name: str) -> None:
    """Drop a database made by `create_postgres_database` (closing leftover connections)."""
    asyncio.run(_admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


_RESTART_IDS = (
    "SELECT setval(format('%I.%I', schemaname, sequencename), 1, false) "
    "FROM pg_sequences WHERE schemaname = current_schema()"
)


def _emptying_script(dialect: str) -> str:
    """One script deleting every row, children first, in one transaction (and restarting the
    ids on PostgreSQL): one round trip instead of a statement per table."""
    deletes = "\n".join(f'DELETE FROM "{t.name}";' for t in reversed(metadata.sorted_tables))
    if dialect == "postgresql":
        return f"BEGIN;\n{deletes}\n{_RESTART_IDS};\nCOMMIT;"
    return f"BEGIN IMMEDIATE;\n{deletes}\nCOMMIT;"


async def empty_all(engine: AsyncEngine) -> None:
    """Delete every row of the schema and restart its ids at 1, as a fresh database numbers them
    (fast per-test isolation on a migrated database).

    DELETE on both backends: TRUNCATE makes and syncs new files for each table it empties, which
    cost 0.2-0.5 s per PostgreSQL test for the few rows a test writes, against milliseconds to
    delete them. Deleted rows leave their space behind, so a query without ORDER BY need not
    return rows in insertion order: whatever lists rows orders them. The deletes go as one
    script on the driver connection: a statement per table through SQLAlchemy cost about 30 ms
    a test, most of each test's set-up.
    """
    script = _emptying_script(engine.dialect.name)
    async with engine.connect() as connection:
        driver = (await connection.get_raw_connection()).driver_connection
        assert driver is not None
        if engine.dialect.name == "postgresql":
            await driver.execute(script)  # simple query protocol: several statements
        else:
            await driver.executescript(script)
