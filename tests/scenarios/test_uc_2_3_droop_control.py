"""UC 2.3: droop control — armed through the API, executed locally by the stations."""

from __future__ import annotations

from fcsbe.model import FsState
from fcsbe.server.settings import Settings
from tests.scenarios.family2 import start_fs
from tests.scenarios.harness import harness


async def test_stations_respond_to_their_own_frequency(settings: Settings) -> None:
    async with harness(settings) as h:
        carpark = h.evses_of("SITE-CARPARK")
        droop = {
            "fs_type": "DROOP",
            "f_ref_hz": 50.0,
            "deadband_over_hz": 0.02,
            "deadband_under_hz": 0.02,
            "droop_over_pct": 5.0,
            "droop_under_pct": 5.0,
            "response_time_s": 1.0,
            "p_min_w": -40_000.0,
            "p_max_w": 40_000.0,
        }
        fs = await start_fs(h, "droop", "DROOP", droop, "SITE-CARPARK")
        assert fs.state is FsState.ARMED
        nominal = await h.power_w(carpark)
        # No API call: the stations see a low frequency and reduce their import on their own.
        h.stations.simulator.set_frequency("SITE-CARPARK", 49.8)
        await h.run(10, tick_s=2)
        low = await h.power_w(carpark)
        assert low < nominal - 1_000
        h.stations.simulator.set_frequency("SITE-CARPARK", 50.0)
        await h.run(10, tick_s=2)
        assert await h.power_w(carpark) > low
