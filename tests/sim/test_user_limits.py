"""EV-user limits hold whatever the FO asks: SoC floor, energy to grid, minimum SoC at departure."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fcsbe.sim import EvUserLimits, SetpointControl
from tests.sim.helpers import plug, single_site

EPS_WH = 1e-6


def test_charges_at_max_when_the_remaining_time_is_just_enough() -> None:
    sim, (evse,) = single_site()
    need_h = 0.6 * 60_000 / 11_000  # 20 % -> 80 % of 60 kWh at 11 kW
    limits = EvUserLimits(min_soc_at_departure_pct=80.0)
    plug(sim, evse, soc_pct=20.0, departure_h=need_h, limits=limits)
    sim.apply(evse, SetpointControl(-11_000))  # the FO wants discharge
    sim.step(60)
    # The departure is kept to the microsecond, hence approx.
    assert sim.evse_state(evse).p_w == pytest.approx(11_000, rel=1e-6)
    assert sim.headroom(evse).max_export_w == pytest.approx(-11_000, rel=1e-6)  # must import


def test_discharges_first_then_catches_up_in_time() -> None:
    sim, (evse,) = single_site()
    limits = EvUserLimits(min_soc_at_departure_pct=80.0, soc_floor_pct=10.0)
    key = plug(sim, evse, soc_pct=50.0, departure_h=4.0, limits=limits)
    sim.apply(evse, SetpointControl(-11_000))
    powers = []
    for _ in range(4 * 60):
        sim.step(60)
        powers.append(sim.evse_state(evse).p_w)
    assert powers[0] == -11_000
    assert powers[-2] == pytest.approx(11_000)  # the last step before departure: full power
    assert powers[-1] == 0.0  # gone: departures take effect at the end of the step
    final = [e for e in sim.drain_events() if e.kind == "EV_DISCONNECTED"]
    assert [e.session_key for e in final] == [key]
    assert final[0].data["soc_pct"] >= 80.0 - 1e-6  # type: ignore[operator]


def test_never_discharges_below_the_floor() -> None:
    sim, (evse,) = single_site()
    plug(sim, evse, soc_pct=40.0, limits=EvUserLimits(soc_floor_pct=35.0))
    sim.apply(evse, SetpointControl(-11_000))
    for _ in range(60):
        sim.step(60)
    state = sim.evse_state(evse)
    assert state.soc_pct is not None
    assert abs(state.soc_pct - 35.0) < 1e-9
    assert state.p_w == 0.0
    assert sim.headroom(evse).max_export_w == 0.0


def test_never_gives_more_than_the_energy_allowed_to_the_grid() -> None:
    sim, (evse,) = single_site()
    key = plug(sim, evse, soc_pct=80.0, limits=EvUserLimits(max_energy_to_grid_wh=5_000))
    sim.apply(evse, SetpointControl(-11_000))
    for _ in range(120):
        sim.step(30)
    assert abs(sim.session(key).energy_exported_wh - 5_000) < EPS_WH
    assert sim.evse_state(evse).p_w == 0.0


def test_user_discharge_power_cap_and_departure_change() -> None:
    sim, (evse,) = single_site()
    key = plug(sim, evse, soc_pct=80.0, limits=EvUserLimits(max_discharge_power_w=3_000))
    sim.apply(evse, SetpointControl(-11_000))
    sim.step(10)
    assert sim.evse_state(evse).p_w == -3_000
    sim.update_session(key, departure=sim.now)
    sim.step(1)
    assert not sim.evse_state(evse).connected


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    soc0=st.floats(5.0, 95.0),
    floor=st.floats(0.0, 60.0),
    min_dep=st.floats(0.0, 100.0),
    to_grid=st.one_of(st.none(), st.floats(0.0, 30_000.0)),
    departure_h=st.floats(0.2, 5.0),
    dt_s=st.sampled_from([5.0, 17.0, 60.0, 300.0]),
    setpoints=st.lists(
        st.tuples(st.floats(-30_000.0, 30_000.0), st.integers(1, 40)), min_size=1, max_size=12
    ),
)
def test_random_setpoints_never_break_user_limits(
    soc0: float,
    floor: float,
    min_dep: float,
    to_grid: float | None,
    departure_h: float,
    dt_s: float,
    setpoints: list[tuple[float, int]],
) -> None:
    sim, (evse,) = single_site()
    cap_wh = 60_000.0
    limits = EvUserLimits(
        min_soc_at_departure_pct=min_dep, soc_floor_pct=floor, max_energy_to_grid_wh=to_grid
    )
    key = plug(sim, evse, soc_pct=soc0, departure_h=departure_h, limits=limits)
    reachable = (min_dep - soc0) / 100 * cap_wh <= 11_000 * departure_h
    lowest_allowed = min(floor, soc0)
    plan = [sp for sp, count in setpoints for _ in range(count)]
    step = 0
    while sim.evse_state(evse).connected:
        sim.apply(evse, SetpointControl(plan[step % len(plan)]))
        sim.step(dt_s)
        step += 1
        state = sim.evse_state(evse)
        if not state.connected:
            break
        assert state.soc_pct is not None
        assert state.soc_pct * cap_wh / 100 >= lowest_allowed * cap_wh / 100 - EPS_WH
        if to_grid is not None:
            assert sim.session(key).energy_exported_wh <= to_grid + EPS_WH
    (final,) = [e for e in sim.drain_events() if e.kind == "EV_DISCONNECTED"]
    soc_final = final.data["soc_pct"]
    assert isinstance(soc_final, float)
    if reachable:
        assert soc_final * cap_wh / 100 >= min_dep * cap_wh / 100 - EPS_WH
    exported = final.data["energy_exported_wh"]
    assert isinstance(exported, float)
    if to_grid is not None:
        assert exported <= to_grid + EPS_WH
