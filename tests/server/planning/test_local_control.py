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
from fcsbe.sim.local import curve_value
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
    # Reference 20 kW (the larger bound), 5 % droop: 8 kW/Hz for the whole target. From 9 kW
    # down to -10 kW is 19 kW, reached 2.375 Hz below the deadband; E1 has 15 of those 19 kW
    # of room below its baseline, E2 the other 4 kW.
    assert list(first.curve[0]) == pytest.approx([49.8 - 19_000 / 8_000, -15_000.0])
    assert first.curve[1:3] == ((49.8, 0.0), (50.2, 0.0))
    # Upward: 11 kW to 20 kW, shared 6 : 7 by the room above each baseline.
    assert list(first.curve[3]) == pytest.approx([50.2 + 11_000 / 8_000, 11_000 * 6 / 13])
    # Per EVSE the equivalent droop is relative to its share of the reference power.
    assert first.p_ref_w == pytest.approx(20_000 * 15 / 19)
    assert first.droop_under_pct == pytest.approx(5.0)


def test_droop_from_idle_and_from_discharging_moves_the_right_way() -> None:
    """At 49.8 Hz with a 0.4 % droop on 10 kW and no deadband the order is -10 kW: an idle V2G
    EV exports, a discharging one exports more (never less)."""
    order = DROOP | {
        "deadband_over_hz": 0.0,
        "deadband_under_hz": 0.0,
        "droop_over_pct": 0.4,
        "droop_under_pct": 0.4,
        "p_ref_w": 10_000.0,
        "p_min_w": -22_000.0,  # down from -4 kW by the 18 kW of room
        "p_max_w": 10_000.0,
    }
    idle = evse(1, p_w=0.0, max_export_w=11_000.0, v2g_allowed=True)
    discharging = evse(2, p_w=-4_000.0, max_export_w=11_000.0, v2g_allowed=True)
    plan = plan_droop(request_of(order), [idle, discharging], NOW)
    at_49_8 = {a.evse_id: _at(a.curve, 49.8) for a in plan.armed}
    # Room below the baselines: 11 kW and 7 kW, so -10 kW is shared 11 : 7.
    assert at_49_8["NL*ABC*E1*1"] == pytest.approx(-10_000 * 11 / 18)
    assert at_49_8["NL*ABC*E1*2"] == pytest.approx(-10_000 * 7 / 18)
    assert sum(at_49_8.values()) == pytest.approx(-10_000.0)


def test_asymmetric_gains_and_frequency_watt_curve() -> None:
    asym = DROOP | {
        "droop_over_pct": None,
        "droop_under_pct": None,
        "gain_under_w_per_hz": 50_000.0,
        "gain_over_w_per_hz": 10_000.0,
        "deadband_under_hz": 0.0,
        "deadband_over_hz": 0.0,
        "p_max_w": 11_000.0,  # up from 5 kW by the 6 kW of room
    }
    fleet = [evse(1, p_w=5_000.0, max_export_w=20_000.0, v2g_allowed=True)]
    one = plan_droop(request_of(asym), fleet, NOW).armed[0]
    assert _at(one.curve, 49.9) == pytest.approx(-5_000.0)  # 0.1 Hz x 50 kW/Hz
    assert _at(one.curve, 50.1) == pytest.approx(1_000.0)  # 0.1 Hz x 10 kW/Hz
    dc = {
        "fs_type": "DROOP",
        "f_ref_hz": 50.0,
        "p_ref_w": 10_000.0,
        "response_time_s": 1.0,
        "p_min_w": -20_000.0,
        "p_max_w": 20_000.0,
        "freq_watt": [
            {"df_hz": -0.5, "p_pct": -100.0},
            {"df_hz": -0.2, "p_pct": -5.0},
            {"df_hz": -0.015, "p_pct": 0.0},
            {"df_hz": 0.015, "p_pct": 0.0},
            {"df_hz": 0.2, "p_pct": 5.0},
            {"df_hz": 0.5, "p_pct": 100.0},
        ],
    }
    plan = plan_droop(request_of(dc), fleet, NOW)
    curve = plan.armed[0].curve
    assert _at(curve, 49.99) == 0.0  # inside the ±15 mHz deadband
    assert _at(curve, 49.8) == pytest.approx(-500.0)  # the knee: 5 % of 10 kW
    assert _at(curve, 49.65) == pytest.approx(-500.0 - 9_500.0 / 2)  # half-way to full
    assert _at(curve, 49.4) == pytest.approx(-10_000.0)  # full beyond 500 mHz
    # Only 6 kW of room above the 5 kW baseline: the upward half is scaled, the order partial.
    assert _at(curve, 50.5) == pytest.approx(6_000.0)
    assert plan.feasibility.share_pct == pytest.approx(100 * 16_000 / 20_000)


def _at(curve: tuple[tuple[float, float], ...], f_hz: float) -> float:
    return curve_value(curve, f_hz)


def test_droop_beyond_headroom_is_partial() -> None:
    plan = plan_droop(request_of(DROOP), [evse(1)], NOW)
    # Reference 20 kW, idle EVSE without V2G: nothing down, 11 kW of the 20 kW up.
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
    basis = SplitBasis.for_setpoint(fleet, NOW)
    floor = basis.sum_lo  # must-charge power is kept
    assert sum(a.p_max_w for a in droop.armed) <= max(p_max, floor) + 1e-6
    # EVSEs without room are not armed but keep charging what they must: with them, the
    # aggregate stays within the order.
    armed = {a.evse_id for a in droop.armed}
    kept = sum(m for i, m in zip(basis.evse_ids, basis.anchor, strict=True) if i not in armed)
    assert sum(a.p_min_w for a in droop.armed) + kept >= p_min - 1e-6
