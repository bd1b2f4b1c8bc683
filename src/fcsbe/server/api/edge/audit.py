"""Refusing a request for a security reason, and leaving a durable trace of it.

The trace must survive the refusal, but the refusal rolls the request's transaction back. So
the trace is written through a short session of its own and committed *before* the error is
raised; the request's transaction is never committed midway (one request, one transaction).
The request's session is rolled back first: at the edge it has only read, and on SQLite its
transaction holds the write lock that the trace's own session needs. A per-app throttle keeps
a flood of refused requests from flooding the log: at most one entry per party and kind per
`window_s`.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import NoReturn

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from fcsbe.server.deps import state_session_factory
from fcsbe.server.errors import ApiError
from fcsbe.server.services.event_log.security_events import note_security_event

__all__ = ["SecurityEventThrottle", "refuse_with_trace"]


class SecurityEventThrottle:
    """Remembers when each (party, kind) was last recorded; bounded in size."""

    def __init__(self, window_s: float = 60.0, max_entries: int = 10_000) -> None:
        self.window_s = window_s
        self.max_entries = max_entries
        self._last: OrderedDict[tuple[str, str], float] = OrderedDict()

    def allow(self, party_id: str, kind: str, now: float | None = None) -> bool:
        """True when this (party, kind) was not recorded within the window."""
        moment = time.monotonic() if now is None else now
        key = (party_id, kind)
        last = self._last.get(key)
        if last is not None and moment - last < self.window_s:
            return False
        self._last[key] = moment
        self._last.move_to_end(key)
        while len(self._last) > self.max_entries:
            self._last.popitem(last=False)
        return True


async def refuse_with_trace(
    request: Request,
    session: AsyncSession,
    error: ApiError,
    *,
    kind: str,
    party_id: str,
    object_ref: str,
    notify: bool = True,
) -> NoReturn:
    """Record the security event in its own transaction (throttled), then raise `error`."""
    throttle: SecurityEventThrottle | None = getattr(request.app.state, "security_throttle", None)
    if throttle is None or throttle.allow(party_id, kind):
        await session.rollback()
        factory: async_sessionmaker[AsyncSession] = state_session_factory(request)
        async with factory() as trace_session, trace_session.begin():
            await note_security_event(
                trace_session,
                kind=kind,
                party_id=party_id,
                object_ref=object_ref,
                detail=str(error.detail or kind),
                notify=notify,
            )
    raise error
