"""Waking the workers of every replica when there is work, instead of tight polling.

On PostgreSQL a transaction that creates work for a background loop (an FS request to decide,
an event-log entry to chain, a notification to deliver, a station command to apply) sends
`NOTIFY fcsbe_work` once (`wake_workers`; delivered only if it commits). Each replica keeps one
connection listening on the channel (`WorkListener`) and wakes its loops; they then poll only
at their idle interval. SQLite has no notifications: its loops keep their short intervals.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from fcsbe.server.storage.fast.driver import PgStatement, pg_connection, transaction_memo

__all__ = ["WORK_CHANNEL", "WorkListener", "mark_woken", "wake_workers"]

log = logging.getLogger("fcsbe.storage.wakeup")

WORK_CHANNEL = "fcsbe_work"
"""The PostgreSQL notification channel of the background loops."""
_WOKEN = "fcsbe.woken"
_NOTIFY = PgStatement(text(f"NOTIFY {WORK_CHANNEL}"))


def mark_woken(session: AsyncSession) -> None:
    """Note that this transaction already notifies (a statement that did it inline)."""
    transaction_memo(session)[_WOKEN] = True


async def wake_workers(session: AsyncSession) -> None:
    """Wake every replica's loops when this transaction commits (once per transaction)."""
    if session.get_bind().dialect.name != "postgresql":
        return
    memo = transaction_memo(session)
    if memo.get(_WOKEN):
        return
    driver = await pg_connection(session)
    if driver is not None:
        await _NOTIFY.execute(driver, {})
    else:
        await session.execute(text(f"NOTIFY {WORK_CHANNEL}"))
    memo[_WOKEN] = True


class WorkListener:
    """`LISTEN fcsbe_work` on one connection of `engine`, calling `wake` per notification.

    `ensure` (called by a loop every few seconds) opens the connection again when it was lost;
    meanwhile the loops fall back to their short intervals, so a notification lost with the
    link costs at most one idle interval.
    """

    def __init__(self, engine: AsyncEngine, wake: Callable[[], None]) -> None:
        self.engine = engine
        self.wake = wake
        self._connection: AsyncConnection | None = None
        self._driver: Any = None

    @property
    def listening(self) -> bool:
        """True while the listening connection is open."""
        return self._driver is not None and not self._driver.is_closed()

    async def ensure(self) -> bool:
        """Listen if not listening yet (PostgreSQL only); True while listening."""
        if self.engine.dialect.name != "postgresql":
            return False
        if self.listening:
            return True
        await self.close()
        try:
            self._connection = await self.engine.connect()
            raw = await self._connection.get_raw_connection()
            self._driver = raw.driver_connection
            await self._driver.add_listener(WORK_CHANNEL, self._notified)
        except Exception as exc:
            log.warning("cannot listen on %s: %s", WORK_CHANNEL, exc)
            await self.close()
            return False
        self.wake()  # work may have arrived while nobody listened
        return True

    def _notified(self, *_args: object) -> None:
        self.wake()

    async def close(self) -> None:
        """Stop listening; the connection is dropped rather than pooled."""
        connection, self._connection, self._driver = self._connection, None, None
        if connection is not None:
            try:
                await asyncio.wait_for(connection.invalidate(), timeout=5)
                await asyncio.wait_for(connection.close(), timeout=5)
            except Exception as exc:  # the link is gone anyway
                log.debug("closing the listener connection: %s", exc)
