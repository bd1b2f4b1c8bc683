"""UC 1.1: individual EV user recharging at a home CS.

S1: a CSP backend with many home wallboxes (AC, configuration 4; every fifth a DC V2G wallbox,
configuration 5) serves the FO. S2: no CSP backend: the same server runs embedded for one home
CS (SQLite, one process, migrating itself) with the simulated wallbox, and the FO enrols with it
directly.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from fcsbe.client import FcsbeClient
from fcsbe.model import ConfigurationType, CurrentType, FsState, FsType
from fcsbe.server.app import create_app
from fcsbe.server.settings import Settings
from tests.scenarios.conftest import StartScenario, no_sleep
from tests.scenarios.family2 import finish_fs, harness_of, setpoint, start_fs
from tests.support.factories import make_contract, make_fo


async def test_s1_csp_backend_with_many_home_wallboxes(scenario: StartScenario) -> None:
    async with scenario("uc-1.1") as run:
        homes = [s.site_id for s in run.fleet.sites]
        await run.contract(
            "FO-HOME",
            "fsc-homes",
            [("SITE", site_id) for site_id in homes[:5]],
            level="SESSION",
            provider_party_id="CSP-HOME-A",
        )
        fo = await run.fo("FO-HOME")
        sites = [s async for s in fo.sites.list()]
        assert [s.site_id for s in sites] == sorted(homes[:5])
        kinds = {s.site_id: s.configuration_type for s in sites}
        assert kinds["SITE-HOME-5"] is ConfigurationType.SINGLE_EVSE_DC
        assert kinds["SITE-HOME-1"] is ConfigurationType.SINGLE_EVSE_AC
        stations = [c async for c in fo.charging_stations.list()]
        assert len(stations) == 5
        assert all(len(c.evses) == 1 for c in stations)
        dc = next(c for c in stations if c.site_id == "SITE-HOME-5").evses[0]
        assert (dc.current_type, dc.max_discharge_power_w) == (CurrentType.DC, 10_000.0)
        sessions = [s async for s in fo.sessions.list()]
        assert len(sessions) == 5
        assert {s.holders[0].party_id for s in sessions} == {"CSP-HOME-A"}

        ac = next(c for c in stations if c.site_id == "SITE-HOME-1").evses[0]
        caps = {
            c.fs_type: c
            for c in await fo.capabilities.get([f"EVSE:{ac.evse_id}"], fs_types=list(FsType))
        }
        assert caps[FsType.SETPOINT].supported
        assert caps[FsType.SETPOINT].p_min_w == 0.0  # AC wallbox, no on-board inverter: V1G
        assert not caps[FsType.DROOP].supported
        forecast = await fo.availability.get("SITE:SITE-HOME-1", resolution_s=3600)
        assert forecast.intervals[0].connected_evs == 1
        assert forecast.intervals[0].max_import_w > 0
        # homes outside the contract stay invisible
        assert {s.site_id async for s in fo.sites.list()}.isdisjoint(homes[5:])


async def test_s2_embedded_server_for_one_home_cs(tmp_path: Path) -> None:
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'home.db'}",
        data_dir=tmp_path / "var",
        simulator_scenario="uc-1.1-s2",
        workers_enabled=False,
        log_level="WARNING",
    )
    assert settings.migrate_on_start
    assert settings.simulator_enabled
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        assert app.state.adapter.name == "simulator"
        await app.state.stations.sync(app.state.session_factory)
        factory = app.state.session_factory
        token = await make_fo(factory, "FO-DIRECT")
        await make_contract(
            factory, "FO-DIRECT", "fsc-home", [("SITE", "SITE-HOME-1")], level="SESSION"
        )
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with FcsbeClient(
            "http://home.local", token=token, transport=transport, sleep=no_sleep
        ) as fo:
            (site,) = [s async for s in fo.sites.list()]
            assert (site.site_id, site.configuration_type) == ("SITE-HOME-1", 4)
            (station,) = [c async for c in fo.charging_stations.list()]
            (evse,) = station.evses
            (session,) = [s async for s in fo.sessions.list()]
            assert session.evse_id == evse.evse_id
            forecast = await fo.availability.get(f"EVSE:{evse.evse_id}", resolution_s=1800)
            assert forecast.intervals[0].connected_evs == 1
    assert (tmp_path / "var" / "keys" / "pseudonym.key").is_file()


async def test_s1_a_home_wallbox_follows_a_setpoint(scenario: StartScenario) -> None:
    """UC 2.1 at home: the FO holds one home's charging at 5 kW, then lets it go."""
    async with scenario("uc-1.1") as run:
        await run.contract(
            "FO-HOME", "fsc-homes", [("SITE", "SITE-HOME-1")], level="SESSION",
            provider_party_id="CSP-HOME-A",
        )  # fmt: skip
        h = await harness_of(run, await run.fo("FO-HOME"))
        home = h.evses_of("SITE-HOME-1")
        assert await h.power_w(home) > 6_000
        fs = await start_fs(h, "fs-home", "SETPOINT", setpoint(5_000), "SITE-HOME-1",
                            fsc_id="fsc-homes")  # fmt: skip
        assert fs.state is FsState.ACTIVE
        assert await h.power_w(home) == pytest.approx(5_000, rel=0.05)
        await finish_fs(h, "fs-home")
