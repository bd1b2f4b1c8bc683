"""UC 2.7: distribution grid congestion — an import limit on a grid node is respected."""

from __future__ import annotations

from fcsbe.model import FsState
from fcsbe.server.settings import Settings
from tests.scenarios.family2 import start_fs
from tests.scenarios.harness import harness


async def test_import_limit_on_the_node_holds(settings: Settings) -> None:
    async with harness(settings) as h:
        depot = h.evses_of("SITE-DEPOT")
        assert await h.power_w(depot) > 60_000
        limits = {
            "fs_type": "CONGESTION",
            "grid_node": "NODE-CITY-1",
            "periods": [
                {
                    "start_offset_s": 0,
                    "duration_s": 600,
                    "import_limit_w": 50_000.0,
                    "export_limit_w": None,
                }
            ],
        }
        fs = await start_fs(h, "congestion", "CONGESTION", limits, "SITE-DEPOT")
        assert fs.state is FsState.ACTIVE
        for _ in range(3):
            await h.run(60, tick_s=20)
            assert await h.power_w(depot) <= 50_000 * 1.01
        await h.run(600, tick_s=120)
        done = await h.fo.flexibility_services.get("congestion")
        assert done.state is FsState.RECORDED  # ended, and its record made from the meters
        assert FsState.COMPLETED in [t.to_state for t in done.transitions]
        (interval,) = (await h.fo.records.get("congestion")).intervals
        assert interval.requested_w == 50_000
        assert interval.measured_w is not None
        assert interval.measured_w <= 50_000 * 1.01
        await h.run(20, tick_s=10)
        assert await h.power_w(depot) > 50_000  # released: unmanaged charging again
