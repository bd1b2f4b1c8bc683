"""Fake OCPP stations for the OCPP benchmarks (P8-P10), and the bare CSMS they are compared with.

The simulated chargers of `fcsbe.chargers` carry a simulator and validate every frame: right for
tests, too heavy to hold 10,000 connections on the machine that also runs the server under
test. A `FakeStation` is a bare WebSocket that sends pre-rendered OCPP-J frames and answers the
calls a CSMS makes after a boot (GetVariables, SetChargingProfile, ...), recording when each
SetChargingProfile arrived.

The baseline CSMS (`python -m bench.bench_ocpp_stations --bare-csms PORT`) is what the issue
compares the server with: the `ocpp` library's ChargePoint that only answers (schema validation
on, as in the server), plus a fan-out of SetChargingProfile to every connected station when one
of them sends `DataTransfer` (the same frames the server sends, sent bare).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import itertools
import json
import logging
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from bench.report import BenchFigure

__all__ = [
    "FakeStation",
    "connect_many",
    "meter_values_frame",
    "run_bare_csms",
    "run_for_report",
]

SUBPROTOCOL = {"2.1": "ocpp2.1", "2.0.1": "ocpp2.0.1", "1.6": "ocpp1.6"}
_ids = itertools.count(1)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _variables() -> dict[tuple[str, str], str]:
    return {
        ("SmartChargingCtrlr", "Enabled"): "true",
        ("SmartChargingCtrlr", "Entries"): "20",
        ("SmartChargingCtrlr", "PeriodsPerSchedule"): "24",
        ("SmartChargingCtrlr", "ProfileStackLevel"): "8",
        ("SmartChargingCtrlr", "ChargingProfileMaxStackLevel"): "8",
        ("SmartChargingCtrlr", "RateUnit"): "A,W",
    }


VARIABLES = _variables()


def meter_values_frame(evse: int, energy_wh: float) -> str:
    """A 2.x MeterValues call frame, as the simulated chargers send it."""
    payload = {
        "evseId": evse,
        "meterValue": [
            {
                "timestamp": _now(),
                "sampledValue": [
                    {
                        "value": energy_wh,
                        "measurand": "Energy.Active.Import.Register",
                        "context": "Sample.Periodic",
                        "unitOfMeasure": {"unit": "Wh"},
                    },
                    {
                        "value": 7400.0,
                        "measurand": "Power.Active.Import",
                        "context": "Sample.Periodic",
                        "unitOfMeasure": {"unit": "W"},
                    },
                ],
            }
        ],
    }
    return json.dumps([2, f"m{next(_ids)}", "MeterValues", payload])


def transaction_frame(tx_id: str, seq: int, event: str, energy_wh: float) -> str:
    """A 2.x TransactionEvent call frame (Started, Updated with a meter value, Ended)."""
    payload: dict[str, Any] = {
        "eventType": event,
        "timestamp": _now(),
        "triggerReason": {"Started": "CablePluggedIn", "Updated": "MeterValuePeriodic"}.get(
            event, "EVDeparted"
        ),
        "seqNo": seq,
        "transactionInfo": {"transactionId": tx_id, "chargingState": "Charging"},
        "evse": {"id": 1, "connectorId": 1},
        "meterValue": [
            {
                "timestamp": _now(),
                "sampledValue": [
                    {
                        "value": energy_wh,
                        "measurand": "Energy.Active.Import.Register",
                        "unitOfMeasure": {"unit": "Wh"},
                    }
                ],
            }
        ],
    }
    if event == "Started":
        payload["idToken"] = {"idToken": f"TOKEN-{tx_id[:8]}", "type": "ISO14443"}
    return json.dumps([2, f"t{next(_ids)}", "TransactionEvent", payload])


class FakeStation:
    """A bare 2.x station: pre-rendered calls out, minimal answers in."""

    def __init__(self, station_id: str) -> None:
        self.station_id = station_id
        self.ws: Any = None
        self.profiles: list[float] = []
        """perf_counter() of every SetChargingProfile received."""
        self._pending: dict[str, asyncio.Future[Any]] = {}
        self._reader: asyncio.Task[None] | None = None

    async def connect(self, url: str, password: str | None, version: str = "2.0.1") -> None:
        """Open the WebSocket (HTTP Basic auth when a password is given)."""
        from websockets.asyncio.client import connect
        from websockets.typing import Subprotocol

        headers = {}
        if password is not None:
            token = base64.b64encode(f"{self.station_id}:{password}".encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        self.ws = await connect(
            f"{url.rstrip('/')}/{self.station_id}",
            subprotocols=[Subprotocol(SUBPROTOCOL[version])],
            additional_headers=headers,
            compression=None,
            ping_interval=None,
            proxy=None,
            open_timeout=120,
        )
        self._reader = asyncio.create_task(self._read())

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
        if self.ws is not None:
            await self.ws.close()

    async def call(self, frame: str, timeout_s: float = 300.0) -> Any:
        """Send a pre-rendered call frame and wait for its answer payload."""
        unique = json.loads(frame)[1]
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[unique] = future
        await self.ws.send(frame)
        return await asyncio.wait_for(future, timeout_s)

    async def boot(self) -> Any:
        frame = json.dumps(
            [
                2,
                f"b{next(_ids)}",
                "BootNotification",
                {"chargingStation": {"model": "bench", "vendorName": "fcsbe"}, "reason": "PowerUp"},
            ]
        )
        return await self.call(frame)

    async def _read(self) -> None:
        from websockets.exceptions import ConnectionClosed

        with contextlib.suppress(ConnectionClosed):
            await self._read_frames()
        for future in self._pending.values():
            if not future.done():
                future.set_exception(ConnectionError(f"{self.station_id}: connection closed"))

    async def _read_frames(self) -> None:
        async for raw in self.ws:
            message = json.loads(raw)
            kind, unique = message[0], message[1]
            if kind == 2:
                answer = self._answer(message[2], message[3])
                await self.ws.send(json.dumps([3, unique, answer]))
            else:
                future = self._pending.pop(unique, None)
                if future is not None and not future.done():
                    future.set_result(message[2] if kind == 3 else None)

    def _answer(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        if action == "GetVariables":
            results = []
            for item in payload["getVariableData"]:
                key = (item["component"]["name"], item["variable"]["name"])
                value = VARIABLES.get(key)
                result = {
                    "component": item["component"],
                    "variable": item["variable"],
                    "attributeStatus": "Accepted" if value is not None else "UnknownVariable",
                }
                if value is not None:
                    result["attributeValue"] = value
                results.append(result)
            return {"getVariableResult": results}
        if action == "SetChargingProfile":
            self.profiles.append(time.perf_counter())
            return {"status": "Accepted"}
        return {"status": "Accepted"}


async def connect_many(
    url: str,
    station_ids: Sequence[str],
    passwords: dict[str, str] | None,
    *,
    version: str = "2.0.1",
    concurrency: int = 100,
    boot: bool = True,
) -> list[FakeStation]:
    """Connect (and boot) every station, `concurrency` at a time."""
    stations = [FakeStation(s) for s in station_ids]
    gate = asyncio.Semaphore(concurrency)

    async def one(station: FakeStation) -> None:
        async with gate:
            await station.connect(url, (passwords or {}).get(station.station_id), version)
            if boot:
                await station.boot()

    await asyncio.gather(*(one(s) for s in stations))
    return stations


# -- the bare CSMS -------------------------------------------------------------------------------


def run_bare_csms(port: int, version: str = "2.0.1") -> None:
    """Serve the baseline CSMS on 127.0.0.1:`port` until killed."""
    asyncio.run(_bare_csms(port, version))


async def _bare_csms(port: int, version: str) -> None:
    from ocpp.routing import on
    from ocpp.v201 import ChargePoint, call
    from ocpp.v201 import call_result as result
    from websockets.asyncio.server import serve

    logging.getLogger("ocpp").setLevel(logging.WARNING)
    points: dict[str, Any] = {}

    class Bare(ChargePoint):  # type: ignore[misc]
        @on("BootNotification")
        def boot(self, **_: Any) -> Any:
            return result.BootNotification(current_time=_now(), interval=300, status="Accepted")

        @on("Heartbeat")
        def heartbeat(self, **_: Any) -> Any:
            return result.Heartbeat(current_time=_now())

        @on("StatusNotification")
        def status(self, **_: Any) -> Any:
            return result.StatusNotification()

        @on("MeterValues")
        def meter_values(self, **_: Any) -> Any:
            return result.MeterValues()

        @on("TransactionEvent")
        def transaction_event(self, **_: Any) -> Any:
            return result.TransactionEvent()

        @on("DataTransfer")
        def data_transfer(self, **_: Any) -> Any:
            asyncio.get_running_loop().create_task(fan_out())
            return result.DataTransfer(status="Accepted")

    async def fan_out() -> None:
        profile = {
            "id": 1,
            "stack_level": 1,
            "charging_profile_purpose": "TxDefaultProfile",
            "charging_profile_kind": "Absolute",
            "charging_schedule": [
                {
                    "id": 1,
                    "start_schedule": _now(),
                    "charging_rate_unit": "W",
                    "charging_schedule_period": [{"start_period": 0, "limit": 7400.0}],
                }
            ],
        }
        await asyncio.gather(
            *(
                p.call(call.SetChargingProfile(evse_id=1, charging_profile=profile))
                for p in list(points.values())
            ),
            return_exceptions=True,
        )

    async def handler(ws: Any) -> None:
        station = ws.request.path.rsplit("/", 1)[-1]
        point = Bare(station, ws, response_timeout=60)
        points[station] = point
        try:
            await point.start()
        except Exception:
            points.pop(station, None)

    async with serve(
        handler,
        "127.0.0.1",
        port,
        subprotocols=[SUBPROTOCOL[version]],  # type: ignore[list-item]
        compression=None,
        ping_interval=None,
        backlog=4096,
    ):
        await asyncio.Event().wait()


def run_for_report() -> list[BenchFigure]:
    """Helpers only: the figures are bench_ocpp's."""
    return []


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="The bare ocpp-library CSMS baseline.")
    parser.add_argument("--bare-csms", type=int, required=True, metavar="PORT")
    parser.add_argument("--version", default="2.0.1")
    arguments = parser.parse_args()
    run_bare_csms(arguments.bare_csms, arguments.version)
