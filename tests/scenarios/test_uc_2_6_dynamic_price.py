"""UC 2.6: V2X with dynamic prices — discharge when export pays, inside EV-user limits; V2H at
a home that may not export."""

from __future__ import annotations

import pytest

from fcsbe.model import FsState
from fcsbe.server.adapters.base import ControlLevel, ControlTarget
from fcsbe.server.settings import Settings
from fcsbe.sim import SetpointControl
from fcsbe.sim.scenarios import uc_2_6_v2h_home
from tests.scenarios.family2 import start_fs
from tests.scenarios.harness import harness


async def test_v2g_discharges_when_export_price_is_high(settings: Settings) -> None:
    async with harness(settings) as h:
        carpark = h.evses_of("SITE-CARPARK")
        prices = {
            "fs_type": "DYNAMIC_PRICE",
            "currency": "EUR",
            "v2x_allowed": True,
            "intervals": [
                # Evening peak: export pays well; then the night: import is cheap again.
                {
                    "start_offset_s": 0,
                    "duration_s": 300,
                    "import_price_per_kwh": 0.40,
                    "export_price_per_kwh": 0.90,
                },
                {
                    "start_offset_s": 300,
                    "duration_s": 300,
                    "import_price_per_kwh": 0.05,
                    "export_price_per_kwh": 0.02,
                },
            ],
        }
        fs = await start_fs(h, "price", "DYNAMIC_PRICE", prices, "SITE-CARPARK")
        assert fs.state is FsState.ACTIVE
        await h.run(30, tick_s=10)
        states = await h.stations.read_state([ControlTarget(ControlLevel.EVSE, e) for e in carpark])
        assert any(s.p_w < 0 for s in states), "some V2G EV discharges"
        for session in await h.stations.sessions():
            if session.evse_id in carpark and not session.consent_v2g:
                state = next(s for s in states if s.target.id == session.evse_id)
                assert state.p_w >= 0, "no discharge without V2G consent"
        await h.run(300, tick_s=60)
        later = await h.stations.read_state([ControlTarget(ControlLevel.EVSE, e) for e in carpark])
        assert all(s.p_w >= 0 for s in later), "cheap import: nobody discharges"


async def test_v2h_covers_the_home_load_and_never_exports(settings: Settings) -> None:
    """A home draws 1.2 kW and may not export; evening import costs 0.40, the night 0.05.
    Discharging saves 0.40 per kWh against 0.05 / 0.9 + 0.05 wear = 0.106 to buy it back, so
    the EV covers the home's 1.2 kW (the point of connection reads 0 W, not an export); at
    night the home imports again."""
    home = "SITE-V2H-HOME"
    async with harness(settings, fleet=lambda t: uc_2_6_v2h_home(start=t)) as h:
        sim = h.stations.simulator
        sim.set_base_load(home, 1_200.0)
        (evse,) = h.evses_of(home)
        prices = {
            "fs_type": "DYNAMIC_PRICE",
            "currency": "EUR",
            "v2x_allowed": True,
            "round_trip_efficiency": 0.9,
            "battery_wear_cost_per_kwh": 0.05,
            "randomize_start_s": 0,
            "intervals": [
                {
                    "start_offset_s": 0,
                    "duration_s": 300,
                    "import_price_per_kwh": 0.40,
                    "export_price_per_kwh": 0.30,
                },
                {"start_offset_s": 300, "duration_s": 300, "import_price_per_kwh": 0.05},
            ],
        }
        fs = await start_fs(h, "v2h", "DYNAMIC_PRICE", prices, home)
        assert fs.state is FsState.ACTIVE
        for _ in range(2):
            await h.run(60, tick_s=30)
            (asked,) = [c for c in sim.evse_state(evse).controls if isinstance(c, SetpointControl)]
            assert asked.p_w == pytest.approx(-1_200.0, abs=1.0)  # the load, not the 10 kW
            assert sim.evse_state(evse).p_w == pytest.approx(-1_200.0, abs=1.0)
            site = sim.site_state(home)
            assert site.p_w == pytest.approx(0.0, abs=1.0)
            assert site.e_export_wh < 0.1  # nothing has crossed the connection outwards
        await h.run(200, tick_s=100)  # night: the home buys at 0.05, the EV no longer feeds it
        assert sim.evse_state(evse).p_w >= 0.0
        assert sim.site_state(home).p_w >= 1_200.0 - 1.0
