"""UC 2.2: demand response — charging shifts away from expensive intervals, and the EVs start
again at their own seeded moments after the dear interval (no synchronised rebound)."""

from __future__ import annotations

from collections import Counter

from fcsbe.model import FsResult, FsState
from fcsbe.server.adapters.base import ControlLevel, ControlTarget
from fcsbe.server.services.flexibility_services.execution import RECORD_DELAY_S
from fcsbe.server.settings import Settings
from tests.scenarios.family2 import start_fs
from tests.scenarios.harness import harness, without_arrivals

TICK_S = 10
"""Resolution at which the starts are observed (the server's loops run every tick)."""


async def test_charging_moves_to_cheap_intervals_with_a_spread_start(settings: Settings) -> None:
    async with harness(settings, fleet=without_arrivals) as h:
        depot = h.evses_of("SITE-DEPOT")
        unmanaged = await h.power_w(depot)
        signal = {
            "fs_type": "DEMAND_RESPONSE",
            "currency": "EUR",
            "randomize_start_s": 300,
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
        assert expensive < unmanaged
        # From 5 s before the cheap interval (window start + 300 s) through its hold window
        # (at most half the 300 s interval): when does each EVSE's power rise?
        await h.run(230, tick_s=60)
        targets = [ControlTarget(ControlLevel.EVSE, e) for e in depot]
        before = {s.target.id: s.p_w for s in await h.stations.read_state(targets)}
        started: dict[str, int] = {}
        for tick in range(170 // TICK_S):
            await h.run(TICK_S, tick_s=TICK_S)
            for state in await h.stations.read_state(targets):
                evse_id = state.target.id
                if evse_id not in started and state.p_w > before[evse_id] + 1_000.0:
                    started[evse_id] = tick
        assert len(started) >= 3, "the shed EVs charge again in the cheap interval"
        same_tick = max(Counter(started.values()).values())
        assert same_tick <= 0.3 * len(started), f"{same_tick} of {len(started)} in one tick"
        assert len(set(started.values())) == len(started)  # each at its own moment
        cheap = await h.power_w(depot)
        assert cheap > expensive
        await h.run(200, tick_s=100)
        assert (await h.fo.flexibility_services.get("dr")).state is FsState.COMPLETED
        await h.run(RECORD_DELAY_S, tick_s=15)  # late readings are waited for, then recorded
        assert (await h.fo.flexibility_services.get("dr")).state is FsState.RECORDED
        expensive_slot, cheap_slot = (await h.fo.records.get("dr")).intervals
        assert expensive_slot.measured_w is not None
        assert cheap_slot.measured_w is not None
        assert expensive_slot.measured_w < cheap_slot.measured_w
