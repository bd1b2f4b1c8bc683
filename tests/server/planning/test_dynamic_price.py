"""DYNAMIC_PRICE planning: discharge when export pays, inside the EV user's limits."""

from __future__ import annotations

from dataclasses import replace
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


def _signal(*prices: tuple[float, float | None], v2x: bool = True, randomize_s: int = 0) -> dict:
    return {
        "fs_type": "DYNAMIC_PRICE",
        "currency": "EUR",
        "v2x_allowed": v2x,
        "randomize_start_s": randomize_s,
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
    # 0.50 beats buying back at 0.05 / 0.9 + 0.05 wear = 0.106: 10 kWh go out at hour 0; the
    # battery gets them back as 11 kWh at hour 1 (9.9 kWh stored) and 0.111 kWh at hour 3
    # (0.1 kWh stored, 0.10 / 0.9 + 0.05 = 0.161 < 0.50); at hour 2 export pays 0.10, less
    # than any buy-back, so nothing moves
    assert setpoints == pytest.approx([-10_000.0, 11_000.0, 0.0, 100.0 / 0.9])


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
    # lossless and wear-free, so that grid-side energy is battery energy
    lossless = _signal(*prices) | {"round_trip_efficiency": 1.0, "battery_wear_cost_per_kwh": 0}
    request = request_of(lossless, hours=len(prices))
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


def _home(**fields: object) -> EvseState:
    """A V2H home: 1.2 kW of household load, zero export at the connection."""
    values: dict = {"site_other_w": 1_200.0, "site_export_limit_w": 0.0, "soc_pct": 70.0}
    values.update(fields)
    return _v2g(**values)


def test_v2h_covers_the_home_load_and_never_exports() -> None:
    # Evening import 0.40 (export 0.30 would pay too, but the connection may not export);
    # night import 0.05. A discharged kWh saves 0.40 > 0.05 / 0.9 + 0.05 = 0.106.
    request = request_of(_signal((0.40, 0.30), (0.05, None)), hours=2)
    plan = plan_dynamic_price(request, [_home()], NOW)
    setpoints = [s.setpoint_w for s in plan.evse_plans[0].steps]
    assert setpoints == pytest.approx([-1_200.0, 1_200.0 / 0.9])
    assert [x[2] for x in plan.feasibility.committed_schedule] == pytest.approx(setpoints)


def test_v2h_with_export_allowed_adds_v2g_beyond_the_load() -> None:
    request = request_of(_signal((0.40, 0.30), (0.05, None)), hours=2)
    plan = plan_dynamic_price(request, [_home(site_export_limit_w=3_000.0)], NOW)
    assert plan.evse_plans[0].steps[0].setpoint_w == pytest.approx(-4_200.0)


def test_wear_and_losses_stop_cycling_for_a_small_spread() -> None:
    # 0.12 against 0.05 / 0.9 + 0.05 = 0.106 pays; with 0.08 of wear (0.136) it does not,
    # nor with an 0.6 round trip (0.133).
    prices = ((0.12, None), (0.05, None))
    pays = plan_dynamic_price(request_of(_signal(*prices), hours=2), [_home()], NOW)
    assert pays.evse_plans[0].steps[0].setpoint_w == pytest.approx(-1_200.0)
    for extra in ({"battery_wear_cost_per_kwh": 0.08}, {"round_trip_efficiency": 0.6}):
        plan = plan_dynamic_price(request_of(_signal(*prices) | extra, hours=2), [_home()], NOW)
        assert all((s.setpoint_w or 0.0) >= 0 for s in plan.evse_plans[0].steps), extra


def test_pv_covering_the_load_leaves_nothing_to_discharge_into() -> None:
    request = request_of(_signal((0.40, 0.30), (0.05, None)), hours=2)
    plan = plan_dynamic_price(request, [_home(site_other_w=-500.0)], NOW)
    assert all((s.setpoint_w or 0.0) >= 0 for s in plan.evse_plans[0].steps)


def test_two_evs_at_one_home_share_its_load() -> None:
    request = request_of(_signal((0.40, 0.30), (0.05, None)), hours=2)
    pair = [_home(), replace(_home(), evse_id="NL*ABC*E1*2")]
    plan = plan_dynamic_price(request, pair, NOW)
    assert [p.steps[0].setpoint_w for p in plan.evse_plans] == pytest.approx([-600.0, -600.0])


def test_rises_wait_for_each_evses_own_delay() -> None:
    # Dear first hour, cheap second: ten EVs that charge in the second hour start at their own
    # seeded second within the first five minutes of it, never all at once.
    request = request_of(_signal((0.40, None), (0.05, None), randomize_s=300), hours=2)
    fleet = [
        evse(n, energy_to_target_wh=5_000.0, departure=START + timedelta(hours=4))
        for n in range(1, 11)
    ]
    plan = plan_dynamic_price(request, fleet, NOW)
    edge = START + timedelta(hours=1)
    starts = []
    for evse_plan in plan.evse_plans:
        rise = next(s for s in evse_plan.steps if (s.max_import_w or 0.0) > 0)
        assert edge <= rise.start < edge + timedelta(seconds=300)
        starts.append(rise.start)
    assert len(set(starts)) >= 9
    again = plan_dynamic_price(request, fleet, NOW)
    assert again.evse_plans == plan.evse_plans  # seeded: the same at every replan
