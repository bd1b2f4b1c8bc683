"""A simulated use-case context behind the real server, driven through the real FO client.

`scenario("uc-1.3")` starts the app with the simulator of that scenario on a virtual clock (from
the wall clock's current second, so server and stations agree on "now"), loads the registry from
the scenario's file in `examples/registry/` (checked to describe exactly what is simulated),
stores the EVs already connected, and hands back a `Scenario`:
clients per party, contracts (written as rows: the contract flow has its own tests), `advance`
to move the simulated time and `sync` to store what the stations then report.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from fcsbe.client import FcsbeClient, RetryPolicy
from fcsbe.model import RegistryDocument
from fcsbe.server.adapters.scenario_registry import floor_to_second, registry_of, scenario_fleet
from fcsbe.server.adapters.simulated import SimulatedStations
from fcsbe.server.services.flexibility_services.decision_batch import decide_pending
from fcsbe.server.services.registry.files import parse_text
from fcsbe.server.services.registry.registry import parse_document
from fcsbe.server.settings import Settings
from fcsbe.server.stations import StationRuntime
from fcsbe.server.storage.base import utcnow
from fcsbe.sim import ScenarioFleet, SimOptions, VirtualClock
from tests.support.apps import app_for
from tests.support.databases import empty_all
from tests.support.factories import make_contract, make_fo, make_operator


async def no_sleep(_seconds: float) -> None:
    return None


@dataclass
class Scenario:
    """A running use-case context."""

    app: FastAPI
    fleet: ScenarioFleet
    stations: SimulatedStations
    runtime: StationRuntime
    stack: AsyncExitStack
    clients: dict[str, FcsbeClient] = field(default_factory=dict)

    async def client(self, token: str | None = None) -> FcsbeClient:
        transport = httpx.ASGITransport(app=self.app, raise_app_exceptions=False)
        client = FcsbeClient(
            "http://fcsbe.test",
            token=token,
            transport=transport,
            retry=RetryPolicy(),
            sleep=no_sleep,
        )
        return await self.stack.enter_async_context(client)

    async def fo(self, party_id: str) -> FcsbeClient:
        """An enrolled FO's client (one per party)."""
        if party_id not in self.clients:
            token = await make_fo(self.app.state.session_factory, party_id)
            self.clients[party_id] = await self.client(token)
        return self.clients[party_id]

    async def operator(self) -> FcsbeClient:
        """The CSO's operator client."""
        if "operator" not in self.clients:
            self.clients["operator"] = await self.client(
                await make_operator(self.app.state.session_factory)
            )
        return self.clients["operator"]

    async def contract(
        self,
        fo_party_id: str,
        fsc_id: str,
        targets: Sequence[tuple[str, str]],
        *,
        level: str,
        provider_party_id: str = "CSO-1",
        **terms: object,
    ) -> None:
        """An ACTIVE contract of an FO (the FO is enrolled first if needed)."""
        await self.fo(fo_party_id)
        await make_contract(
            self.app.state.session_factory,
            fo_party_id,
            fsc_id,
            targets,
            level=level,
            provider_party_id=provider_party_id,
            **terms,  # type: ignore[arg-type]
        )

    async def sync(self) -> int:
        """Store what the stations report now (the station-sync worker's step)."""
        return await self.runtime.sync(self.app.state.session_factory)

    async def advance(self, seconds: float, dt_s: float = 10.0) -> None:
        """Move the simulated time on, then store what the stations report."""
        self.stations.advance(seconds, dt_s)
        await self.sync()

    async def decide(self) -> int:
        """Run the FS decision step until no request is left (the decision worker's job)."""
        decided = 0
        while True:
            async with self.app.state.session_factory() as session:
                n = await decide_pending(session, utcnow(), self.app.state.keys.sign)
                await session.commit()
            if n == 0:
                return decided
            decided += n

    def pseudonym(self, evse_id: str) -> str:
        """The session_ref of the EV connected at `evse_id` (as the server computes it)."""
        (session,) = [s for s in self.stations.simulator.sessions() if s.evse_id == evse_id]
        return self.runtime.pseudonyms.session_ref(session.session_key)


StartScenario = Callable[[str], AbstractAsyncContextManager[Scenario]]

SCENARIO_FILES = Path(__file__).resolve().parents[2] / "examples" / "registry"


def scenario_file(name: str) -> RegistryDocument:
    """The registry file of a scenario, read as `fcsbe admin stations import` reads it."""
    path = SCENARIO_FILES / f"{name}.yaml"
    source = parse_text(path.read_text(encoding="utf-8"), str(path))
    assert source.issues == []
    return parse_document(source.data)


@pytest.fixture
def scenario(settings: Settings) -> StartScenario:
    """`async with scenario("uc-1.3") as run: ...` on the test database of this backend."""

    @asynccontextmanager
    async def start(name: str) -> AsyncIterator[Scenario]:
        fleet = scenario_fleet(name, start=floor_to_second(utcnow()))
        stations = SimulatedStations(
            fleet, VirtualClock(fleet.start), options=SimOptions(meter_resolution_s=60)
        )
        runtime = StationRuntime(stations, settings.data_dir)
        app = app_for(settings, stations=runtime)
        async with AsyncExitStack() as stack:
            await stack.enter_async_context(app.router.lifespan_context(app))
            await empty_all(app.state.engine)
            runtime.registry = scenario_file(name)
            assert runtime.registry == registry_of(fleet)  # the file describes what is simulated
            await runtime.load_registry(app.state.session_factory)
            run = Scenario(app, fleet, stations, runtime, stack)
            await run.sync()
            yield run

    return start
