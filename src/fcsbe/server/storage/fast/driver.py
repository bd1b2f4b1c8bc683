"""The fast path's statements on PostgreSQL: compiled once, run on the asyncpg connection under
the session's own transaction.

Through SQLAlchemy a statement costs 150-450 µs of CPU on a 2-core machine (execution context,
ORM compile state, the asyncpg adapter's prepare and greenlet switches), on asyncpg itself
20-40 µs. The FS accept runs half a dozen per request, which made SQLAlchemy most of its cost.
So the statements of that path are still written as SQLAlchemy Core (one source of truth, the
same tables and columns), compiled once for asyncpg (`PgStatement`), and run on the driver
connection of the request's session (`pg_connection`): the same connection and the same
transaction the session commits, so atomicity is unchanged. Other backends get None from
`pg_connection` and their callers run the SQLAlchemy statement as before.

Driver errors are re-raised as SQLAlchemy's (`IntegrityError` for constraint violations,
`DBAPIError` otherwise, marked as an invalidated connection when the link is gone), so the
callers and the API's error mapping (503 for an unreachable database) see what they always saw.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any

import asyncpg
from sqlalchemy import event
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
from sqlalchemy.dialects.sqlite.aiosqlite import dialect as aiosqlite_dialect
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction
from sqlalchemy.sql import Executable

from fcsbe.server.storage.fast.lite_reader import reader_for

__all__ = [
    "LiteStatement",
    "PgStatement",
    "lite_connection",
    "outside_transaction",
    "pg_connection",
    "reads_outside_transaction",
    "statement_is_transaction",
    "transaction_memo",
    "use_plain",
]

_DIALECT = asyncpg_dialect()  # type: ignore[no-untyped-call]
_LITE_DIALECT = aiosqlite_dialect()
_GONE = (asyncpg.exceptions.ConnectionDoesNotExistError, asyncpg.InterfaceError, OSError)
_CACHED = "fcsbe.driver_connection"
_LITE_CACHED = "fcsbe.lite_connection"
"""`session.info` key of the driver connection of the session's current transaction."""
_MEMO = "fcsbe.transaction_memo"
_PLAIN = "fcsbe.plain"
_AUTOCOMMIT = "fcsbe.reads_outside_transaction"
"""`session.info` key: this session runs the plain twins only (`use_plain`)."""


@event.listens_for(Session, "after_transaction_end")
def _forget(session: Session, transaction: SessionTransaction) -> None:
    """The transaction ended (commit, rollback or close): its connection may go back to the
    pool, so the next `pg_connection` asks the session again."""
    if transaction.parent is None:
        session.info.pop(_CACHED, None)
        session.info.pop(_LITE_CACHED, None)
        session.info.pop(_MEMO, None)


def transaction_memo(session: AsyncSession) -> dict[str, Any]:
    """Facts that hold for the session's current transaction only (an advisory lock it took),
    forgotten when it ends: a statement can then take such a fact on behalf of a later one."""
    memo: dict[str, Any] = session.info.setdefault(_MEMO, {})
    return memo


def reads_outside_transaction(session: AsyncSession) -> None:
    """Let this session's fast statements run without opening a transaction (each its own
    snapshot; on PostgreSQL no BEGIN and no COMMIT round trip, on SQLite not on the single
    writer connection but on the database's reader, `lite_reader`): for a request that only
    reads before handing its writes to the group committer (`group_commit.py`), whose unique
    constraints, not a lock held by the request, decide between concurrent requests. A
    statement through SQLAlchemy still opens the transaction as usual, and later fast
    statements join it."""
    session.info[_AUTOCOMMIT] = True


def statement_is_transaction(session: AsyncSession, alone: bool = True) -> None:
    """This session's work is one fast statement, atomic and durable on its own: on PostgreSQL
    it runs without BEGIN and COMMIT (two round trips fewer), as `reads_outside_transaction`
    lets reads run. For a group commit's batch whose write sets are one statement together
    (`group_commit.py`); a SQLAlchemy statement still begins a transaction as usual. `alone`
    False: the session's work is several statements again, in a transaction."""
    if alone:
        session.info[_AUTOCOMMIT] = True
    else:
        session.info.pop(_AUTOCOMMIT, None)


def outside_transaction(session: AsyncSession) -> bool:
    """Whether `reads_outside_transaction` was asked for this session."""
    return bool(session.info.get(_AUTOCOMMIT))


