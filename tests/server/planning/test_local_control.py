"""DROOP and FFR planning: ranges and trigger shares per EVSE, curves the stations run."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fcsbe.model import FsResult, GridFunction, ReasonCode
from fcsbe.server.planning import (
    EvseState,
    FfrStep,
    SplitBasis,
    ffr_curve,
    plan_droop,
    plan_ffr,
)
from tests.server.planning.fs_requests import FLEET_SETTINGS, NOW, START, evse, fleets, request_of

TOL = 1e-6

DROOP = {
    "fs_type": "DROOP",
    "f_ref_hz": 50.0,
    "deadband_over_hz": 0.2,
    "deadband_under_hz": 0.2,
    "droop_over_pct": 5.0,
    "droop_under_pct": 5.0,
    "response_time_s": 2.0,
    "p_min_w": -10_000.0,
    "p_max_w": 20_000.0,
}

FFR = {
    "fs_type": "FFR",
    "trigger_levels": [
        {"frequency_hz": 49.7, "full_activation_time_s": 1.0, "delta_p_w": -6_000.0},
        {"frequency_hz": 49.5, "full_activation_time_s": 0.7, "delta_p_w": -12_000.0},
    ],
    "support_duration_s": 30,
    "deactivation_ramp_s": 10,
    "rearm_time_s": 900,
    "evidence_sampling_ms": 20,
}


def test_droop_ranges_sum_to_the_request_and_curves_follow_the_slope() -> None:
    fleet = [evse(1, p_w=5_000.0, max_export_w=10_000.0, v2g_allowed=True), evse(2, p_w=4_000.0)]
    plan = plan_droop(request_of(DROOP), fleet, NOW)
    assert plan.feasibility.result(100.0) is FsResult.ACCEPTED
    assert sum(a.p_max_w for a in plan.armed) == pytest.approx(20_000.0)
    assert sum(a.p_min_w for a in plan.armed) == pytest.approx(-10_000.0)
    first = plan.armed[0]
    assert first.function is GridFunction.FREQ_DROOP
    assert first.start == START
    # rated 11 kW, 5 % droop: 11 kW per 2.5 Hz; from 5 kW down to -10 kW needs 15 kW = 3.41 Hz
    assert list(first.curve[0]) == pytest.approx([49.8 - 15_000 / 4_400, -15_000.0])
    assert first.curve[1:3] == ((49.8, 0.0), (50.2, 0.0))
    assert list(first.curve[3]) == pytest.approx([50.2 + 5_000 / 4_400, 5_000.0])


def test_droop_beyond_headroom_is_partial() -> None:
    plan = plan_droop(request_of(DROOP), [evse(1)], NOW)
    assert plan.feasibility.share_pct == pytest.approx(100 * 11_000 / 30_000)
    assert plan.feasibility.shortfalls[0].code is ReasonCode.INSUFFICIENT_AVAILABILITY


def test_ffr_levels_are_shared_by_room_below_baseline() -> None:
    fleet = [evse(1, p_w=8_000.0), evse(2, p_w=2_000.0, max_export_w=2_000.0, v2g_allowed=True)]
    plan = plan_ffr(request_of(FFR), fleet, NOW)
    assert plan.feasibility.result(100.0) is FsResult.ACCEPTED
    shares = {a.evse_id: [t.delta_p_w for t in a.triggers] for a in plan.armed}
    assert shares["NL*ABC*E1*1"] == pytest.approx([-4_000.0, -8_000.0])
    assert shares["NL*ABC*E1*2"] == pytest.approx([-2_000.0, -4_000.0])
    assert plan.armed[0].response_time_s == 0.7
    flat = [v for point in plan.armed[0].curve for v in point]
    assert flat == pytest.approx([49.5, -8_000.0, 49.501, -4_000.0, 49.7, -4_000.0, 49.701, 0.0])


def test_ffr_short_of_room_scales_every_level() -> None:
    plan = plan_ffr(request_of(FFR), [evse(1, p_w=6_000.0)], NOW)
    assert plan.feasibility.share_pct == pytest.approx(50.0)
    assert [t.delta_p_w for t in plan.armed[0].triggers] == pytest.approx([-3_000.0, -6_000.0])


def test_ffr_curve_of_both_signs_is_a_function() -> None:
    curve = ffr_curve(
        [FfrStep(49.8, 1.0, -1_000.0), FfrStep(50.2, 1.0, 1_000.0), FfrStep(50.5, 1.0, 2_000.0)]
    )
    xs = [x for x, _ in curve]
    assert xs == sorted(xs)
    assert len(set(xs)) == len(xs)
    assert curve[-1] == (50.5, 2_000.0)


@FLEET_SETTINGS
@given(fleets(), st.floats(-50_000, 0), st.floats(0, 60_000))
def test_droop_and_ffr_stay_inside_headroom(
    fleet: list[EvseState], p_min: float, p_max: float
) -> None:
    droop = plan_droop(request_of(DROOP | {"p_min_w": p_min, "p_max_w": p_max}), fleet, NOW)
    ffr = plan_ffr(request_of(FFR), fleet, NOW)
    states = {e.evse_id: e for e in fleet}
    for armed in droop.armed + ffr.armed:
        state = states[armed.evse_id]
        assert -state.export_room_w - TOL <= armed.p_min_w <= armed.baseline_w + TOL
        assert armed.baseline_w - TOL <= armed.p_max_w <= state.import_room_w + TOL
        for _, delta in armed.curve:
            assert armed.p_min_w - TOL <= armed.baseline_w + delta <= armed.p_max_w + TOL
    floor = SplitBasis.for_setpoint(fleet, NOW).sum_lo  # must-charge power is kept
    assert sum(a.p_max_w for a in droop.armed) <= max(p_max, floor) + 1e-6
    assert sum(a.p_min_w for a in droop.armed) >= p_min - 1e-6
