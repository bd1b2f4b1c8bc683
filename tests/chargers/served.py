"""The real app with the OCPP adapter, served by uvicorn in the test's event loop, and the
simulated chargers of a scenario connected to it over real WebSockets.

The chargers' simulator runs on a virtual clock that starts at the wall clock's current second
and only moves when the test says; the server's background loops are off and `steps()` runs
them at the chargers' time (as the scenario harness does), so a 15-minute FS takes no 15
minutes. The FO talks to the server through the real client.
"""

from __future__ import annotations

import asyncio
import functools
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI

from fcsbe.chargers import ChargerFleet
from fcsbe.client import FcsbeClient, RetryPolicy
from fcsbe.model import FlexibilityService, FlexibilityServiceRequest
from fcsbe.server.adapters.scenario_registry import floor_to_second, registry_of, scenario_fleet
from fcsbe.server.security.station_passwords import hash_password
from fcsbe.server.services.flexibility_services.decision_batch import decide_pending
from fcsbe.server.services.flexibility_services.execution import execute_step
from fcsbe.server.services.flexibility_services.telemetry import telemetry_step
from fcsbe.server.services.registry.registry import import_registry
from fcsbe.server.settings import Settings
from fcsbe.server.storage.base import utcnow
from fcsbe.server.storage.ocpp_stations import set_credential
from fcsbe.sim import SimOptions, VirtualClock
from tests.conftest import fake_dns
from tests.support.apps import app_for
from tests.support.databases import empty_all
from tests.support.factories import make_fo
from tests.support.fs_fixtures import make_contract, request_body

__all__ = ["OcppWorld", "ocpp_world"]

PASSWORD = "simulated-station-pw-0001"


@functools.cache
def _password_hash() -> str:
    """One scrypt hash for the session (making one costs a fifth of a second)."""
    return hash_password(PASSWORD)


async def _no_sleep(_s: float) -> None:
    return None


class OcppWorld:
    """The app, its OCPP adapter, the connected simulated chargers and an FO client."""

    def __init__(self, app: FastAPI, fleet: ChargerFleet, fo: FcsbeClient) -> None:
        self.app = app
        self.fleet = fleet
        self.fo = fo

    @property
    def adapter(self) -> Any:
        return self.app.state.adapter

    @property
    def now(self) -> datetime:
        return self.fleet.clock.now()

    async def settle(self) -> None:
        """Until the chargers sent everything and the server answered it (what a station
        reports is in the adapter once its call is answered)."""
        await self.fleet.wait_idle()
        await self.adapter.flush()

    async def reconnected(self) -> None:
        """Until every station is connected, booted, and the server is done with what it does
        after a boot (capability discovery, re-sending the profiles in force)."""
        await self.fleet.wait_connected(5)
        await asyncio.sleep(0.3)
        await self.settle()

    async def steps(self) -> None:
        """One pass of the server's background steps at the chargers' time."""
        await self.settle()
        factory = self.app.state.session_factory
        await self.app.state.stations.sync(factory)
        for work in (decide_pending, execute_step, telemetry_step):
            async with factory() as session:
                if work is decide_pending:
                    await decide_pending(session, self.now, self.app.state.keys.sign)
                else:
                    await work(session, self.adapter, self.now)
                await session.commit()
        await self.settle()

    async def run(self, seconds: float, tick_s: float = 5.0) -> None:
        """Advance the chargers' clock by `seconds`, ticking them and the server every `tick_s`."""
        end = self.now + timedelta(seconds=seconds)
        clock = self.fleet.clock
        assert isinstance(clock, VirtualClock)
        while self.now < end:
            clock.advance(min(tick_s, (end - self.now).total_seconds()))
            self.fleet.tick()
            await self.steps()

    async def request_fs(
        self,
        fs_id: str,
        site: str,
        *,
        fs_type: str = "SETPOINT",
        parameters: dict[str, Any] | None = None,
        p_w: float = 6_000.0,
        minutes: int = 1,
    ) -> None:
        """An FS on a site whose window starts 10 s from now, requested and decided."""
        body = request_body(
            fs_id,
            targets=[("SITE", site)],
            fs_type=fs_type,
            parameters=parameters,
            p_w=p_w,
            start_in=timedelta(seconds=10),
            duration=timedelta(minutes=minutes),
            minimum_acceptance_pct=1,
            now=self.now,
        )
        await self.fo.flexibility_services.create(FlexibilityServiceRequest.model_validate(body))
        await self.steps()

    async def start_fs(self, fs_id: str, site: str, **options: Any) -> FlexibilityService:
        """`request_fs`, then run into its window: it is started and its commands sent."""
        await self.request_fs(fs_id, site, **options)
        await self.run(12, tick_s=12)
        return await self.fo.flexibility_services.get(fs_id)


@asynccontextmanager
async def ocpp_world(
    settings: Settings, version: str, scenario: str = "uc-1.7"
) -> AsyncIterator[OcppWorld]:
    """See the module docstring."""
    fleet_spec = scenario_fleet(scenario, start=floor_to_second(utcnow()))
    app = app_for(settings.model_copy(update={"station_adapter": "ocpp"}))
    app.state.callback_resolver = fake_dns
    async with app.router.lifespan_context(app):
        await empty_all(app.state.engine)
        factory = app.state.session_factory
        passwords = {s.cs_id: PASSWORD for s in fleet_spec.stations}
        async with factory() as db:
            await import_registry(db, registry_of(fleet_spec))
            for cs_id in passwords:
                await set_credential(db, cs_id, _password_hash(), utcnow())
            await db.commit()
        adapter = app.state.adapter
        await adapter.start()
        token = await make_fo(factory, "FO-A")
        await make_contract(
            factory, "FO-A", targets=[("SITE", s.site_id) for s in fleet_spec.sites]
        )
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        port = listener.getsockname()[1]
        server = uvicorn.Server(uvicorn.Config(app, lifespan="off", log_level="warning"))
        serving = asyncio.create_task(server.serve(sockets=[listener]))
        while not server.started:  # noqa: ASYNC110 - uvicorn offers no event to wait on
            await asyncio.sleep(0.01)
        fleet = ChargerFleet(
            fleet_spec,
            f"ws://127.0.0.1:{port}/ocpp",
            version=version,  # type: ignore[arg-type]
            passwords=passwords,
            clock=VirtualClock(fleet_spec.start),
            options=SimOptions(meter_resolution_s=5),
            max_backoff_s=0.2,
            response_timeout_s=5,
        )
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        try:
            await fleet.start()
            async with FcsbeClient(
                "http://fcsbe.test",
                token=token,
                transport=transport,
                retry=RetryPolicy(),
                sleep=_no_sleep,
            ) as fo:
                world = OcppWorld(app, fleet, fo)
                await world.reconnected()
                await world.steps()
                yield world
        finally:
            await fleet.stop()
            server.should_exit = True
            await serving
            listener.close()
