"""RESERVE planning: capacity held per EVSE, activations ramped within the reservation."""

from __future__ import annotations

from datetime import timedelta

import pytest

from fcsbe.model import FsResult, ReasonCode, ReserveActivation
from fcsbe.server.planning import Reservation, plan_fs, plan_reserve, plan_reserve_activation
from fcsbe.server.planning.reserve import window_rooms
from tests.server.planning.fs_requests import NOW, START, evse, request_of

OFFER = {
    "fs_type": "RESERVE",
    "up_w": 12_000.0,
    "down_w": 6_000.0,
    "full_activation_time_s": 300,
    "min_activation_duration_s": 300,
}


def _activation(direction: str, delta: float, start_min: int = 10) -> ReserveActivation:
    return ReserveActivation.model_validate(
        {
            "activation_id": "a-1",
            "direction": direction,
            "delta_p_w": delta,
            "full_activation_time_s": 300,
            "duration_s": 900,
            "start": (START + timedelta(minutes=start_min)).isoformat(),
        }
    )


def test_reserve_is_held_in_proportion_to_room_around_the_baseline() -> None:
    fleet = [evse(1, p_w=10_000.0), evse(2, p_w=2_000.0, max_export_w=4_000.0, v2g_allowed=True)]
    plan = plan_fs(request_of(OFFER), fleet, NOW)
    held = {r.evse_id: r for r in plan.reservations}
    assert held["NL*ABC*E1*1"].up_w == pytest.approx(12_000 * 10 / 16)
    assert held["NL*ABC*E1*2"].up_w == pytest.approx(12_000 * 6 / 16)
    assert held["NL*ABC*E1*1"].down_w == pytest.approx(6_000 * 1 / 10)
    assert plan.feasibility.result(100.0) is FsResult.ACCEPTED
    assert plan.feasibility.committed_w == pytest.approx(18_000.0)


def test_reserve_short_in_one_direction_is_partial() -> None:
    plan = plan_reserve(request_of(OFFER), [evse(1, p_w=11_000.0)], NOW)
    assert plan.feasibility.share_pct == 0.0
    plan = plan_reserve(request_of(OFFER), [evse(1, p_w=5_000.0)], NOW)
    assert plan.feasibility.share_pct == pytest.approx(100 * 5_000 / 12_000)
    assert plan.feasibility.shortfalls[0].code is ReasonCode.INSUFFICIENT_AVAILABILITY


def test_activation_ramps_to_its_share_in_time_and_holds() -> None:
    reservations = [
        Reservation("E1", 10_000.0, 8_000.0, 1_000.0),
        Reservation("E2", 0.0, 4_000.0, 0.0),
    ]
    plan = plan_reserve_activation(request_of(OFFER), _activation("UP", 6_000.0), reservations, NOW)
    steps = plan.evse_plans[0].steps
    assert [s.setpoint_w for s in steps] == pytest.approx([9_200, 8_400, 7_600, 6_800, 6_000])
    assert steps[-1].start <= START + timedelta(minutes=10, seconds=300)
    assert steps[-1].end == START + timedelta(minutes=25)
    assert plan.evse_plans[1].steps[-1].setpoint_w == pytest.approx(-2_000.0)
    assert plan.feasibility.result(100.0) is FsResult.ACCEPTED
    assert plan.feasibility.committed_schedule == ((600, 900, -6_000.0),)


def test_activation_beyond_the_reservation_is_partial_and_late_is_rejected() -> None:
    reservations = [Reservation("E1", 2_000.0, 2_000.0, 3_000.0)]
    down = plan_reserve_activation(
        request_of(OFFER), _activation("DOWN", 6_000.0), reservations, NOW
    )
    assert down.evse_plans[0].steps[-1].setpoint_w == pytest.approx(5_000.0)
    assert down.feasibility.share_pct == pytest.approx(50.0)
    late = plan_reserve_activation(
        request_of(OFFER), _activation("UP", 1_000.0, 70), reservations, NOW
    )
    assert late.feasibility.result(0.0) is FsResult.REJECTED


def test_reserve_is_what_each_ev_can_hold_through_the_whole_window() -> None:
    """Window 17:00-18:00, planned at 16:45. E1 leaves at 17:30: nothing. E2 charges 10 kW
    with 4 kWh left to full, 2.5 of them before the window: 1.5 kW over the hour, all it can
    give up. E3 must still take 20 - 1.5 kWh by 19:00, at most 11 kWh after the window: it keeps
    7.5 kW through it (nothing up, 3.5 kW down). E4 (V2G) has 4 kWh above its SoC floor:
    4 kW of export for the hour. Up: 1.5 + 4 = 5.5 kW, where present power says 36 kW."""
    fleet = [
        evse(1, p_w=10_000.0, departure=START + timedelta(minutes=30)),
        evse(2, p_w=10_000.0, soc_pct=90.0, capacity_wh=40_000.0),
        evse(
            3,
            p_w=6_000.0,
            departure=START + timedelta(hours=2),
            energy_to_min_soc_wh=20_000.0,
        ),
        evse(
            4,
            p_w=0.0,
            max_export_w=10_000.0,
            v2g_allowed=True,
            soc_pct=30.0,
            capacity_wh=40_000.0,
            soc_floor_pct=20.0,
        ),
    ]
    rooms = {r.evse_id[-1]: r for r in window_rooms(fleet, START, START + timedelta(hours=1), NOW)}
    assert rooms["1"].excluded is not None
    assert (rooms["2"].lo_w, rooms["2"].baseline_w, rooms["2"].hi_w) == pytest.approx(
        (0.0, 1_500.0, 1_500.0)
    )
    assert (rooms["3"].lo_w, rooms["3"].baseline_w, rooms["3"].hi_w) == pytest.approx(
        (7_500.0, 7_500.0, 11_000.0)
    )
    assert (rooms["4"].lo_w, rooms["4"].baseline_w) == pytest.approx((-4_000.0, 0.0))
    plan = plan_reserve(request_of({**OFFER, "down_w": 0.0}), fleet, NOW)
    assert plan.feasibility.committed_w == pytest.approx(5_500.0)
    codes = {(s.code, s.evse_id) for s in plan.feasibility.shortfalls}
    assert (ReasonCode.EVU_LIMIT, "NL*ABC*E1*1") in codes
