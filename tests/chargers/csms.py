"""A tiny central system written with the `ocpp` library alone, to test the simulated chargers.

It accepts every boot (or answers `boot_status`), checks HTTP Basic credentials when given
passwords, records every message it receives (schema-validated by the library, in both
directions), hands out 1.6 transaction ids, and lets a test call a station
(`await csms.call("CS-0000001", "SetChargingProfile", ...)`) or drop its connection.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from ocpp.v16 import ChargePoint as Cp16
from ocpp.v16 import call as call16
from ocpp.v16 import call_result as result16
from ocpp.v21 import ChargePoint as Cp21
from ocpp.v21 import call as call21
from ocpp.v21 import call_result as result21
from ocpp.v201 import ChargePoint as Cp201
from ocpp.v201 import call as call201
from ocpp.v201 import call_result as result201
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

_CLASSES: dict[str, tuple[Any, Any, Any]] = {
    "2.1": (Cp21, call21, result21),
    "2.0.1": (Cp201, call201, result201),
    "1.6": (Cp16, call16, result16),
}
SUBPROTOCOL = {"2.1": "ocpp2.1", "2.0.1": "ocpp2.0.1", "1.6": "ocpp1.6"}


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


class TinyCsms:
    """See the module docstring."""

    def __init__(
        self,
        version: str,
        *,
        passwords: Mapping[str, str] | None = None,
        boot_status: str = "Accepted",
        heartbeat_s: int = 300,
    ) -> None:
        self.version = version
        self.passwords = passwords
        self.boot_status = boot_status
        self.heartbeat_s = heartbeat_s
        self.received: list[tuple[str, str, dict[str, Any]]] = []
        self.points: dict[str, Any] = {}
        self.connections: dict[str, ServerConnection] = {}
        self.refused = 0
        self._tx = itertools.count(1)
        self._arrived = asyncio.Condition()
        self._server: Server | None = None

    async def __aenter__(self) -> TinyCsms:
        self._server = await serve(
            self._connection,
            "127.0.0.1",
            0,
            subprotocols=[SUBPROTOCOL[self.version]],  # type: ignore[list-item]
            process_request=self._check,
            ping_interval=None,
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    @property
    def url(self) -> str:
        assert self._server is not None
        port = next(iter(self._server.sockets)).getsockname()[1]
        return f"ws://127.0.0.1:{port}/ocpp"

    def _check(self, _conn: ServerConnection, request: Request) -> Response | None:
        if self.passwords is None:
            return None
        station = request.path.rsplit("/", 1)[-1]
        expected = self.passwords.get(station)
        header = request.headers.get("Authorization", "")
        token = base64.b64encode(f"{station}:{expected}".encode()).decode()
        if expected is None or header != f"Basic {token}":
            self.refused += 1
            return Response(401, "Unauthorized", Headers([("WWW-Authenticate", "Basic")]), b"")
        return None

    async def _connection(self, ws: ServerConnection) -> None:
        assert ws.request is not None
        station = ws.request.path.rsplit("/", 1)[-1]
        cls, _call, result = _CLASSES[self.version]
        point = cls(station, ws, response_timeout=5)
        for action in (
            "BootNotification",
            "Heartbeat",
            "StatusNotification",
            "MeterValues",
            "TransactionEvent",
            "NotifyEVChargingNeeds",
            "NotifyDERAlarm",
            "StartTransaction",
            "StopTransaction",
        ):
            point.route_map[action] = {"_on_action": self._handler(station, action, result)}
        self.points[station] = point
        self.connections[station] = ws
        try:
            await point.start()
        except Exception:
            return

    def _handler(self, station: str, action: str, result: Any) -> Any:
        async def handle(**payload: Any) -> Any:
            async with self._arrived:
                self.received.append((station, action, payload))
                self._arrived.notify_all()
            if action == "BootNotification":
                return result.BootNotification(
                    current_time=_now(), interval=self.heartbeat_s, status=self.boot_status
                )
            if action == "Heartbeat":
                return result.Heartbeat(current_time=_now())
            if action == "StartTransaction":
                return result.StartTransaction(
                    transaction_id=next(self._tx), id_tag_info={"status": "Accepted"}
                )
            if action == "NotifyEVChargingNeeds":
                return result.NotifyEVChargingNeeds(status="Accepted")
            return getattr(result, action)()

        return handle

    def messages(self, action: str, station: str | None = None) -> list[dict[str, Any]]:
        """Payloads received for `action` (snake_case keys), oldest first."""
        return [p for s, a, p in self.received if a == action and station in (None, s)]

    async def wait_for(
        self, action: str, count: int = 1, *, station: str | None = None, within_s: float = 5.0
    ) -> list[dict[str, Any]]:
        """Until `count` messages of `action` arrived; returns them all."""
        async with asyncio.timeout(within_s), self._arrived:
            await self._arrived.wait_for(lambda: len(self.messages(action, station)) >= count)
        return self.messages(action, station)

    async def call(self, station: str, action: str, **payload: Any) -> Any:
        """Send a request to a station; returns the library's result dataclass."""
        _cls, call, _result = _CLASSES[self.version]
        return await self.points[station].call(getattr(call, action)(**payload), suppress=False)

    async def drop(self, station: str) -> None:
        """Close a station's connection (it reconnects on its own)."""
        await self.connections[station].close()


async def eventually(check: Callable[[], bool], within_s: float = 5.0) -> None:
    """Until `check()` holds (counters of another component, which have no event to wait on)."""
    async with asyncio.timeout(within_s):
        while not check():  # noqa: ASYNC110
            await asyncio.sleep(0.01)