def use_plain(session: AsyncSession) -> None:
    """Run the plain (SQLAlchemy) twin of every fast statement on this session: what the
    fast path's test compares with, and a way to rule the fast path out when diagnosing."""
    session.info[_PLAIN] = True


async def pg_connection(session: AsyncSession) -> asyncpg.Connection | None:
    """The asyncpg connection of the session's transaction (begun if need be), or None when the
    session is not on PostgreSQL through asyncpg (or runs the plain twins, `use_plain`).
    Remembered until the transaction ends, as asking the session costs a greenlet switch each
    time."""
    cached: asyncpg.Connection | None = session.info.get(_CACHED)
    if cached is not None:
        return cached
    if session.info.get(_PLAIN):
        return None
    bind = session.get_bind()
    if bind.dialect.name != "postgresql" or bind.dialect.driver != "asyncpg":
        return None
    connection = await session.connection()
    fairy = await connection.get_raw_connection()
    adapted = fairy.dbapi_connection
    # SQLAlchemy's adapter opens the asyncpg transaction lazily, on its first statement; open
    # it the same way here so that the session's commit or rollback ends it.
    if getattr(adapted, "_transaction", None) is None and not session.info.get(_AUTOCOMMIT):
        start = getattr(adapted, "_start_transaction", None)
        if start is None:  # an adapter this code does not know: stay on SQLAlchemy
            return None
        try:
            await start()
        except Exception as exc:
            # What SQLAlchemy does with a failed statement: a connection found dead is
            # invalidated (the pool replaces it) and the error says so (503, not 500).
            gone = bind.dialect.is_disconnect(exc, adapted, None)  # type: ignore[arg-type]
            if gone:
                await connection.invalidate(exc)
            raise DBAPIError("BEGIN", None, exc, connection_invalidated=gone) from exc
    driver: asyncpg.Connection = fairy.driver_connection
    session.info[_CACHED] = driver
    return driver


class PgStatement:
    """An SQLAlchemy Core statement compiled once for asyncpg: its SQL and parameter order.

    Values are passed by bind-parameter name as the database takes them: JSON documents as
    JSON text (`json.dumps`), times as aware datetimes. Literal values of the statement (e.g.
    `revision=1`) fill the parameters not given. Compiled at first use, once every table is
    known (a foreign-key column takes its type from the table it refers to).
    """

    __slots__ = ("_compiled", "_statement")

    def __init__(self, statement: Executable) -> None:
        self._statement = statement
        self._compiled: tuple[str, Sequence[str], Mapping[str, Any]] | None = None

    def _compile(self) -> tuple[str, Sequence[str], Mapping[str, Any]]:
        if self._compiled is None:
            compiled = self._statement.compile(dialect=_DIALECT)  # type: ignore[attr-defined]
            names = tuple(compiled.positiontup or ())
            self._compiled = (str(compiled), names, dict(compiled.params))
        return self._compiled

    @property
    def sql(self) -> str:
        return self._compile()[0]

    def compile(self) -> None:
        """Compile now (start-up), not on the first request that runs it."""
        self._compile()

    def args(self, values: Mapping[str, Any]) -> list[Any]:
        _, names, defaults = self._compile()
        return [values[n] if n in values else defaults[n] for n in names]

    async def fetchrow(
        self, connection: asyncpg.Connection, values: Mapping[str, Any]
    ) -> asyncpg.Record | None:
        """The first row (None: none) of running the statement with `values`."""
        try:
            args = self.args(values)
            return await connection.fetchrow(self.sql, *args)
        except (asyncpg.PostgresError, *_GONE) as exc:
            raise self._translated(exc, values) from exc

    async def fetch(
        self, connection: asyncpg.Connection, values: Mapping[str, Any]
    ) -> list[asyncpg.Record]:
        """Every row of running the statement with `values`."""
        try:
            args = self.args(values)
            rows: list[asyncpg.Record] = await connection.fetch(self.sql, *args)
        except (asyncpg.PostgresError, *_GONE) as exc:
            raise self._translated(exc, values) from exc
        return rows

    async def execute(self, connection: asyncpg.Connection, values: Mapping[str, Any]) -> None:
        """Run the statement with `values`, ignoring any rows."""
        try:
            args = self.args(values)
            await connection.execute(self.sql, *args)
        except (asyncpg.PostgresError, *_GONE) as exc:
            raise self._translated(exc, values) from exc

    async def executemany(
        self, connection: asyncpg.Connection, values: Sequence[Mapping[str, Any]]
    ) -> None:
        """Run the statement once per element of `values` in one pipelined round trip."""
        try:
            await connection.executemany(self.sql, [self.args(v) for v in values])
        except (asyncpg.PostgresError, *_GONE) as exc:
            raise self._translated(exc, values[0] if values else {}) from exc

    def _translated(self, exc: BaseException, values: Mapping[str, Any]) -> DBAPIError:
        if isinstance(exc, asyncpg.IntegrityConstraintViolationError):
            return IntegrityError(self.sql, dict(values), exc, hide_parameters=True)
        return DBAPIError(
            self.sql,
            dict(values),
            exc if isinstance(exc, Exception) else Exception(str(exc)),
            hide_parameters=True,
            connection_invalidated=isinstance(exc, _GONE),
        )


