"""UC 2.5: tertiary reserve — capacity reserved for the window, delivered on activation."""

from __future__ import annotations

from fcsbe.model import ActivationDirection, FsState, ReserveActivation
from fcsbe.server.settings import Settings
from tests.scenarios.family2 import start_fs
from tests.scenarios.harness import harness


async def test_reserve_is_armed_then_activated(settings: Settings) -> None:
    async with harness(settings) as h:
        depot = h.evses_of("SITE-DEPOT")
        offer = {
            "fs_type": "RESERVE",
            "up_w": 40_000.0,
            "down_w": 0.0,
            "full_activation_time_s": 60,
            "min_activation_duration_s": 120,
        }
        fs = await start_fs(h, "reserve", "RESERVE", offer, "SITE-DEPOT", minutes=15)
        assert fs.state is FsState.ARMED
        baseline = await h.power_w(depot)
        activation = ReserveActivation(
            activation_id="act-1",
            direction=ActivationDirection.UP,
            delta_p_w=30_000.0,
            full_activation_time_s=60,
            duration_s=300,
        )
        active = await h.fo.flexibility_services.activate("reserve", activation)
        assert active.state is FsState.ACTIVE
        await h.run(90, tick_s=10)
        assert await h.power_w(depot) <= baseline - 25_000
