"""One station's WebSocket to its CSMS: connect, boot, send what is queued, heartbeat, reconnect.

OCPP-J: the station's identity is the last segment of the URL path, the subprotocol names the
version, and security profile 1/2 authenticates with HTTP Basic (user = station id). A link
keeps trying: a refused handshake, a dropped connection or a CSMS that stops answering ends
the connection, and the link connects again after an exponential backoff with jitter (from 1 s
to `max_backoff_s`), boots again and carries on with what the station queued meanwhile
(transaction messages and meter values survive; status is sent afresh after the boot).

A station is booted on every new connection: the CSMS learns its capabilities and state again
whatever happened while it was away, and re-sends the profiles still in force.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import random
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import quote

from ocpp.exceptions import OCPPError
from ocpp.v16 import call as call16
from ocpp.v21 import call as call21
from ocpp.v201 import call as call201
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus
from websockets.typing import Subprotocol

from fcsbe.chargers.protocol import SUBPROTOCOLS, StationEndpoint, endpoint_class
from fcsbe.chargers.station import Outgoing, SimulatedStation

__all__ = ["StationLink", "basic_auth"]

log = logging.getLogger("fcsbe.chargers")

_CALLS: dict[str, Any] = {"2.1": call21, "2.0.1": call201, "1.6": call16}


def basic_auth(station_id: str, password: str) -> str:
    """The `Authorization` header of OCPP security profiles 1 and 2."""
    token = base64.b64encode(f"{station_id}:{password}".encode()).decode("ascii")
    return f"Basic {token}"


class StationLink:
    """Keeps one station connected to its CSMS (see the module docstring)."""

    def __init__(
        self,
        station: SimulatedStation,
        url: str,
        *,
        password: str | None,
        now: Callable[[], datetime],
        response_timeout_s: float = 30.0,
        max_backoff_s: float = 30.0,
        ping_interval_s: float | None = 60.0,
        rng: random.Random | None = None,
    ) -> None:
        self.station = station
        self.uri = f"{url.rstrip('/')}/{quote(station.station_id, safe='')}"
        self._password = password
        self._now = now
        self._timeout = response_timeout_s
        self._max_backoff = max_backoff_s
        self._ping = ping_interval_s
        self._rng = rng or random.Random(station.station_id)  # noqa: S311 - jitter
        self._wake = asyncio.Event()
        self._stopped = asyncio.Event()
        self._call = _CALLS[station.version]
        self._boot_reason = "PowerUp"
        self.endpoint: StationEndpoint | None = None
        self._ws: ClientConnection | None = None
        self._closing: asyncio.Future[None] | None = None
        self.connected = asyncio.Event()
        self.idle = asyncio.Event()
        """Set while the station is connected and has nothing left to send."""
        self.connections = 0
        self.boots = 0
        self.refusals: Counter[int] = Counter()
        """Handshakes the CSMS refused, by HTTP status."""
        self.answered: Counter[str] = Counter()
        """Calls the CSMS answered, by action."""
        self.errors: Counter[str] = Counter()
        """Calls the CSMS answered with a CALLERROR, by action."""
        self.last_error: str | None = None
        station.on_queue = self._queued

    # -- lifecycle -------------------------------------------------------------------------------

    async def run(self) -> None:
        """Connect and stay connected until `stop()`."""
        attempt = 0
        while not self._stopped.is_set():
            try:
                async with connect(
                    self.uri,
                    subprotocols=[Subprotocol(SUBPROTOCOLS[self.station.version])],
                    additional_headers=self._headers(),
                    open_timeout=self._timeout,
                    ping_interval=self._ping,
                    compression=None,
                    proxy=None,
                ) as ws:
                    attempt = 0
                    self.connections += 1
                    self._ws = ws
                    await self._session(ws)
            except InvalidStatus as exc:
                status = exc.response.status_code
                self.refusals[status] += 1
                self.last_error = f"handshake refused: HTTP {status}"
                log.warning("%s: CSMS refused the connection (HTTP %s)", self.uri, status)
            except (OSError, ConnectionClosed, InvalidHandshake, TimeoutError) as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.info("%s: connection ended: %s", self.uri, self.last_error)
            finally:
                self.connected.clear()
                self.endpoint = None
                self._ws = None
                self.station.disconnected()
            if self._stopped.is_set():
                break
            delay = min(self._max_backoff, 2.0**attempt) * (0.5 + self._rng.random() / 2)
            attempt += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopped.wait(), delay)

    def power_cycle(self) -> None:
        """A power cut: the station ends its transactions (`PowerLoss`, sent once it is back),
        forgets its profiles, drops the connection and boots again (reason `PowerUp`)."""
        self.station.reboot(self._now(), "PowerLoss")
        self._boot_reason = "PowerUp"
        self.connected.clear()
        ws = self._ws
        if ws is not None:
            self._closing = asyncio.ensure_future(ws.close())

    def _queued(self) -> None:
        self.idle.clear()
        self._wake.set()

    def stop(self) -> None:
        """Ask the link to close (the current call, if any, ends first)."""
        self._stopped.set()
        self._wake.set()

    def _headers(self) -> dict[str, str]:
        if self._password is None:
            return {}
        return {"Authorization": basic_auth(self.station.station_id, self._password)}

    async def _session(self, ws: ClientConnection) -> None:
        cls: Any = endpoint_class(self.station.version)
        endpoint = cls(self.station.station_id, ws, response_timeout=self._timeout)
        endpoint.bind(self.station, self._now)
        self.endpoint = endpoint
        reader = asyncio.create_task(endpoint.start(), name=f"ocpp-recv-{self.station.station_id}")
        sender = asyncio.create_task(self._converse(endpoint), name="ocpp-send")
        stop = asyncio.create_task(self._stopped.wait())
        try:
            done, _pending = await asyncio.wait(
                {reader, sender, stop}, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            for task in (reader, sender, stop):
                task.cancel()
            for task in (reader, sender, stop):
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        for task in done:
            if task is not stop and not task.cancelled() and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]

    # -- conversation ----------------------------------------------------------------------------

    async def _converse(self, endpoint: Any) -> None:
        await self._boot(endpoint)
        station = self.station
        while not self._stopped.is_set():
            if station.outbox:
                message = station.outbox.popleft()
                await self._send(endpoint, message)
                continue
            if endpoint.reset_requested:
                await self._reboot(endpoint)
                return
            self._wake.clear()
            self.idle.set()
            try:
                await asyncio.wait_for(self._wake.wait(), station.heartbeat_interval_s)
            except TimeoutError:
                await self._send(endpoint, Outgoing("Heartbeat", {}))

    async def _boot(self, endpoint: Any) -> None:
        station = self.station
        while True:
            payload = station.boot_payload(self._boot_reason)
            answer = await endpoint.call(self._call.BootNotification(**payload), suppress=False)
            self.answered["BootNotification"] += 1
            interval = float(answer.interval or 0)
            if answer.status == "Accepted":
                station.heartbeat_interval_s = interval if interval > 0 else 300.0
                break
            await asyncio.sleep(interval if interval > 0 else 10.0)
        self.boots += 1
        self._boot_reason = "Unknown"
        station.after_boot()
        self.connected.set()
        station.apply_controls(self._now())

    async def _reboot(self, endpoint: Any) -> None:
        """End the transactions (telling the CSMS), forget the profiles, close: `run` connects
        again and boots with reason RemoteReset."""
        endpoint.reset_requested = False
        self.station.reboot(self._now())
        while self.station.outbox:
            await self._send(endpoint, self.station.outbox.popleft())
        self._boot_reason = "RemoteReset"

    async def _send(self, endpoint: Any, message: Outgoing) -> None:
        try:
            payload = message.build()
            request = getattr(self._call, message.action)(**payload)
        except Exception:
            log.exception("%s: cannot build %s", self.uri, message.action)
            return
        try:
            answer = await endpoint.call(request, suppress=False)
        except OCPPError as exc:
            self.errors[message.action] += 1
            self.last_error = f"{message.action}: CALLERROR {type(exc).__name__}: {exc}"
            log.warning("%s: %s", self.uri, self.last_error)
            return
        except (TimeoutError, ConnectionClosed, asyncio.CancelledError):
            # Not answered: a transaction message goes again on the next connection (OCPP
            # delivers them at least once).
            if message.transactional:
                self.station.outbox.appendleft(message)
            raise
        self.answered[message.action] += 1
        self.station.sent += 1
        if message.action == "StartTransaction":
            self.station.transaction_assigned(payload["connector_id"], answer.transaction_id)
