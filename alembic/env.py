"""Alembic environment: runs migrations on the async engine of the configured database.

The URL is the one the caller put in the Config (fcsbe.server.storage.migrations), else
`FCSBE_DATABASE_URL`, else alembic.ini. `render_as_batch` lets SQLite alter tables.
"""

from __future__ import annotations

import asyncio
import os

from alembic import context
from sqlalchemy import pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from fcsbe.server.storage.schema import metadata

config = context.config


def _url() -> str:
    configured = config.get_main_option("sqlalchemy.url")
    if config.config_file_name is not None and "FCSBE_DATABASE_URL" in os.environ:
        return os.environ["FCSBE_DATABASE_URL"]
    if configured:
        return configured
    return os.environ.get("FCSBE_DATABASE_URL", "sqlite+aiosqlite:///./fcsbe.db")


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_online() -> None:
    engine = create_async_engine(_url(), poolclass=pool.NullPool)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_configure)
            await connection.commit()
    finally:
        await engine.dispose()


if context.is_offline_mode():
    context.configure(url=_url(), target_metadata=metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(_run_online())
