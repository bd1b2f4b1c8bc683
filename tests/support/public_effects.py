"""Read a change's effects the way a party sees them: the event log and the outbox via the API.

Tests check that a change was logged or notified through the same routes an operator uses, so
the assertion breaks when what the API shows breaks, not when a table is reorganised. The steps
taken directly are the worker passes the server runs every few milliseconds: event-log entries
are listed once chained, and the FO's feed serves notifications once sequenced.
"""

from __future__ import annotations

from fastapi import FastAPI

from fcsbe.client import FcsbeClient
from fcsbe.model import EventLogEntry, Notification, NotificationRecord, NotificationType
from fcsbe.server.notifications.sequencer import assign_sequence
from fcsbe.server.services.event_log.log import chain_pending
from tests.support.flows import asgi_client

__all__ = ["feed", "logged_events", "logged_types", "outbox"]


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


async def feed(app: FastAPI, fo: FcsbeClient, *types: NotificationType) -> list[Notification]:
    """The FO's notification feed in `seq` order (typed `data`; only `types` when given), after
    the sequencer's pass: a notification enters the feed once it has its `seq`."""
    async with app.state.session_factory() as session:
        await assign_sequence(session)
        await session.commit()
    items = await fo.notifications.feed().to_list()
    return [n for n in items if not types or n.type in types]
