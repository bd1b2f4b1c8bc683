"""DEMAND_RESPONSE planning: cheapest intervals first, departure needs met when possible."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fcsbe.model import FsResult, ReasonCode
from fcsbe.server.planning import EvseState, PlanStep, plan_demand_response
from fcsbe.server.planning.charging import hold_rises, start_delay_s
from tests.server.planning.fs_requests import (
    FLEET_SETTINGS,
    NOW,
    START,
    delivered_wh,
    evse,
    fleets,
    request_of,
)

TOL = 1e-6


def _signal(*prices: float, levels: bool = False, duration: int = 1800) -> dict:
    key = "incentive_level" if levels else "price_per_kwh"
    return {
        "fs_type": "DEMAND_RESPONSE",
        "currency": None if levels else "EUR",
        "intervals": [
            {"start_offset_s": i * duration, "duration_s": duration, key: p}
            for i, p in enumerate(prices)
        ],
    }


def test_charging_goes_to_the_cheapest_intervals() -> None:
    ev = evse(1, energy_to_target_wh=11_000.0, departure=START + timedelta(hours=3))
    plan = plan_demand_response(request_of(_signal(0.40, 0.10, 0.30, 0.20), hours=2), [ev], NOW)
    limits = [s.max_import_w for s in plan.evse_plans[0].steps]
    assert limits == pytest.approx([0.0, 11_000.0, 0.0, 11_000.0])
    assert plan.feasibility.result(100.0) is FsResult.ACCEPTED
    assert not plan.feasibility.firm
    assert [p for _, _, p in plan.feasibility.committed_schedule] == pytest.approx(
        [0, 11_000, 0, 11_000]
    )


def test_incentive_levels_rank_like_prices() -> None:
    ev = evse(1, energy_to_target_wh=5_500.0)
    plan = plan_demand_response(request_of(_signal(3, 0, 2, levels=True), hours=1.5), [ev], NOW)
    assert [s.max_import_w for s in plan.evse_plans[0].steps] == pytest.approx([0, 11_000, 0])


def test_an_ev_that_cannot_reach_its_minimum_is_reported() -> None:
    ev = evse(1, energy_to_min_soc_wh=20_000.0, departure=START + timedelta(hours=1))
    plan = plan_demand_response(request_of(_signal(0.3, 0.2)), [ev], NOW)
    assert all(s.max_import_w == pytest.approx(11_000.0) for s in plan.evse_plans[0].steps)
    assert plan.feasibility.shortfalls[0].code is ReasonCode.EVU_LIMIT


def test_nobody_connected_is_rejected() -> None:
    plan = plan_demand_response(request_of(_signal(0.3)), [evse(1, connected=False)], NOW)
    assert plan.feasibility.result(0.0) is FsResult.REJECTED
    assert plan.excluded == ("NL*ABC*E1*1",)


@FLEET_SETTINGS
@given(fleets(), st.lists(st.integers(-500, 1000).map(lambda x: x / 1000), min_size=1, max_size=6))
def test_headroom_kept_and_departure_need_met_when_possible(
    fleet: list[EvseState], prices: list[float]
) -> None:
    request = request_of(_signal(*prices), hours=len(prices) / 2)
    plan = plan_demand_response(request, fleet, NOW)
    reported = {s.evse_id for s in plan.feasibility.shortfalls}
    for evse_plan in plan.evse_plans:
        state = next(e for e in fleet if e.evse_id == evse_plan.evse_id)
        for step in evse_plan.steps:
            assert 0.0 <= (step.max_import_w or 0.0) <= state.import_room_w + TOL
            assert state.departure is None or step.end <= state.departure
        got = delivered_wh(evse_plan.steps, state.departure)
        after = 0.0
        if state.departure is not None and state.departure > request.window.end:
            hours = (state.departure - request.window.end).total_seconds() / 3600
            after = state.import_room_w * hours
        need = min(state.energy_to_min_soc_wh, state.energy_to_full_wh)
        if state.departure is None:
            continue  # no deadline, no need to meet
        assert got + after >= need - 1e-3 or state.evse_id in reported
        possible = state.import_room_w * sum(s.duration_s for s in evse_plan.steps) / 3600
        if possible + after >= need:
            assert state.evse_id not in reported


def test_a_replan_inside_a_hold_keeps_holding_until_the_delay_has_passed() -> None:
    # The cheap interval began at 17:30; this EVSE's delay is 200 s. Replanned at 17:31 with the
    # EVSE still at 1 kW, it holds 1 kW until 17:33:20, then takes the cheap interval's limit.
    edge = START + timedelta(minutes=30)
    steps = (PlanStep(edge + timedelta(minutes=1), edge + timedelta(minutes=30), None, 11_000.0),)
    held = hold_rises(steps, 200, edge + timedelta(minutes=1), [edge], 1_000.0)
    assert [(s.start, s.max_import_w) for s in held] == [
        (edge + timedelta(minutes=1), 1_000.0),
        (edge + timedelta(seconds=200), 11_000.0),
    ]
    # After the delay, nothing is held.
    late = edge + timedelta(seconds=250)
    steps = (PlanStep(late, edge + timedelta(minutes=30), None, 11_000.0),)
    assert hold_rises(steps, 200, late, [edge], 1_000.0) == steps


def test_no_delay_when_it_would_cost_the_ev_user_its_minimum() -> None:
    edge = START + timedelta(minutes=30)
    steps = (
        PlanStep(START, edge, None, 0.0),
        PlanStep(edge, START + timedelta(hours=1), None, 11_000.0),
    )
    need = 11_000.0 * 0.5  # exactly the cheap half hour at full power
    assert hold_rises(steps, 200, START, [edge], 0.0, need_wh=need) == steps
    delayed = hold_rises(steps, 200, START, [edge], 0.0)  # no need: the shed lasts 200 s more
    assert [(s.end, s.max_import_w) for s in delayed] == [
        (edge + timedelta(seconds=200), 0.0),
        (START + timedelta(hours=1), 11_000.0),
    ]
    assert start_delay_s("fs-1", "E1", 300) == start_delay_s("fs-1", "E1", 300) < 300
