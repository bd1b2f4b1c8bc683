"""UC 1.3: EV fleet recharge at a private parking (depot).

Many EVSEs, long dwell, fleet departure schedules, and a site connection smaller than the
EVSEs' total: the FO sees the depot, its stations, and an availability bounded by the site
import limit that empties as the fleet leaves on schedule.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from fcsbe.model import FsState, FsType, TargetLevel
from tests.scenarios.conftest import StartScenario
from tests.scenarios.family2 import finish_fs, harness_of, start_fs


async def test_fo_sees_the_depot_its_limit_and_the_fleet_schedule(scenario: StartScenario) -> None:
    async with scenario("uc-1.3") as run:
        await run.contract("FO-FLEET", "fsc-depot", [("SITE", "SITE-DEPOT")], level="EVSE")
        fo = await run.fo("FO-FLEET")
        (depot,) = [s async for s in fo.sites.list()]
        assert (depot.site_id, depot.configuration_type) == ("SITE-DEPOT", 3)
        assert depot.grid_connection.import_limit_w == 150_000.0
        assert len(depot.cs_ids) == 10
        stations = [c async for c in fo.charging_stations.list(site_id="SITE-DEPOT")]
        evses = [e for c in stations for e in c.evses]
        assert len(evses) == 20
        assert all(e.current_type == "AC" and e.converter_location == "ON_BOARD" for e in evses)
        assert sum(e.max_charge_power_w for e in evses) == 440_000.0
        # EVSE level: no sessions, however many EVs are plugged in
        assert [s async for s in fo.sessions.list()] == []

        start = run.stations.now()
        forecast = await fo.availability.get(
            "SITE:SITE-DEPOT", start=start, end=start + timedelta(hours=16), resolution_s=3600
        )
        first = forecast.intervals[0]
        assert first.connected_evs == 16
        assert first.max_import_w == 150_000.0  # 16 vans x 11 kW, capped by the connection
        assert first.v2g_capable_evs == 0  # AC: the vans have no on-board inverter
        assert forecast.intervals[-1].connected_evs == 0  # all left on schedule (14-15 h)
        assert any(i.min_import_w > 0 for i in forecast.intervals)  # departures force charging

        (site_setpoint,) = await fo.capabilities.get(
            ["SITE:SITE-DEPOT"], fs_types=[FsType.SETPOINT]
        )
        assert site_setpoint.target.level is TargetLevel.SITE
        assert site_setpoint.supported
        assert site_setpoint.p_max_w == 150_000.0
        assert site_setpoint.p_min_w == 0.0


async def test_session_level_shows_the_departure_schedule(scenario: StartScenario) -> None:
    async with scenario("uc-1.3") as run:
        await run.contract(
            "FO-FLEET",
            "fsc-depot",
            [("SITE", "SITE-DEPOT")],
            level="SESSION",
            categories=["SESSION_TIMES", "STATE_OF_CHARGE", "EVU_LIMITS"],
        )
        fo = await run.fo("FO-FLEET")
        sessions = [s async for s in fo.sessions.list()]
        assert len(sessions) == 16
        start = run.fleet.start
        departures = sorted({s.departure_time - start for s in sessions if s.departure_time})
        assert departures == [timedelta(hours=14), timedelta(hours=14.5), timedelta(hours=15)]
        assert all(s.evu_limits and s.evu_limits.min_soc_at_departure_pct == 90.0 for s in sessions)
        assert all(s.energy_request is None for s in sessions)
        assert all(s.session_ref.startswith("ps_") for s in sessions)

        first_shift = {s.session_ref for s in sessions}
        await run.advance(15.5 * 3600, dt_s=60)
        now_connected = {s.session_ref async for s in fo.sessions.list()}
        assert not first_shift & now_connected  # the whole shift left; later arrivals may be in
        ended = {s.session_ref async for s in fo.sessions.list(include_ended=True)}
        assert first_shift <= ended


async def test_the_depot_follows_a_setpoint(scenario: StartScenario) -> None:
    """UC 2.1 in the depot: the fleet's charging is held at an aggregate setpoint."""
    async with scenario("uc-1.3") as run:
        await run.contract("FO-FLEET", "fsc-depot", [("SITE", "SITE-DEPOT")], level="EVSE")
        h = await harness_of(run, await run.fo("FO-FLEET"))
        depot = h.evses_of("SITE-DEPOT")
        assert await h.power_w(depot) > 60_000
        setpoint = {
            "fs_type": "SETPOINT",
            "resolution_s": 600,
            "periods": [{"start_offset_s": 0, "p_w": 30_000.0}],
        }
        fs = await start_fs(h, "fs-depot", "SETPOINT", setpoint, "SITE-DEPOT", fsc_id="fsc-depot")
        assert fs.state is FsState.ACTIVE
        assert await h.power_w(depot) == pytest.approx(30_000, rel=0.05)
        await finish_fs(h, "fs-depot")
        await h.run(20, tick_s=10)
        assert await h.power_w(depot) > 60_000  # released
