"""UC 2.5: tertiary reserve — capacity reserved for the window (checked over the whole window),
delivered on activation, recorded from the meters and settled: availability + activation."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import pytest

from fcsbe.model import ActivationDirection, FsState, ReserveActivation
from fcsbe.server.settings import Settings
from tests.scenarios.family2 import start_fs
from tests.scenarios.harness import harness, without_arrivals
from tests.scenarios.settlement_steps import PENALTY_TERMS, record_and_prove, set_performance


def _cents(value: float) -> Decimal:
    return Decimal(repr(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


async def test_reserve_is_armed_activated_recorded_and_settled(settings: Settings) -> None:
    async with harness(settings, fleet=without_arrivals) as h:
        await set_performance(h, **PENALTY_TERMS)
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
        assert fs.response is not None
        assert fs.response.committed_w == pytest.approx(40_000.0)
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

        # To the end of the window, then the record from the meters and its settlement.
        await h.run(14 * 60, tick_s=60)
        await record_and_prove(h)
        record = await h.fo.records.get("reserve")
        performance, settlement = record.performance, record.settlement
        assert performance is not None
        assert settlement is not None
        # Ordered: 30 kW less import for the activation, per interval as executed.
        assert performance.ordered_w == pytest.approx(-30_000 * 300 / 900, rel=0.02)
        assert performance.ordered_energy_wh == pytest.approx(30_000 * 300 / 3600, rel=0.02)
        assert performance.delivery_pct is not None
        assert performance.delivery_pct >= 80
        assert performance.passed
        assert performance.penalties == []
        # Availability: 12.5 EUR per MW per hour for 40 kW held 15 minutes (metered 100 %).
        assert record.totals.availability_pct == 100
        assert settlement.availability_amount == _cents(12.5 * 0.040 * 0.25)
        # Activation: 95 EUR/MWh on the flex delivered in the ordered direction.
        delivered_mwh = (performance.delivered_energy_wh or 0) / 1e6
        assert settlement.activation_amount == pytest.approx(
            _cents(95 * delivered_mwh), abs=Decimal("0.01")
        )
        assert settlement.penalty_amount == 0
        assert (
            settlement.net_amount == settlement.availability_amount + settlement.activation_amount
        )
