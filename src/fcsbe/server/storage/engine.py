"""Builds the async engine and session factory for SQLite (embedded) or PostgreSQL.

SQLite gets WAL, `synchronous=FULL` (an acknowledged write survives power loss), foreign keys,
`BEGIN IMMEDIATE` transactions (the write lock is taken up front, so a transaction never fails on
a lock upgrade) and a single pooled connection, so concurrent requests queue in asyncio. Other
processes (the `fcsbe admin` commands) wait on the busy timeout. PostgreSQL gets a pool sized for
the expected concurrency (a small default pool churns connections under load), and pings a
pooled connection before reuse only when it has been idle (see `IDLE_PING_S`).
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from fcsbe.server.settings import Settings
from fcsbe.server.storage.data_files import private_sqlite_files

__all__ = [
    "IDLE_PING_S",
    "PG_SESSION_SETTINGS",
    "DatabaseUnreachable",
    "answers",
    "create_engine",
    "create_session_factory",
    "sqlite_file_of",
]

IDLE_PING_S = 1.0
"""A pooled PostgreSQL connection idle for this long is pinged before it is handed out.

SQLAlchemy's `pool_pre_ping` pings on every checkout, and on asyncpg a ping is three round trips
(BEGIN, `;`, ROLLBACK): more than the rest of an FS accept. A connection in steady use is proven
alive by its last statement; one that failed is invalidated with the whole pool (SQLAlchemy does
that on a disconnect error, and the request answers 503). So only connections that sat idle,
where a database restart can have gone unnoticed, are pinged."""


class DatabaseUnreachable(ConnectionError):
    """A new database connection could not be opened (refused, timed out, unknown host,
    server starting or shutting down). The API answers it with 503 + Retry-After."""


def sqlite_file_of(url: URL) -> str | None:
    """The database file of an SQLite URL, or None for in-memory databases."""
    database = url.database
    return database if database and database != ":memory:" else None


def _install_sqlite_pragmas(engine: AsyncEngine, busy_timeout_ms: int) -> None:
    """Set durability pragmas on each new connection and make every transaction IMMEDIATE."""

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Disable the driver's own BEGIN handling so that ours (below) is the only one.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def _install_sqlite_reset(engine: AsyncEngine) -> None:
    """Roll back a connection given back to the pool only when it is in a transaction.

    The pool's own reset rolls back every connection given back, and on aiosqlite that is a
    hop to its thread. The group committer holds the engine's one connection while another
    connection writes its batch (`storage/fast/lite_write.py`), and gives it back without a
    transaction begun: a hop per batch for nothing. Whether a transaction is open is known
    without a hop (`in_transaction`, read from SQLite's autocommit flag)."""

    @event.listens_for(engine.sync_engine, "reset")
    def _reset(dbapi_connection: Any, record: Any, state: Any) -> None:
        if state.terminate_only or not state.asyncio_safe or state.transaction_was_reset:
            return
        driver = record.driver_connection if record is not None else None
        if getattr(driver, "in_transaction", True):
            dbapi_connection.rollback()


def _install_connect_guard(engine: AsyncEngine) -> None:
    """Turn every failure to open a PostgreSQL connection into `DatabaseUnreachable`.

    asyncpg raises them raw (OSError with several addresses, TimeoutError from the connect
    timeout, its own errors while the server starts or stops), and SQLAlchemy passes them on
    unwrapped; one type makes the 503 mapping exact instead of catching every OSError.
    """
    import asyncpg

    transient = (
        OSError,
        TimeoutError,
        asyncpg.exceptions.PostgresConnectionError,  # class 08
        asyncpg.exceptions.OperatorInterventionError,  # class 57: shutting down, starting up
        asyncpg.exceptions.InsufficientResourcesError,  # class 53: too many connections
    )

    @event.listens_for(engine.sync_engine, "do_connect")
    def _connect(dialect: Any, _record: Any, cargs: Any, cparams: Any) -> Any:
        try:
            return dialect.connect(*cargs, **cparams)
        except transient as exc:
            raise DatabaseUnreachable(
                f"cannot connect to the database: {exc.__class__.__name__}"
            ) from exc


def _install_idle_ping(engine: AsyncEngine, idle_s: float) -> None:
    """Ping connections idle for `idle_s` or more at checkout; a dead one is replaced."""

    @event.listens_for(engine.sync_engine, "checkin")
    def _checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def _checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        # A connection whose link is known to be gone (the database restarted, or the network
        # dropped it) is replaced whatever its age. Connections in steady use are not pinged,
        # and a statement of the fast path that failed on a lost link does not invalidate its
        # pooled connection (storage/fast/driver.py runs on the driver connection), so without
        # this a dead connection could be handed out again and again after the database is back.
        driver = getattr(dbapi_connection, "driver_connection", None)
        is_closed = getattr(driver, "is_closed", None)
        if is_closed is not None and is_closed():
            raise DisconnectionError("pooled connection lost its link to the database")
        since = record.info.get("idle_since")
        if since is None or time.monotonic() - since < idle_s:
            return
        try:
            dbapi_connection.ping()
        except Exception as exc:  # the pool replaces the connection and tries again
            raise DisconnectionError(f"stale pooled connection: {exc.__class__.__name__}") from exc


PG_SESSION_SETTINGS = {"plan_cache_mode": "force_custom_plan"}
"""Settings of every PostgreSQL session of the server.

`plan_cache_mode`: every statement is planned for its values and the tables as they are now.
By default PostgreSQL switches a prepared statement (the driver prepares each one) to a
generic plan after five runs and keeps that plan until the table's statistics change. A plan
made while a table was empty (a new deployment, the first minute of a new database) scans it
sequentially, and it went on scanning as the table grew: the idempotency-key look-up read
every stored key, and the accept rate fell from 1,650/s to 480/s within 40 s of a start,
until autovacuum analysed the table. Planning each run costs the accept nothing measurable
(2,200/s sustained, the same as with generic plans made after an ANALYZE).
"""


def _install_pg_session_settings(engine: AsyncEngine) -> None:
    """`SET` each of PG_SESSION_SETTINGS on every new connection: a statement rather than a
    startup parameter, which a connection pooler in front of PostgreSQL may refuse or drop."""

    statements = [f"SET {name} = {value}" for name, value in PG_SESSION_SETTINGS.items()]

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        run_async = getattr(dbapi_connection, "run_async", None)
        if run_async is not None:  # asyncpg: on the driver's connection, outside a transaction
            for statement in statements:
                run_async(lambda driver, sql=statement: driver.execute(sql))
            return
        cursor = dbapi_connection.cursor()  # a DBAPI transaction: committed, or SET is undone
        for statement in statements:
            cursor.execute(statement)
        cursor.close()
        dbapi_connection.commit()


def create_engine(settings: Settings) -> AsyncEngine:
    """Create the engine for `settings.database_url`; the caller owns and disposes it."""
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite":
        private_sqlite_files(settings.database_url)  # before SQLite creates it 0644
        # One connection: SQLite has one writer anyway, and waiting for the pool is an asyncio
        # queue, while waiting for the file lock is SQLite's busy handler, which sleeps in steps
        # of up to 100 ms and collapses throughput under concurrency.
        engine = create_async_engine(
            url,
            pool_size=1,
            max_overflow=0,
            pool_timeout=settings.db_pool_timeout_s * 6,
            pool_reset_on_return=None,  # _install_sqlite_reset does it, when there is a need
        )
        _install_sqlite_pragmas(engine, settings.sqlite_busy_timeout_ms)
        _install_sqlite_reset(engine)
        return engine
    asyncpg = url.get_driver_name() == "asyncpg"
    engine = create_async_engine(
        url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout_s,
        # The most recently used connection first: the ones in steady use stay warm (no idle
        # ping, see IDLE_PING_S) and the pool's surplus simply ages, instead of every connection
        # of a large pool going idle in turn and being pinged at each checkout.
        pool_use_lifo=True,
        # Fail fast when the database is gone, so requests answer 503 instead of hanging.
        connect_args={
            "timeout": settings.db_connect_timeout_s,
            "command_timeout": settings.db_command_timeout_s,
        }
        if asyncpg
        else {},
    )
    _install_idle_ping(engine, IDLE_PING_S)
    if asyncpg:
        _install_connect_guard(engine)
    _install_pg_session_settings(engine)
    return engine


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded values after commit (responses are built after the commit)."""
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


async def answers(engine: AsyncEngine) -> None:
    """Open a connection and run `SELECT 1`: readiness proves a pooled connection is had and
    the database answers a query, not only that the process is up. Raises what the connection
    or the query raises."""
    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1"))
