"""Real databases for the tests: an SQLite file always, PostgreSQL whenever reachable.

Each test run gets a fresh PostgreSQL database (created from the admin URL, dropped at the end)
and a fresh SQLite file; both are migrated once by alembic, and every test starts from empty
tables. Under `CI=true` an unreachable PostgreSQL fails the run instead of skipping.

Test databases trade durability for speed: PostgreSQL's test databases commit without waiting
for the WAL to reach the disk (`synchronous_commit = off`: a crash of PostgreSQL itself may lose
the last commits, which no test does), and only the tables written to are truncated (TRUNCATE
makes new files for every table and index, and syncs them: most of a second a test for all 38
tables on a busy machine).
"""

from __future__ import annotations

import asyncio
import os
import uuid

import asyncpg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from fcsbe.server.storage.schema import metadata

__all__ = [
    "PG_ADMIN_DSN",
    "create_postgres_database",
    "drop_postgres_database",
    "postgres_reachable",
    "truncate_all",
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


async def truncate_all(engine: AsyncEngine) -> None:
    """Empty every table of the schema and restart its ids at 1, as a fresh database has them
    (fast per-test isolation on a migrated database).

    PostgreSQL truncates only the tables that have been written to (a never-written table has
    no pages), as TRUNCATE costs files and syncs per table; truncated rather than deleted, their
    rows come back in insertion order again, as from a new table. SQLite deletes every row and
    numbers new rows from the highest one left, none.
    """
    tables = [table.name for table in reversed(metadata.sorted_tables)]
    async with engine.begin() as connection:
        if engine.dialect.name != "postgresql":
            for name in tables:
                await connection.execute(text(f'DELETE FROM "{name}"'))
            return
        written = (
            await connection.execute(
                text(
                    "SELECT relname FROM pg_class WHERE relname = ANY(:tables) AND relkind = 'r' "
                    "AND relnamespace = current_schema()::regnamespace "
                    "AND pg_relation_size(oid) > 0"
                ),
                {"tables": tables},
            )
        ).scalars()
        names = ", ".join(f'"{name}"' for name in written)
        if names:
            await connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        await connection.execute(
            text(
                "SELECT setval(format('%I.%I', schemaname, sequencename), 1, false) "
                "FROM pg_sequences WHERE schemaname = current_schema()"
            )
        )
