"""UC 3.4 settlement by performance and baselines fixed before the start, end to end.

- DROOP: the record carries what the curve ordered at the frequency the stations saw, what
  they delivered (from the stored readings), and the penalty the contract's terms give for the
  shortfall; the numbers are recomputed here from the record's own figures.
- SUBMITTED baseline: the CSO, then the FO, submit a baseline before the start (the FO's
  replaces the CSO's); once the window has started a submission is refused; the record settles
  against the FO's and names it.
- DECLARED_SCHEDULE: the CSO's declared baseline is fixed at the decision, before the start.
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

import pytest

from fcsbe.client import ConflictError
from fcsbe.model import BaselineMethod, FlexibilityServiceRequest, FsState
from fcsbe.server.settings import Settings
from fcsbe.server.storage.base import utcnow
from tests.scenarios.family2 import start_fs
from tests.scenarios.harness import harness, without_arrivals
from tests.scenarios.settlement_steps import (
    PENALTY_TERMS,
    operator_client,
    record_and_prove,
    set_performance,
)
from tests.support.fs_fixtures import request_body

DROOP = {
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


def _cents(value: float) -> Decimal:
    return Decimal(repr(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


async def test_droop_is_settled_on_what_the_curve_ordered(settings: Settings) -> None:
    async with harness(settings, fleet=without_arrivals) as h:
        await set_performance(h, **PENALTY_TERMS)
        fs = await start_fs(h, "droop", "DROOP", DROOP, "SITE-CARPARK", minutes=3)
        assert fs.state is FsState.ARMED
        h.stations.simulator.set_frequency("SITE-CARPARK", 49.8)
        await h.run(60, tick_s=5)
        h.stations.simulator.set_frequency("SITE-CARPARK", 50.0)
        await h.run(3 * 60, tick_s=60)
        await record_and_prove(h)
        record = await h.fo.records.get("droop")
        performance, settlement = record.performance, record.settlement
        assert performance is not None
        assert settlement is not None
        # (49.8 - 49.98) Hz / 50 Hz / 5 % droop x 40 kW = 2,880 W less import, ordered.
        assert performance.ordered_w == pytest.approx(-2_880.0)
        assert performance.evidence == "METER_READINGS"
        assert performance.samples > 0
        ordered, delivered = performance.ordered_energy_wh, performance.delivered_energy_wh
        assert ordered is not None
        assert delivered is not None
        # About a minute at 2,880 W, from the stations' own readings.
        assert ordered == pytest.approx(2_880 * 60 / 3600, rel=0.2)
        ratio = 100 * delivered / ordered
        assert performance.delivery_pct == pytest.approx(min(ratio, 100), abs=0.01)
        shortfall = max(0.0, 80 - ratio)
        assert performance.shortfall_pct == pytest.approx(shortfall, abs=0.01)
        assert performance.passed is (shortfall == 0)
        # The penalty follows the contract's terms: 150 EUR/MWh of deficiency, 2 EUR a point
        # below 80 %, and the availability forfeited by a failed FS.
        expected = _cents(150 * (ordered - delivered) / 1e6)
        if shortfall:
            expected += _cents(2 * round(shortfall, 3)) + settlement.availability_amount
        assert settlement.penalty_amount == expected
        assert settlement.net_amount == (
            settlement.availability_amount + settlement.activation_amount - expected
        )


async def test_baselines_fixed_before_the_start(settings: Settings) -> None:
    async with harness(settings, fleet=without_arrivals) as h, AsyncExitStack() as stack:
        operator = await operator_client(h, stack)
        stop = {
            "fs_type": "SETPOINT",
            "resolution_s": 180,
            "periods": [{"start_offset_s": 0, "p_w": 5_000.0}],
        }
        for fs_id, site, method in (
            ("fs-submitted", "SITE-DEPOT", "SUBMITTED"),
            ("fs-declared", "SITE-CARPARK", "DECLARED_SCHEDULE"),
        ):
            body = request_body(
                fs_id,
                targets=[("SITE", site)],
                start_in=timedelta(seconds=120),
                duration=timedelta(minutes=6),
                minimum_acceptance_pct=1,
                now=h.now,
                parameters={**stop, "resolution_s": 360},
            )
            body["baseline_method"] = method
            await h.fo.flexibility_services.create(FlexibilityServiceRequest.model_validate(body))
        await h.steps()
        declared = await h.fo.flexibility_services.get("fs-declared")
        assert declared.response is not None

        # Before the start: the CSO submits, then the FO (which replaces it).
        periods = [
            {"start_offset_s": 0, "duration_s": 180, "p_w": 30_000.0},
            {"start_offset_s": 180, "duration_s": 180, "p_w": 20_000.0},
        ]
        cso = await operator.admin.submit_baseline(
            "fs-submitted", [{**p, "p_w": 1.0} for p in periods], fo_party_id="FO-A"
        )
        assert cso.role == "CSO"
        mine = await h.fo.records.submit_baseline("fs-submitted", periods)
        assert (mine.role, mine.submitted_by) == ("FO", "FO-A")
        # Once the window has started (by the server's clock), the baseline is fixed.
        started = request_body(
            "fs-started",
            targets=[("SITE", "SITE-OFFICE")],
            start_in=timedelta(seconds=-60),
            now=utcnow(),
            parameters={**stop, "resolution_s": 3600},
        )
        started["baseline_method"] = "SUBMITTED"
        await h.fo.flexibility_services.create(FlexibilityServiceRequest.model_validate(started))
        with pytest.raises(ConflictError) as late:
            await h.fo.records.submit_baseline("fs-started", periods)
        assert late.value.problem.type.endswith("baseline-too-late")
        await h.run(130, tick_s=30)

        await h.run(6 * 60, tick_s=30)
        await record_and_prove(h)
        record = await h.fo.records.get("fs-submitted")
        assert record.baseline is not None
        assert record.baseline.method is BaselineMethod.SUBMITTED
        assert (record.baseline.submitted_by, record.baseline.submitted_role) == ("FO-A", "FO")
        (interval,) = record.intervals
        assert interval.baseline_w == pytest.approx(25_000.0)  # 30 and 20 kW, 3 minutes each
        assert interval.measured_w is not None
        assert interval.delivered_w == pytest.approx(interval.measured_w - 25_000.0, abs=0.002)

        other = await h.fo.records.get("fs-declared")
        assert other.baseline is not None
        assert other.baseline.method is BaselineMethod.DECLARED_SCHEDULE
        assert other.baseline.declared_at == declared.response.decided_at
        assert other.baseline.declared_at < other.window.start
        assert other.intervals[0].baseline_w is not None
