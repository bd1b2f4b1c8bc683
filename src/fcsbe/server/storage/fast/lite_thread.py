"""An SQLite connection of its own on a thread of its own: what SQLite's reader and writer share.

The event loop must never wait on SQLite (a lock, a flush to disk), so a connection that may
wait lives on a one-thread executor and is opened, used and closed there. The thread is an
executor's, so one that is never closed does not hold up the process at exit.
"""

from __future__ import annotations

import asyncio
import sqlite3
from abc import ABC, abstractmethod
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

__all__ = ["LiteThread"]

T = TypeVar("T")


class LiteThread(ABC):
    """The thread and its connection (opened at first use by `_open`)."""

    def __init__(self, path: str, name: str) -> None:
        self._path = path
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self._connection: sqlite3.Connection | None = None

    @abstractmethod
    def _open(self) -> sqlite3.Connection:
        """A new connection to the database file, set up for its use."""

    def _own(self) -> sqlite3.Connection:
        """The thread's connection (call on the thread)."""
        if self._connection is None:
            self._connection = self._open()
        return self._connection

    async def _on_thread(self, call: Callable[..., T], *args: Any) -> T:
        """`call(*args)` on the thread, awaited without blocking the loop."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, call, *args)

    def _close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    async def close(self) -> None:
        """Close the connection on its thread, then end the thread."""
        await self._on_thread(self._close)
        self._executor.shutdown(wait=False)