async def lite_connection(session: AsyncSession) -> Any | None:
    """The aiosqlite connection of the session's transaction (begun if need be: `BEGIN
    IMMEDIATE`), or None when the session is not on SQLite through aiosqlite (or runs the plain
    twins). A session told `reads_outside_transaction`, with no transaction begun, gets the
    database's reader instead (`lite_reader`: autocommit reads beside the writer). Through
    SQLAlchemy's adapter a query is four hops to aiosqlite's thread (cursor, execute, fetch,
    close); `aiosqlite.Connection.execute_fetchall` is one."""
    cached: Any | None = session.info.get(_LITE_CACHED)
    if cached is not None:
        return cached
    if session.info.get(_PLAIN):
        return None
    bind = session.get_bind()
    if bind.dialect.name != "sqlite" or bind.dialect.driver != "aiosqlite":
        return None
    # Reads that need no transaction of their own go beside the single writer connection
    # (`lite_reader`), unless this session's transaction has begun: then they join it.
    autocommit = session.info.get(_AUTOCOMMIT) and not session.in_transaction()
    if autocommit and isinstance(bind, Engine):
        reader = reader_for(bind)
        if reader is not None:
            return reader
    connection = await session.connection()  # begins the transaction (storage/engine.py)
    fairy = await connection.get_raw_connection()
    driver = fairy.driver_connection
    if not hasattr(driver, "execute_fetchall"):
        return None
    session.info[_LITE_CACHED] = driver
    return driver


class LiteStatement:
    """A read-only SQLAlchemy Core statement compiled once for SQLite, its values converted by
    the columns' own types (aware datetimes, JSON documents), run in one hop on the aiosqlite
    connection of the session's transaction."""

    __slots__ = ("_compiled", "_statement")

    def __init__(self, statement: Executable) -> None:
        self._statement = statement
        self._compiled: tuple[str, Sequence[str], Mapping[str, Any], list[Any], list[Any]] | None
        self._compiled = None

    def _compile(self) -> tuple[str, Sequence[str], Mapping[str, Any], list[Any], list[Any]]:
        if self._compiled is None:
            dialect = _LITE_DIALECT
            compiled = self._statement.compile(dialect=dialect)  # type: ignore[attr-defined]
            names = tuple(compiled.positiontup or ())
            binds = [
                compiled.binds[n].type.dialect_impl(dialect).bind_processor(dialect) for n in names
            ]
            columns = self._statement.selected_columns  # type: ignore[attr-defined]
            results = [
                c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns
            ]
            self._compiled = (str(compiled), names, dict(compiled.params), binds, results)
        return self._compiled

    def compile(self) -> None:
        """Compile now (start-up), not on the first request that runs it."""
        self._compile()

    async def fetchrow(self, connection: Any, values: Mapping[str, Any]) -> tuple[Any, ...] | None:
        """The first row (None: none) of running the statement with `values`."""
        sql, names, defaults, binds, results = self._compile()
        args = []
        for name, bind in zip(names, binds, strict=True):
            value = values[name] if name in values else defaults[name]
            args.append(bind(value) if bind is not None else value)
        try:
            rows = await connection.execute_fetchall(sql, args)
        except sqlite3.IntegrityError as exc:
            raise IntegrityError(sql, dict(values), exc, hide_parameters=True) from exc
        except sqlite3.Error as exc:
            raise OperationalError(sql, dict(values), exc, hide_parameters=True) from exc
        for row in rows:
            return tuple(
                convert(value) if convert is not None else value
                for value, convert in zip(row, results, strict=True)
            )
        return None
