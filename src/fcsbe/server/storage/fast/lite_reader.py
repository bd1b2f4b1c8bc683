"""Reads beside the single SQLite writer: one read-only connection per database, its own thread.

The embedded SQLite engine has one pooled connection, and every transaction on it begins
`BEGIN IMMEDIATE` (storage/engine.py), so that writers queue in the process instead of failing
on a busy database. A request that only reads before it hands its writes to the group committer
(`driver.reads_outside_transaction`, the FS accept) does not need that connection: in WAL mode
a reader sees the last committed state without blocking the writer or being blocked by it. Its
reads go to this reader instead, each statement its own snapshot (autocommit), as they do on
PostgreSQL; so the accepts' credential and key look-ups no longer wait behind each other's
transactions and the group commit's flush to disk.

A read runs first on the calling event loop's thread, on a connection of that thread's that
never waits (`busy_timeout=0`): an indexed read of a WAL snapshot takes microseconds, less
than the two thread hops of handing it to another thread (measured: about 100 µs of CPU less
per FS accept, which makes three such reads). Only when the database is busy (a checkpoint
restarting the log, a writer outside this process holding an exclusive lock) does the read go
to the reader's worker thread (`lite_thread`), where it may wait, so the loop never blocks on a
lock.
"""

from __future__ import annotations

import sqlite3
import threading
import weakref
from collections.abc import Sequence
from typing import Any

from sqlalchemy.engine import Engine

from fcsbe.server.storage.fast.lite_thread import LiteThread

__all__ = ["LiteReader", "close_reader", "reader_for"]

BUSY_TIMEOUT_MS = 5000
"""A reader is only kept waiting by a WAL checkpoint that must restart the log: briefly."""

_BUSY = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED})
_READERS: weakref.WeakKeyDictionary[Engine, LiteReader] = weakref.WeakKeyDictionary()
_GUARD = threading.Lock()


class LiteReader(LiteThread):
    """A read-only SQLite connection on a thread of its own; `execute_fetchall` as aiosqlite's."""

    def __init__(self, path: str) -> None:
        super().__init__(path, "fcsbe-lite-read")
        self._inline: dict[int, sqlite3.Connection] = {}

    def _open(self, busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> sqlite3.Connection:
        # autocommit; used by one thread at a time, and closed by whichever closes the reader
        connection = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        connection.execute("PRAGMA query_only=ON")
        connection.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
        return connection

    def _read_inline(self, sql: str, args: Sequence[Any]) -> list[Any] | None:
        """The rows, read on the calling (event loop) thread without waiting; None when the
        database is busy (the caller then reads on the reader's thread, which may wait)."""
        thread = threading.get_ident()
        connection = self._inline.get(thread)
        if connection is None:
            connection = self._inline[thread] = self._open(busy_timeout_ms=0)
        try:
            return connection.execute(sql, args).fetchall()
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode & 0xFF in _BUSY:  # extended codes keep the primary below
                return None
            raise

    def _fetchall(self, sql: str, args: Sequence[Any]) -> list[Any]:
        return self._own().execute(sql, args).fetchall()

    async def execute_fetchall(self, sql: str, args: Sequence[Any]) -> list[Any]:
        """The rows of `sql` with `args`, read on the reader's thread (sqlite3 errors raised
        as they are, for the caller to translate)."""
        rows = self._read_inline(sql, args)
        if rows is not None:
            return rows
        return await self._on_thread(self._fetchall, sql, args)

    def _close(self) -> None:
        for connection in self._inline.values():
            connection.close()
        self._inline.clear()
        super()._close()


def reader_for(engine: Engine) -> LiteReader | None:
    """The reader of `engine`'s SQLite database file (made at first use), or None for an
    in-memory database, which only the engine's own connection can see."""
    path = engine.url.database
    if not path or path == ":memory:" or path.startswith("file:"):
        return None
    with _GUARD:
        reader = _READERS.get(engine)
        if reader is None:
            reader = _READERS[engine] = LiteReader(path)
        return reader


async def close_reader(engine: Engine) -> None:
    """Close `engine`'s reader, if it has one (before the engine is disposed)."""
    with _GUARD:
        reader = _READERS.pop(engine, None)
    if reader is not None:
        await reader.close()
