"""DYNAMIC_PRICE planning: discharge when export pays, inside the EV user's limits."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fcsbe.server.planning import EvseState, plan_dynamic_price
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


def _price(low: int, high: int) -> st.SearchStrategy[float]:
    return st.integers(low, high).map(lambda x: x / 1000)


def _signal(*prices: tuple[float, float | None], v2x: bool = True) -> dict:
    return {
        "fs_type": "DYNAMIC_PRICE",
        "currency": "EUR",
        "v2x_allowed": v2x,
        "intervals": [
            {
                "start_offset_s": i * 3600,
                "duration_s": 3600,
                "import_price_per_kwh": imp,
                "export_price_per_kwh": exp,
            }
            for i, (imp, exp) in enumerate(prices)
        ],
    }


def _v2g(**fields: object) -> EvseState:
    values: dict = {
        "max_export_w": 10_000.0,
        "v2g_allowed": True,
        "soc_pct": 60.0,
        "capacity_wh": 60_000.0,
        "soc_floor_pct": 30.0,
        "departure": START + timedelta(hours=4),
    }
    values.update(fields)
    return evse(1, **values)


def test_discharges_at_high_export_and_buys_back_cheap() -> None:
    request = request_of(_signal((0.30, 0.50), (0.05, None), (0.20, 0.10), (0.10, None)), hours=4)
    plan = plan_dynamic_price(request, [_v2g()], NOW)
    setpoints = [s.setpoint_w for s in plan.evse_plans[0].steps]
    # 0.50 x 0.9 beats 0.05 for 10 kWh, then 0.10 x 0.9 still beats 0.05 for the 1 kWh left
    assert setpoints == pytest.approx([-10_000.0, 11_000.0, -1_000.0, 0.0])


def test_the_soc_floor_and_the_energy_allowance_bound_discharge() -> None:
    request = request_of(_signal((0.30, 0.50), (0.05, None)), hours=2)
    floor = plan_dynamic_price(request, [_v2g(soc_pct=35.0)], NOW)
    assert floor.evse_plans[0].steps[0].setpoint_w == pytest.approx(-3_000.0)
    allowance = plan_dynamic_price(request, [_v2g(export_energy_left_wh=2_000.0)], NOW)
    assert allowance.evse_plans[0].steps[0].setpoint_w == pytest.approx(-2_000.0)


def test_no_discharge_without_v2x_in_the_signal_or_consent() -> None:
    request = request_of(_signal((0.30, 0.50), (0.05, None), v2x=False), hours=2)
    plan = plan_dynamic_price(request, [_v2g(energy_to_target_wh=5_000.0)], NOW)
    steps = plan.evse_plans[0].steps
    assert all(s.setpoint_w is None and s.max_export_w == 0.0 for s in steps)
    assert [s.max_import_w for s in steps] == pytest.approx([0.0, 5_000.0])
    request = request_of(_signal((0.30, 0.50), (0.05, None)), hours=2)
    plan = plan_dynamic_price(request, [_v2g(v2g_allowed=False)], NOW)
    assert all(s.setpoint_w is None for s in plan.evse_plans[0].steps)


def test_unprofitable_spreads_are_left_alone() -> None:
    request = request_of(_signal((0.30, 0.21), (0.20, None)), hours=2)
    plan = plan_dynamic_price(request, [_v2g()], NOW)
    assert all(s.setpoint_w is None for s in plan.evse_plans[0].steps)


@FLEET_SETTINGS
@given(
    fleets(),
    st.lists(
        st.tuples(_price(-200, 600), st.one_of(st.none(), _price(0, 800))),
        min_size=1,
        max_size=5,
    ),
)
def test_limits_floor_allowance_and_departure_need_hold(
    fleet: list[EvseState], prices: list[tuple[float, float | None]]
) -> None:
    request = request_of(_signal(*prices), hours=len(prices))
    plan = plan_dynamic_price(request, fleet, NOW)
    reported = {s.evse_id for s in plan.feasibility.shortfalls}
    for evse_plan in plan.evse_plans:
        state = next(e for e in fleet if e.evse_id == evse_plan.evse_id)
        level, lowest, exported = 0.0, 0.0, 0.0
        for step in evse_plan.steps:
            power = step.setpoint_w if step.setpoint_w is not None else step.max_import_w or 0.0
            assert -state.export_room_w - TOL <= power <= state.import_room_w + TOL
            level += power * step.duration_s / 3600
            lowest = min(lowest, level)
            exported += max(0.0, -power) * step.duration_s / 3600
        assert lowest >= -state.energy_above_floor_wh - 1e-3
        assert level <= state.energy_to_full_wh + 1e-3
        assert exported <= state.export_energy_left_wh + 1e-3
        need = min(state.energy_to_min_soc_wh, state.energy_to_full_wh)
        after = 0.0
        if state.departure is not None and state.departure > request.window.end:
            after = (
                state.import_room_w * (state.departure - request.window.end).total_seconds() / 3600
            )
        got = delivered_wh(evse_plan.steps, state.departure)
        assert got + after >= need - 1e-3 or state.evse_id in reported or state.departure is None
