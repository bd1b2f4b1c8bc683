"""`fcsbe serve` out of the box: the simulated demo fleet, loaded from its own scenario.

A home wallbox, a fleet depot, a public car park, an EV service station with PV and storage and
an energy community; EVs arrive, charge and leave, and the FO sees it through its contracts.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine

from fcsbe.client import FcsbeClient
from fcsbe.model import ConfigurationType
from fcsbe.server.app import create_app
from fcsbe.server.settings import Settings
from fcsbe.server.storage.notifications import OutboxRow
from tests.scenarios.conftest import no_sleep
from tests.support.databases import empty_all
from tests.support.factories import make_contract, make_fo, make_operator


@pytest.fixture
async def demo(settings: Settings, database_url: str) -> AsyncIterator[FastAPI]:
    """The app as `fcsbe serve` builds it (workers off: the test drives time)."""
    engine = create_async_engine(database_url)
    await empty_all(engine)
    await engine.dispose()
    app = create_app(settings.model_copy(update={"simulator_enabled": True}))
    async with app.router.lifespan_context(app):
        yield app


async def _client(app: FastAPI, token: str) -> FcsbeClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return FcsbeClient("http://fcsbe.test", token=token, transport=transport, sleep=no_sleep)


async def test_the_demo_fleet_is_served_and_lives(demo: FastAPI) -> None:
    factory = demo.state.session_factory
    assert demo.state.settings.simulator_scenario == "demo"
    assert demo.state.adapter.name == "simulator"
    await demo.state.stations.sync(factory)
    async with await _client(demo, await make_operator(factory)) as operator:
        sites = {s.site_id: s async for s in operator.sites.list()}
        assert {k: s.configuration_type for k, s in sites.items()} == {
            "SITE-HOME-1": ConfigurationType.SINGLE_EVSE_AC,
            "SITE-DEPOT": ConfigurationType.AC_BUS_AC_CHARGE,
            "SITE-CARPARK": ConfigurationType.AC_BUS_DC_CHARGE,
            "SITE-EVSS": ConfigurationType.DC_BUS_DC_CHARGE,
            "SITE-EC": ConfigurationType.AC_BUS_AC_CHARGE,
        }
        evses = [e async for c in operator.charging_stations.list() for e in c.evses]
        assert len(evses) == 39
        before = {s.session_ref: s.evse_id async for s in operator.sessions.list()}
        assert len(before) == 17

        carpark = {
            e.evse_id
            async for c in operator.charging_stations.list(site_id="SITE-CARPARK")
            for e in c.evses
        }
        token = await make_fo(factory, "FO-DEMO")
        await make_contract(
            factory, "FO-DEMO", "fsc-demo", [("SITE", "SITE-CARPARK")], level="SESSION",
            provider_party_id="CSO-VISITED",
        )  # fmt: skip
        async with await _client(demo, token) as fo:
            roaming = {s.session_ref async for s in fo.sessions.list()}
            assert roaming == {ref for ref, evse in before.items() if evse in carpark}
            assert len(roaming) == 3

            demo.state.adapter.advance(4 * 3600, dt_s=60)
            await demo.state.stations.sync(factory)
            still = {s.session_ref async for s in fo.sessions.list()}
            assert not roaming & still  # the roaming EVs left after 2-4 h
            ended = {s.session_ref async for s in fo.sessions.list(include_ended=True)}
            assert roaming <= ended
        async with factory() as session:
            notices = list(
                await session.scalars(
                    select(OutboxRow.type).where(OutboxRow.fo_party_id == "FO-DEMO")
                )
            )
        assert notices.count("EV_DISCONNECTED") >= 3
        after = {s.session_ref async for s in operator.sessions.list()}
        assert after != set(before)


async def test_the_simulator_paces_itself_when_workers_run(settings: Settings) -> None:
    app = create_app(settings.model_copy(update={"simulator_enabled": True}))
    async with app.router.lifespan_context(app):
        adapter = app.state.adapter
        await adapter.start()
        assert adapter.running
        await adapter.stop()
        assert not adapter.running
