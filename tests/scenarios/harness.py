"""A real server over a simulated fleet on a virtual clock, driven step by step.

The scenario tests talk to the server only through the FO client; the harness stands in for the
server's background loops (station sync, decisions, execution, telemetry) by calling their step
functions after moving the virtual clock, so nothing sleeps and every run is deterministic.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI

from fcsbe.client import FcsbeClient, RetryPolicy
from fcsbe.server.adapters.base import ControlLevel, ControlTarget
from fcsbe.server.adapters.scenario_registry import floor_to_second, registry_of, scenario_fleet
from fcsbe.server.adapters.simulated import SimulatedStations
from fcsbe.server.services.flexibility_services.decision_batch import decide_pending
from fcsbe.server.services.flexibility_services.execution import execute_step
from fcsbe.server.services.flexibility_services.telemetry import telemetry_step
from fcsbe.server.settings import Settings
from fcsbe.server.stations import StationRuntime
from fcsbe.server.storage.base import utcnow
from fcsbe.sim import ScenarioFleet, SimOptions, VirtualClock
from tests.support.apps import app_for
from tests.support.databases import empty_all
from tests.support.factories import make_fo
from tests.support.fs_fixtures import make_contract

__all__ = ["Harness", "harness"]


class Harness:
    """The app, its simulated stations, and an FO client with an active contract."""

    def __init__(self, app: FastAPI, stations: SimulatedStations, client: FcsbeClient) -> None:
        self.app = app
        self.stations = stations
        self.fo = client

    @property
    def now(self) -> datetime:
        return self.stations.now()

    async def steps(self) -> None:
        """One pass of every background step, as the loops would run it now."""
        factory = self.app.state.session_factory
        await self.app.state.stations.sync(factory)
        for work in (decide_pending, execute_step, telemetry_step):
            while True:
                async with factory() as session:
                    if work is decide_pending:
                        done = await decide_pending(session, self.now, self.app.state.keys.sign)
                    elif work is execute_step:
                        done = await execute_step(session, self.stations, self.now)
                        done = 0  # one execution pass per tick
                    else:
                        done = await telemetry_step(session, self.stations, self.now)
                        done = 0
                    await session.commit()
                if not done:
                    break

    async def run(self, seconds: float, tick_s: float = 5.0) -> None:
        """Advance the stations by `seconds`, running the steps every `tick_s`."""
        end = self.now + timedelta(seconds=seconds)
        while self.now < end:
            self.stations.advance(min(tick_s, (end - self.now).total_seconds()))
            await self.steps()

    async def power_w(self, evse_ids: list[str]) -> float:
        """Measured aggregate active power of the EVSEs now (+ import)."""
        targets = [ControlTarget(ControlLevel.EVSE, e) for e in evse_ids]
        return sum(s.p_w for s in await self.stations.read_state(targets))

    def evses_of(self, site_id: str) -> list[str]:
        return [e.evse_id for e in self.stations.fleet.evses if e.site_id == site_id]


@asynccontextmanager
async def harness(
    settings: Settings,
    scenario: str = "demo",
    *,
    contract_sites: list[str] | None = None,
    fs_types: list[str] | None = None,
    level: str = "EVSE",
    categories: list[str] | None = None,
    fallback: dict[str, Any] | None = None,
    fleet: Callable[[datetime], ScenarioFleet] | None = None,
    contract_targets: list[tuple[str, str]] | None = None,
) -> AsyncIterator[Harness]:
    """A fresh app over the scenario's simulated fleet (or the one `fleet` builds from a start
    time), with FO-A holding an active contract (with the `fallback` terms when given) on
    `contract_sites` (default: every site), or on `contract_targets` ((level, id) pairs)."""
    start = floor_to_second(utcnow())
    fleet_ = scenario_fleet(scenario, start=start) if fleet is None else fleet(start)
    stations = SimulatedStations(
        fleet_, VirtualClock(fleet_.start), options=SimOptions(meter_resolution_s=5)
    )
    # The registry is set after the tables are emptied: the app's start would otherwise
    # import it over what an earlier test of another fleet left behind.
    runtime = StationRuntime(stations, settings.data_dir)
    app = app_for(settings, stations=runtime)
    async with app.router.lifespan_context(app):
        await empty_all(app.state.engine)
        runtime.registry = registry_of(fleet_)
        await runtime.load_registry(app.state.session_factory)
        token = await make_fo(app.state.session_factory, "FO-A")
        targets = contract_targets or [
            ("SITE", s) for s in (contract_sites or [s.site_id for s in fleet_.sites])
        ]
        await make_contract(
            app.state.session_factory,
            "FO-A",
            targets=targets,
            fs_types=fs_types,
            level=level,
            categories=categories,
            fallback=fallback,
        )

        async def no_sleep(_s: float) -> None:
            return None

        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with FcsbeClient(
            "http://fcsbe.test",
            token=token,
            transport=transport,
            retry=RetryPolicy(),
            sleep=no_sleep,
        ) as client:
            h = Harness(app, stations, client)
            await h.run(5)  # let the stations report a first state
            yield h


def without_arrivals(start: datetime, scenario: str = "demo") -> ScenarioFleet:
    """The scenario with only the EVs plugged in at the start. Its sites' arrival rates follow
    the hour of the day, so an EV arriving during an FS (whose user's needs then win over the
    order) would make a test's worked numbers depend on when it runs."""
    fleet = scenario_fleet(scenario, start=start)
    return replace(fleet, sites=tuple(replace(site, profile=None) for site in fleet.sites))
