"""Read a change's effects the way a party sees them: the event log and the outbox via the API.

Tests check that a change was logged or notified through the same routes an operator uses, so
the assertion breaks when what the API shows breaks, not when a table is reorganised. The one
step taken directly is the event-log chaining pass, which the server's worker runs every few
milliseconds: entries are listed once chained.
"""

from __future__ import annotations

from fastapi import FastAPI

from fcsbe.model import EventLogEntry, NotificationRecord
from fcsbe.server.services.event_log.log import chain_pending
from tests.support.flows import asgi_client

__all__ = ["logged_events", "logged_types", "outbox"]


async def logged_events(
    app: FastAPI, operator_token: str, *, type: str | None = None
) -> list[EventLogEntry]:
    """Every event-log entry (optionally of one `type`), after the worker's chaining pass."""
    async with app.state.session_factory() as session:
        await chain_pending(session)
        await session.commit()
    async with asgi_client(app, token=operator_token) as operator:
        return await operator.event_log.list(type=type).to_list()


async def logged_types(app: FastAPI, operator_token: str) -> list[str]:
    """The `type` of every event-log entry, in log order."""
    return [entry.type for entry in await logged_events(app, operator_token)]


async def outbox(
    app: FastAPI, operator_token: str, *, fo_party_id: str | None = None
) -> list[NotificationRecord]:
    """The notifications written so far (oldest first), as the operator's outbox view lists them."""
    async with asgi_client(app, token=operator_token) as operator:
        return await operator.notifications.admin_list(fo_party_id=fo_party_id).to_list()
