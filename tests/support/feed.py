"""Reading an FO's notification feed in tests, as the FO would.

A notification enters the feed once the delivery worker has given it its `seq`; tests that do
not run the worker take that one step here, then read `GET /v1/notifications` with the FO's
own client, so what they check is what the FO is actually served.
"""

from __future__ import annotations

from fastapi import FastAPI

from fcsbe.client import FcsbeClient
from fcsbe.model import Notification, NotificationType
from fcsbe.server.notifications.sequencer import assign_sequence

__all__ = ["read_feed"]


async def read_feed(
    app: FastAPI, client: FcsbeClient, *types: NotificationType
) -> list[Notification]:
    """The FO's feed in `seq` order (sequenced first, as the worker does), of these types."""
    async with app.state.session_factory() as db:
        await assign_sequence(db)
        await db.commit()
    items = await client.notifications.feed().to_list()
    return [n for n in items if not types or n.type in types]
