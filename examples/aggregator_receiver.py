"""Example aggregator (FO) webhook receiver for an FCSBE, with gap repair from the feed.

Run it (any ASGI server works; FastAPI is used here only for brevity):

    pip install fcsbe fastapi uvicorn
    export FCSBE_URL=https://cso.example            # the FCSBE
    export FCSBE_TOKEN=fcsbe_at_...                 # your access token from enrolment
    export FCSBE_WEBHOOK_SECRET=whsec_...           # v1 (HMAC): from PUT /v1/webhook-endpoint
                                                    # (two, comma-separated, while rotating)
    export FCSBE_WEBHOOK_PUBLIC_KEY=whpk_...        # and/or v1a (Ed25519): the FCSBE's key,
                                                    # `webhook_public_key` of GET /v1
    uvicorn --factory examples.aggregator_receiver:create_app --port 9000

and register `https://<this host>` as your callback base URL (the FCSBE POSTs to
`/notifications`). Every push is verified (an HMAC `v1` signature with your secret or an Ed25519
`v1a` one with the FCSBE's public key, and the timestamp), de-duplicated by webhook-id
and handled once. When a `seq` arrives out of line (pushes were missed), the missing
notifications are fetched from the feed (`GET /v1/notifications?after_seq=`).
"""

from __future__ import annotations

import asyncio
import logging
import os

from fastapi import FastAPI, Request, Response

from fcsbe.client import FcsbeClient
from fcsbe.client.webhooks import WebhookReceiver, WebhookVerificationError
from fcsbe.model import Notification

log = logging.getLogger("aggregator")


class Inbox:
    """Handles each notification once, in whatever order they come, and repairs gaps."""

    def __init__(self, client: FcsbeClient | None) -> None:
        self.client = client
        self.handled: dict[int, Notification] = {}
        self.contiguous = 0  # every seq up to this one is handled
        self._repairing = asyncio.Lock()

    async def handle(self, notification: Notification) -> None:
        if notification.seq in self.handled:
            return
        self.handled[notification.seq] = notification
        data = notification.typed_data()  # the typed model of this notification type
        log.info("seq %s %s %s %s", notification.seq, notification.type, notification.fs_id, data)
        while self.contiguous + 1 in self.handled:
            self.contiguous += 1

    async def repair(self) -> None:
        """Fetch from the feed whatever lies between the last contiguous seq and the newest."""
        if self.client is None or self.contiguous == max(self.handled, default=0):
            return
        async with self._repairing:
            async for notification in self.client.notifications.feed(after_seq=self.contiguous):
                await self.handle(notification)


def _listed(name: str) -> list[str]:
    return [item for item in os.environ.get(name, "").split(",") if item]


def create_app(
    secrets: list[str] | None = None,
    client: FcsbeClient | None = None,
    *,
    public_keys: list[str] | None = None,
) -> FastAPI:
    """The receiver app (arguments default to the environment variables above): `secrets`
    verify `v1` signatures, `public_keys` (`whpk_...`) verify `v1a` ones."""
    if secrets is None:
        secrets = _listed("FCSBE_WEBHOOK_SECRET")
    if public_keys is None:
        public_keys = _listed("FCSBE_WEBHOOK_PUBLIC_KEY")
    if client is None and "FCSBE_URL" in os.environ:
        client = FcsbeClient(os.environ["FCSBE_URL"], token=os.environ.get("FCSBE_TOKEN"))
    receiver = WebhookReceiver(secrets, public_keys=public_keys)
    inbox = Inbox(client)
    app = FastAPI(title="aggregator webhook receiver")
    repairs: set[asyncio.Task[None]] = set()
    app.state.inbox = inbox
    app.state.repairs = repairs

    @app.post("/notifications", status_code=204)
    async def notifications(request: Request) -> Response:
        body = await request.body()
        try:
            received = receiver.receive(body, request.headers)
        except WebhookVerificationError as exc:
            log.warning("refused a webhook: %s", exc)
            return Response(status_code=400)
        if received.duplicate:
            return Response(status_code=204)
        try:
            await inbox.handle(received.notification)
        except Exception:
            receiver.forget(received.webhook_id)  # let the FCSBE's retry through
            log.exception("handling %s failed", received.webhook_id)
            return Response(status_code=500)
        if received.notification.seq > inbox.contiguous:
            task = asyncio.get_running_loop().create_task(inbox.repair())
            repairs.add(task)
            task.add_done_callback(repairs.discard)
        return Response(status_code=204)

    return app
