"""The real app with `FCSBE_STATION_ADAPTER=ocpp`, served by uvicorn on a loopback port in the
test's own event loop, and small charge points written with the `ocpp` library (one per OCPP
version) that connect to it over real WebSockets.

The app's background loops are off: tests run the steps (session sync, decisions, execution)
themselves, as the scenario tests do.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import socket
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI
from ocpp import v16, v21, v201
from ocpp.routing import on
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from websockets.asyncio.client import ClientConnection, connect

from fcsbe.server.adapters.ocpp.adapter import OcppStations
from fcsbe.server.adapters.ocpp.provisioning import issue_passwords
from fcsbe.server.adapters.scenario_registry import registry_of, scenario_fleet
from fcsbe.server.services.registry.registry import import_registry
from fcsbe.server.settings import Settings
from tests.conftest import fake_dns
from tests.support.apps import app_for
from tests.support.databases import empty_all

CS_ID = "CS-0000001"
EVSE_ID = "DE*FCS*E0000001*1"
SITE_ID = "SITE-HOME-1"


def now_text() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


@dataclass
class Served:
    """The app, its WebSocket base URL and the provisioned station's password."""

    app: FastAPI
    url: str
    password: str

    @property
    def factory(self) -> async_sessionmaker[AsyncSession]:
        return self.app.state.session_factory  # type: ignore[no-any-return]

    @property
    def adapter(self) -> OcppStations:
        adapter = self.app.state.adapter
        assert isinstance(adapter, OcppStations)
        return adapter

    async def open(
        self,
        cs_id: str = CS_ID,
        password: str | None = None,
        subprotocols: Sequence[str] = ("ocpp2.0.1",),
    ) -> ClientConnection:
        """A raw WebSocket of a station (Basic auth unless `password` is empty)."""
        secret = self.password if password is None else password
        headers = {}
        if secret:
            token = base64.b64encode(f"{cs_id}:{secret}".encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        return await connect(
            f"{self.url}/{cs_id}",
            subprotocols=list(subprotocols),  # type: ignore[arg-type]
            additional_headers=headers,
            open_timeout=5,
        )


@pytest.fixture
async def served(settings: Settings) -> AsyncIterator[Served]:
    ocpp_settings = settings.model_copy(
        update={"station_adapter": "ocpp", "ocpp_call_timeout_s": 1.0}
    )
    app = app_for(ocpp_settings)
    app.state.callback_resolver = fake_dns
    async with app.router.lifespan_context(app):
        await empty_all(app.state.engine)
        factory = app.state.session_factory
        async with factory() as db:
            await import_registry(db, registry_of(scenario_fleet("uc-1.1-s2")))
            passwords = await issue_passwords(db, [CS_ID])
            await db.commit()
        adapter = app.state.adapter
        adapter.flush_interval_s = 0.05
        await adapter.start()
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        port = listener.getsockname()[1]
        server = uvicorn.Server(
            uvicorn.Config(app, lifespan="off", log_level="warning", ws_max_size=1 << 20)
        )
        task = asyncio.create_task(server.serve(sockets=[listener]))
        while not server.started:  # noqa: ASYNC110 (uvicorn offers no event to wait on)
            await asyncio.sleep(0.01)
        try:
            yield Served(app, f"ws://127.0.0.1:{port}/ocpp", passwords[CS_ID])
        finally:
            server.should_exit = True
            await task
            listener.close()


@dataclass
class Received:
    """What a test charge point was sent, and how it answers."""

    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    answer: str = "Accepted"
    silent: bool = False

    async def note(self, action: str, payload: dict[str, Any]) -> None:
        self.calls.append((action, payload))
        if self.silent:
            # never answers: the message loop is cancelled when the station closes
            await asyncio.Event().wait()

    def of(self, action: str) -> list[dict[str, Any]]:
        return [p for a, p in self.calls if a == action]


class Cp201(v201.ChargePoint):  # type: ignore[misc]
    """A 2.0.1 charge point: smart charging in W, no V2X."""

    seen: Received

    @on("GetVariables")
    async def on_get_variables(self, get_variable_data: list[dict[str, Any]], **_: Any) -> Any:
        await self.seen.note("GetVariables", {"data": get_variable_data})
        values = {"RateUnit": "W", "PeriodsPerSchedule": "12", "Enabled": "true"}
        return self._call_result.GetVariables(
            get_variable_result=[
                {
                    "attribute_status": "Accepted"
                    if d["variable"]["name"] in values
                    else "UnknownVariable",
                    "attribute_value": values.get(d["variable"]["name"]),
                    "component": d["component"],
                    "variable": d["variable"],
                }
                if d["variable"]["name"] in values
                else {
                    "attribute_status": "UnknownVariable",
                    "component": d["component"],
                    "variable": d["variable"],
                }
                for d in get_variable_data
            ]
        )

    @on("SetChargingProfile")
    async def on_set_charging_profile(self, **payload: Any) -> Any:
        await self.seen.note("SetChargingProfile", payload)
        info = {"reason_code": "NoCapacity"} if self.seen.answer != "Accepted" else None
        return self._call_result.SetChargingProfile(status=self.seen.answer, status_info=info)

    @on("ClearChargingProfile")
    async def on_clear_charging_profile(self, **payload: Any) -> Any:
        await self.seen.note("ClearChargingProfile", payload)
        return self._call_result.ClearChargingProfile(status="Accepted")


class Cp21(Cp201, v21.ChargePoint):  # type: ignore[misc]
    """A 2.1 charge point with V2X and DER control enabled."""

    _call = v21.call
    _call_result = v21.call_result
    _ocpp_version = "2.1"

    @on("GetVariables")
    async def on_get_variables(self, get_variable_data: list[dict[str, Any]], **_: Any) -> Any:
        await self.seen.note("GetVariables", {"data": get_variable_data})
        return self._call_result.GetVariables(
            get_variable_result=[
                {
                    "attribute_status": "Accepted",
                    "attribute_value": "W,A" if d["variable"]["name"] == "RateUnit" else "true",
                    "component": d["component"],
                    "variable": d["variable"],
                }
                for d in get_variable_data
            ]
        )


class Cp16(v16.ChargePoint):  # type: ignore[misc]
    """A 1.6J charge point limited in A."""

    seen: Received

    @on("GetConfiguration")
    async def on_get_configuration(self, **payload: Any) -> Any:
        await self.seen.note("GetConfiguration", payload)
        return self._call_result.GetConfiguration(
            configuration_key=[
                {
                    "key": "ChargingScheduleAllowedChargingRateUnit",
                    "readonly": True,
                    "value": "Current",
                },
                {"key": "ChargeProfileMaxStackLevel", "readonly": True, "value": "3"},
            ]
        )

    @on("SetChargingProfile")
    async def on_set_charging_profile(self, **payload: Any) -> Any:
        await self.seen.note("SetChargingProfile", payload)
        return self._call_result.SetChargingProfile(status=self.seen.answer)


CP_CLASSES: dict[str, type[Any]] = {"ocpp2.0.1": Cp201, "ocpp2.1": Cp21, "ocpp1.6": Cp16}


@dataclass
class Station:
    """A connected test charge point and its message loop."""

    cp: Any
    ws: ClientConnection
    task: asyncio.Task[None]
    seen: Received

    async def close(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self.task
        await self.ws.close()


async def station(
    served: Served, version: str = "ocpp2.0.1", seen: Received | None = None
) -> Station:
    """Connect a charge point of `version` as the provisioned station."""
    ws = await served.open(subprotocols=[version])
    cp = CP_CLASSES[version](CS_ID, ws, response_timeout=5)
    cp.seen = seen or Received()
    task = asyncio.create_task(cp.start())
    return Station(cp, ws, task, cp.seen)


async def settle(adapter: OcppStations) -> None:
    """Let the tasks the adapter spawned (discovery, re-sending) finish."""
    for _ in range(200):
        await asyncio.sleep(0.01)
        if not adapter._tasks:
            return
