"""A group commit's batch on SQLite in one hop to a thread: `LiteWrite` and `LiteWriter`.

On SQLite every statement runs on a worker thread (aiosqlite's), and each hop there and back
waits for the event loop to come round to its answer. Under an open-loop load the loop is busy
with arriving requests, and a batch of accepts took one hop for its BEGIN, three per INSERT
through SQLAlchemy's adapter (cursor, execute, close) and one for its COMMIT: 17 ms at 1,000
accepts/s, most of it waiting for the loop, and the batch's requests waited with it. Each hop
also costs both threads a wake-up and a hand-over of the GIL, which on a virtual machine cost
more CPU than the statement.

- `LiteWrite` compiles an INSERT once for SQLite (the columns' own bind processors convert the
  values: aware datetimes, JSON documents) and turns values into the driver's parameter rows.
- `LiteWriter` runs a batch's INSERTs between its BEGIN IMMEDIATE and COMMIT, all in one call
  on a connection and thread of its own (synchronous=FULL, as the engine's). The group
  committer holds the engine's only pooled connection meanwhile (`group_commit.py`), so no
  other writer of the process waits on SQLite's lock (its busy handler sleeps in steps of up
  to 100 ms); a writer of another process is waited for up to the busy timeout, as by the
  engine's connection.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.dialects.sqlite.aiosqlite import dialect as aiosqlite_dialect
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql import Executable

from fcsbe.server.storage.fast.lite_thread import LiteThread

__all__ = ["LiteStatements", "LiteWrite", "LiteWriter", "writer_for"]

_DIALECT = aiosqlite_dialect()

_Compiled = tuple[str, tuple[str, ...], Mapping[str, Any], list[Any]]
LiteStatements = Sequence[tuple[str, Sequence[tuple[Any, ...]]]]
"""Statements of a batch for `LiteWriter.write`: each SQL with its parameter rows."""


class LiteWrite:
    """An INSERT compiled once for SQLite, to run with many rows of values.

    `column_keys`: for an INSERT without a VALUES clause, the columns every row gives (as
    `Connection.execute(insert(Row), [rows])` would insert them). The statement must have no
    Python-side column defaults: those are SQLAlchemy's to fill, and they would be missed here
    (`compile` refuses such a statement).
    """

    __slots__ = ("_column_keys", "_compiled", "_statement")

    def __init__(self, statement: Executable, column_keys: Sequence[str] | None = None) -> None:
        self._statement = statement
        self._column_keys = list(column_keys) if column_keys is not None else None
        self._compiled: _Compiled | None = None

    def _compile(self) -> _Compiled:
        if self._compiled is None:
            compiled = self._statement.compile(  # type: ignore[attr-defined]
                dialect=_DIALECT, column_keys=self._column_keys
            )
            if compiled.insert_prefetch:
                unfilled = [column.key for column in compiled.insert_prefetch]
                raise ValueError(f"columns with Python-side defaults are not filled: {unfilled}")
            names = tuple(compiled.positiontup or ())
            binds = [
                compiled.binds[n].type.dialect_impl(_DIALECT).bind_processor(_DIALECT)
                for n in names
            ]
            self._compiled = (str(compiled), names, dict(compiled.params), binds)
        return self._compiled

    def compile(self) -> None:
        """Compile now (start-up), not in the first batch that runs it."""
        self._compile()

    @property
    def sql(self) -> str:
        return self._compile()[0]

    def rows(self, values: Sequence[Mapping[str, Any]]) -> list[tuple[Any, ...]]:
        """The driver's parameter rows: each values mapping in the statement's order, converted
        by the columns' bind processors; a name a mapping lacks takes the statement's literal."""
        _, names, defaults, binds = self._compile()
        pairs = tuple(zip(names, binds, strict=True))
        return [
            tuple(
                (bind(value) if bind is not None else value)
                for name, bind in pairs
                for value in (item[name] if name in item else defaults[name],)
            )
            for item in values
        ]

    async def executemany(self, connection: Any, values: Sequence[Mapping[str, Any]]) -> None:
        """Insert a row per values mapping on the aiosqlite `connection`, in its transaction:
        one hop. Errors as `LiteWriter.write` raises them."""
        sql = self.sql
        try:
            await connection.executemany(sql, self.rows(values))
        except sqlite3.Error as exc:
            raise _translated(sql, exc) from exc


def _translated(sql: str, exc: sqlite3.Error) -> Exception:
    """SQLAlchemy's error for a driver error: IntegrityError for a refused row (the group
    committer then writes the batch's write sets one by one), OperationalError for a failure
    of the database (the whole batch fails, 503)."""
    if isinstance(exc, sqlite3.IntegrityError):
        return IntegrityError(sql, None, exc, hide_parameters=True)
    return OperationalError(sql, None, exc, hide_parameters=True)


class LiteWriter(LiteThread):
    """An SQLite connection on a thread of its own that writes a batch in one transaction."""

    def __init__(self, path: str, busy_timeout_ms: int) -> None:
        super().__init__(path, "fcsbe-lite-write")
        self._busy_timeout_ms = busy_timeout_ms

    def _open(self) -> sqlite3.Connection:
        # autocommit: the transaction is ours (BEGIN IMMEDIATE below, as the engine's)
        connection = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        connection.execute("PRAGMA synchronous=FULL")
        connection.execute("PRAGMA foreign_keys=ON")
        connection.execute(f"PRAGMA busy_timeout={int(self._busy_timeout_ms)}")
        return connection

    def _write(self, statements: LiteStatements) -> None:
        connection = self._own()
        sql = "BEGIN IMMEDIATE"
        try:
            connection.execute(sql)
            for sql, rows in statements:
                connection.executemany(sql, rows)
            sql = "COMMIT"
            connection.execute(sql)
        except sqlite3.Error as exc:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise _translated(sql, exc) from exc

    async def write(self, statements: LiteStatements) -> None:
        """Run `statements` in one transaction and commit it (durable once this returns).

        Raises IntegrityError when a row is refused, OperationalError when the database fails
        (busy beyond the timeout, disk full): either way nothing of the batch was written."""
        await self._on_thread(self._write, statements)


def writer_for(engine: AsyncEngine, busy_timeout_ms: int) -> LiteWriter | None:
    """A writer of `engine`'s SQLite database file, or None: not SQLite through aiosqlite, or
    an in-memory database (only the engine's own connection can see it)."""
    url = engine.url
    path = url.database
    if url.get_backend_name() != "sqlite" or url.get_driver_name() != "aiosqlite":
        return None
    if not path or path == ":memory:" or path.startswith("file:"):
        return None
    return LiteWriter(path, busy_timeout_ms)
