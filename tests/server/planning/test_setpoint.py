"""SETPOINT planning: shares within headroom, departure needs kept, ramps, feasibility."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fcsbe.model import FsResult, ReasonCode
from fcsbe.server.planning import EvseState, plan_fs, plan_setpoint
from tests.server.planning.fs_requests import (
    FLEET_SETTINGS,
    NOW,
    START,
    evse,
    fleets,
    request_of,
)

TOL = 1e-6


def _schedule(*powers: float, ramp: float | None = None, resolution: int = 900) -> dict:
    periods = [{"start_offset_s": i * resolution, "p_w": p} for i, p in enumerate(powers)]
    if ramp is not None:
        periods[-1]["ramp_w_per_s"] = ramp
    return {"fs_type": "SETPOINT", "resolution_s": resolution, "periods": periods}


def test_a_feasible_schedule_is_split_exactly_and_fully_accepted() -> None:
    fleet = [evse(1), evse(2, max_export_w=7_400.0, v2g_allowed=True)]
    plan = plan_fs(request_of(_schedule(16_500.0, -3_000.0, resolution=1800)), fleet, NOW)
    assert plan.feasibility.result(100.0) is FsResult.ACCEPTED
    first = [p.steps[0].setpoint_w for p in plan.evse_plans]
    assert first == pytest.approx([8_250.0, 8_250.0])
    second = [p.steps[1].setpoint_w for p in plan.evse_plans]
    assert second == pytest.approx([0.0, -3_000.0])
    assert plan.feasibility.committed_schedule == ((0, 1800, 16_500.0), (1800, 1800, -3_000.0))


def test_too_much_is_partly_committed_with_a_reason() -> None:
    plan = plan_setpoint(request_of(_schedule(44_000.0)), [evse(1), evse(2)], NOW)
    assert plan.feasibility.committed_w == pytest.approx(22_000.0)
    assert plan.feasibility.share_pct == pytest.approx(50.0)
    assert plan.feasibility.result(50.0) is FsResult.PARTIALLY_ACCEPTED
    assert plan.feasibility.result(60.0) is FsResult.REJECTED
    assert plan.feasibility.shortfalls[0].code is ReasonCode.INSUFFICIENT_AVAILABILITY


def test_a_must_charge_ev_limits_discharge_and_says_evu_limit() -> None:
    # 32 kWh in 3 h at 11 kW: 22 kWh fit after the first hour, so 10 kW now.
    needy = evse(1, energy_to_min_soc_wh=32_000.0, departure=START + timedelta(hours=2, minutes=45))
    v2g = evse(2, max_export_w=5_000.0, v2g_allowed=True)
    plan = plan_setpoint(request_of(_schedule(-10_000.0)), [needy, v2g], NOW)
    assert plan.plan_of(needy.evse_id).steps[0].setpoint_w == pytest.approx(10_000.0)  # type: ignore[union-attr]
    assert plan.plan_of(v2g.evse_id).steps[0].setpoint_w == pytest.approx(-5_000.0)  # type: ignore[union-attr]
    assert plan.feasibility.shortfalls[0].code is ReasonCode.EVU_LIMIT


def test_an_ev_leaving_mid_period_takes_no_share_of_it() -> None:
    leaving = evse(1, departure=START + timedelta(minutes=10))
    staying = evse(2)
    plan = plan_setpoint(request_of(_schedule(8_000.0)), [leaving, staying], NOW)
    assert plan.plan_of(leaving.evse_id) is None
    assert plan.plan_of(staying.evse_id).steps[0].setpoint_w == pytest.approx(8_000.0)  # type: ignore[union-attr]


def test_a_ramp_reaches_the_setpoint_in_time_in_steps() -> None:
    fleet = [evse(1, p_w=0.0), evse(2, p_w=0.0)]
    plan = plan_setpoint(request_of(_schedule(20_000.0, ramp=100.0)), fleet, NOW)
    steps = plan.evse_plans[0].steps
    assert len(steps) == 5
    assert [s.setpoint_w for s in steps] == pytest.approx([2_000, 4_000, 6_000, 8_000, 10_000])
    assert steps[-1].start - START <= timedelta(seconds=200)


def test_reactive_setpoint_is_shared_by_range() -> None:
    schedule = _schedule(0.0)
    schedule["periods"][0]["q_var"] = 3_000.0
    fleet = [evse(1, max_import_w=10_000.0), evse(2, max_import_w=20_000.0)]
    plan = plan_setpoint(request_of(schedule), fleet, NOW)
    assert [p.steps[0].setpoint_var for p in plan.evse_plans] == pytest.approx([1_000, 2_000])


def test_passed_periods_are_too_late() -> None:
    plan = plan_setpoint(request_of(_schedule(5_000.0)), [evse(1)], START + timedelta(hours=2))
    assert plan.evse_plans == ()
    assert plan.feasibility.result(0.0) is FsResult.REJECTED
    assert plan.feasibility.shortfalls[0].code is ReasonCode.TOO_LATE


@FLEET_SETTINGS
@given(fleets(), st.lists(st.floats(-100_000, 100_000), min_size=1, max_size=4))
def test_no_evse_exceeds_headroom_and_the_sum_is_the_feasible_total(
    fleet: list[EvseState], powers: list[float]
) -> None:
    plan = plan_setpoint(request_of(_schedule(*powers)), fleet, NOW)
    states = {e.evse_id: e for e in fleet}
    for evse_plan in plan.evse_plans:
        state = states[evse_plan.evse_id]
        for step in evse_plan.steps:
            assert step.setpoint_w is not None
            assert step.setpoint_w <= state.import_room_w + TOL
            assert step.setpoint_w >= -state.export_room_w - TOL
            must = state.must_charge_w(NOW)
            assert must == 0 or step.setpoint_w >= must - TOL
    for key, (_, _, committed) in enumerate(plan.feasibility.committed_schedule):
        middle = START + timedelta(seconds=900 * key + 450)
        total = sum(
            s.setpoint_w or 0.0
            for p in plan.evse_plans
            for s in p.steps
            if s.start <= middle < s.end
        )
        assert total == pytest.approx(committed, abs=1e-3)
