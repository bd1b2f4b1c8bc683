"""Test doubles at the process boundary of webhook delivery: an FO receiver on loopback, a clock.

`LoopbackReceiver` is a real HTTP/1.1 server on 127.0.0.1 (asyncio + h11) whose answers a test
scripts per request: a status (with headers such as Retry-After), a delay, a connection reset,
or no answer at all. It can be stopped and restarted on the same port (receiver down). It
verifies every request with the real `fcsbe.client.webhooks.WebhookReceiver` when given one.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import struct
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import h11
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from fcsbe.client.webhooks import WebhookReceiver, WebhookVerificationError
from fcsbe.model import Notification
from fcsbe.server.notifications.delivery import DeliveryWorker
from fcsbe.server.notifications.outbox import enqueue_notification
from fcsbe.server.notifications.sender import WebhookSender
from fcsbe.server.services.enrolments.webhook_endpoints import register_endpoint
from fcsbe.server.settings import Settings
from fcsbe.server.storage.base import utcnow

__all__ = [
    "Action",
    "FakeClock",
    "LoopbackReceiver",
    "Seen",
    "enqueue",
    "open_worker",
    "register",
]


@dataclass
class FakeClock:
    """A clock tests move by hand. It starts a minute ahead of the real time, so rows the
    tests commit (stamped with the real time) are due at once."""

    now: datetime = field(default_factory=lambda: utcnow() + timedelta(minutes=1))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)

    def timestamp(self) -> float:
        return self.now.timestamp()


@dataclass(frozen=True)
class Action:
    """How the receiver answers one request."""

    status: int = 204
    headers: tuple[tuple[str, str], ...] = ()
    delay_s: float = 0.0
    reset: bool = False
    hang: bool = False


@dataclass
class Seen:
    """One request as received: headers, body, the verified notification, the answer given."""

    webhook_id: str
    headers: dict[str, str]
    body: bytes
    notification: Notification | None
    error: str | None
    status: int | None = None


class LoopbackReceiver:
    """An FO webhook receiver on 127.0.0.1 with scripted faults."""

    def __init__(self, verifier: WebhookReceiver | None = None) -> None:
        self.verifier = verifier
        self.behaviour: Callable[[Seen], Action] = lambda _seen: Action()
        self.requests: list[Seen] = []
        self.port = 0
        self.arrived = asyncio.Event()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def accepted(self) -> list[Seen]:
        """Requests that were answered 2xx."""
        return [s for s in self.requests if s.status is not None and 200 <= s.status < 300]

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Go down: refuse connections and drop the open ones."""
        if self._server is not None:
            self._server.close()
            for writer in list(self._writers):
                writer.transport.abort()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            await self._server.wait_closed()
            self._server = None

    async def _read_request(
        self, connection: h11.Connection, reader: asyncio.StreamReader
    ) -> tuple[h11.Request, bytes] | None:
        request: h11.Request | None = None
        body = b""
        while True:
            event = connection.next_event()
            if event is h11.NEED_DATA:
                connection.receive_data(await reader.read(65536))
            elif isinstance(event, h11.Request):
                request = event
            elif isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, h11.EndOfMessage):
                assert request is not None
                return request, body
            else:
                return None

    def _record(self, request: h11.Request, body: bytes) -> Seen:
        headers = {k.decode().lower(): v.decode() for k, v in request.headers}
        notification = error = None
        if self.verifier is not None:
            try:
                notification = self.verifier.verify(body, headers)
            except WebhookVerificationError as exc:
                error = str(exc)
        seen = Seen(headers.get("webhook-id", ""), headers, body, notification, error)
        self.requests.append(seen)
        self.arrived.set()
        return seen

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        connection = h11.Connection(h11.SERVER)
        try:
            while True:
                parsed = await self._read_request(connection, reader)
                if parsed is None:
                    return
                seen = self._record(*parsed)
                action = self.behaviour(seen)
                if action.hang:
                    await asyncio.Event().wait()
                if action.delay_s:
                    await asyncio.sleep(action.delay_s)
                if action.reset:
                    sock = writer.get_extra_info("socket")
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    writer.transport.abort()
                    return
                headers = [("content-length", "0"), *action.headers]
                response = h11.Response(status_code=action.status, headers=headers)
                writer.write(connection.send(response) or b"")
                writer.write(connection.send(h11.EndOfMessage()) or b"")
                await writer.drain()
                seen.status = action.status
                connection.start_next_cycle()
        except (ConnectionError, h11.RemoteProtocolError, asyncio.CancelledError):
            return
        finally:
            self._tasks.discard(task)
            self._writers.discard(writer)
            writer.transport.abort()


async def register(
    factory: async_sessionmaker[AsyncSession], party: str, base_url: str, settings: Settings
) -> str:
    """Register the FO's endpoint directly; returns its secret."""
    async with factory() as session:
        secret = await register_endpoint(session, party, base_url, settings=settings)
        await session.commit()
    assert secret is not None
    return secret


async def enqueue(
    factory: async_sessionmaker[AsyncSession], party: str, count: int = 1, *, fs_id: str = "fs-1"
) -> list[str]:
    """Commit `count` notifications for `party`, one transaction each; returns their ids."""
    ids = []
    for index in range(count):
        async with factory() as session:
            ids.append(
                await enqueue_notification(
                    session,
                    fo_party_id=party,
                    type="FS_STATE_CHANGED",
                    fs_id=fs_id,
                    data={"revision": 1, "from_state": None, "to_state": "ACCEPTED", "i": index},
                )
            )
            await session.commit()
    return ids


@contextlib.asynccontextmanager
async def open_worker(
    app: FastAPI, clock: FakeClock, settings: Settings | None = None
) -> AsyncIterator[DeliveryWorker]:
    """A delivery worker on the app's database with its own HTTP client and a fake clock."""
    settings = settings or app.state.settings
    http = WebhookSender.make_client(settings.notification_timeout_s, 16)
    sender = WebhookSender(
        http,
        timeout_s=settings.notification_timeout_s,
        concurrency=16,
        allow_loopback=settings.webhook_allow_loopback,
    )
    try:
        yield DeliveryWorker(
            app.state.session_factory,
            sender,
            settings,
            clock=clock,
            rng=random.Random(7),
            signing_key=app.state.keys.webhook_signing_key(),
        )
    finally:
        await http.aclose()
