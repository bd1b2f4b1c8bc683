"""UC 2.2: demand response — charging shifts away from expensive intervals."""

from __future__ import annotations

from fcsbe.model import FsResult, FsState
from fcsbe.server.services.flexibility_services.execution import RECORD_DELAY_S
from fcsbe.server.settings import Settings
from tests.scenarios.family2 import start_fs
from tests.scenarios.harness import harness


async def test_charging_moves_to_cheap_intervals(settings: Settings) -> None:
    async with harness(settings) as h:
        depot = h.evses_of("SITE-DEPOT")
        unmanaged = await h.power_w(depot)
        signal = {
            "fs_type": "DEMAND_RESPONSE",
            "currency": "EUR",
            "intervals": [
                {"start_offset_s": 0, "duration_s": 300, "price_per_kwh": 0.60},
                {"start_offset_s": 300, "duration_s": 300, "price_per_kwh": 0.05},
            ],
        }
        fs = await start_fs(h, "dr", "DEMAND_RESPONSE", signal, "SITE-DEPOT")
        assert fs.response is not None
        assert fs.response.result is FsResult.ACCEPTED
        assert fs.state is FsState.ACTIVE
        expensive = await h.power_w(depot)
        await h.run(300, tick_s=60)
        cheap = await h.power_w(depot)
        assert expensive < unmanaged
        assert cheap > expensive
        await h.run(300, tick_s=100)
        assert (await h.fo.flexibility_services.get("dr")).state is FsState.COMPLETED
        await h.run(RECORD_DELAY_S, tick_s=15)  # late readings are waited for, then recorded
        assert (await h.fo.flexibility_services.get("dr")).state is FsState.RECORDED
        expensive_slot, cheap_slot = (await h.fo.records.get("dr")).intervals
        assert expensive_slot.measured_w is not None
        assert cheap_slot.measured_w is not None
        assert expensive_slot.measured_w < cheap_slot.measured_w
