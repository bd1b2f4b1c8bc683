"""Setpoint following (UC 2.1): EVSE setpoints, the fast path, site setpoints, aggregates."""

from __future__ import annotations

import random

import pytest

from fcsbe.sim import Consent, EvUserLimits, LimitControl, SetpointControl, Simulator
from fcsbe.sim.scenarios import large_fleet, uc_1_5_evss
from tests.sim.helpers import plug, single_site


def test_aggregate_follows_a_setpoint_split_within_headroom() -> None:
    """What the server does: split an aggregate setpoint by headroom, then check delivery."""
    sim, evses = single_site(60)
    rng = random.Random(5)
    for k, e in enumerate(evses):
        consent = Consent(v1g=k % 7 != 0, v2g=k % 3 != 0)
        limits = EvUserLimits(
            min_soc_at_departure_pct=rng.uniform(0, 90), soc_floor_pct=rng.uniform(0, 50)
        )
        departure = rng.uniform(0.5, 10)
        plug(
            sim,
            e,
            soc_pct=rng.uniform(5, 95),
            departure_h=departure,
            limits=limits,
            consent=consent,
        )
    group = sim.group(evses)
    for _ in range(20):
        sim.step(4)
        rooms = [sim.headroom(e, horizon_s=4) for e in evses]
        low = -sum(r.max_export_w for r in rooms)
        high = sum(r.max_import_w for r in rooms)
        target = rng.uniform(low, high)
        alpha = (target - low) / (high - low)
        sim.apply_many(
            (e, SetpointControl(-r.max_export_w + alpha * (r.max_import_w + r.max_export_w)))
            for e, r in zip(evses, rooms, strict=True)
        )
        sim.step(4)
        assert sim.aggregate(group, with_headroom=False).p_w == pytest.approx(target, rel=1e-6)


def test_site_headroom_is_clipped_to_the_connection() -> None:
    sim = Simulator.from_scenario(large_fleet(100, seed=2))
    site = sim.site_ids[0]
    sim.step(4)
    room = sim.site_headroom(site, horizon_s=4)
    spec = sim.site_spec(site)
    assert room.max_import_w == spec.import_limit_w  # 50 AC EVSEs could take more than 400 kW
    assert sim.aggregate(sim.site_evse_ids(site)).max_import_w > spec.import_limit_w


def test_apply_many_fast_path_equals_apply() -> None:
    a, evses = single_site(4, current_type="AC", min_charge_w=4_140)
    b, _ = single_site(4, current_type="AC", min_charge_w=4_140)
    for sim in (a, b):
        for k, e in enumerate(evses):
            plug(sim, e, soc_pct=30.0 + k)
    values = [1_000.0, 3_000.0, -2_000.0, 9_000.0]  # below and above half the minimum
    setpoints = [(e, SetpointControl(p, q_var=500.0)) for e, p in zip(evses, values, strict=True)]
    a.apply_many(setpoints)
    for e, c in setpoints:
        b.apply(e, c)
    a.step(60)
    b.step(60)
    assert [a.evse_state(e) for e in evses] == [b.evse_state(e) for e in evses]
    assert [a.evse_state(e).p_w for e in evses] == [0.0, 4_140.0, 0.0, 9_000.0]


def test_apply_setpoints_with_floats_equals_apply_many() -> None:
    a, evses = single_site(4, current_type="AC", min_charge_w=4_140)
    b, _ = single_site(4, current_type="AC", min_charge_w=4_140)
    for sim in (a, b):
        for k, e in enumerate(evses):
            plug(sim, e, soc_pct=30.0 + k)
    values = [1_000.0, 3_000.0, -2_000.0, 9_000.0]
    a.apply_setpoints(a.group(evses), values, [100.0, None, None, 200.0])
    b.apply_many(
        (e, SetpointControl(p, q))
        for e, p, q in zip(evses, values, [100.0, None, None, 200.0], strict=True)
    )
    a.step(60)
    b.step(60)
    assert [a.evse_state(e) for e in evses] == [b.evse_state(e) for e in evses]
    assert a.evse_state(evses[3]).controls == (SetpointControl(9_000.0, 200.0),)
    with pytest.raises(ValueError, match="one setpoint per EVSE"):
        a.apply_setpoints(evses, values[:2])


def test_charge_setpoints_round_to_the_minimum_current() -> None:
    sim, (evse,) = single_site(current_type="AC", min_charge_w=4_140)
    plug(sim, evse, soc_pct=30.0, consent=Consent(v1g=True, v2g=False))
    sim.apply(evse, SetpointControl(1_000))
    sim.step(10)
    assert sim.evse_state(evse).p_w == 0.0
    sim.apply(evse, SetpointControl(3_000))
    sim.step(10)
    assert sim.evse_state(evse).p_w == 4_140
    sim.apply(evse, LimitControl(max_import_w=3_000))
    sim.apply(evse, SetpointControl(10_000))
    sim.step(10)
    assert sim.evse_state(evse).p_w == 0.0  # a limit below the minimum can only pause


def test_limit_bounds_a_setpoint_and_reactive_power_is_clamped() -> None:
    sim, (evse,) = single_site()
    plug(sim, evse, soc_pct=50.0)
    sim.apply(evse, LimitControl(max_import_w=4_000, max_export_w=2_000))
    sim.apply(evse, SetpointControl(9_000, q_var=3_000))
    sim.step(10)
    state = sim.evse_state(evse)
    assert state.p_w == 4_000
    assert state.q_var == 0.0  # this EVSE has no reactive capability
    assert state.controls == (SetpointControl(9_000, q_var=3_000), LimitControl(4_000, 2_000))
    sim.apply(evse, SetpointControl(-9_000))
    sim.step(10)
    assert sim.evse_state(evse).p_w == -2_000


def test_site_setpoint_is_split_over_managed_evses_within_their_bounds() -> None:
    sim, evses = single_site(4)
    for e in evses[:3]:
        plug(sim, e, soc_pct=50.0)
    plug(sim, evses[3], soc_pct=50.0, consent=Consent(v1g=False))  # unmanaged: 11 kW
    sim.apply_site("SITE", SetpointControl(11_000 + 3_000))
    sim.step(10)
    assert [sim.evse_state(e).p_w for e in evses] == pytest.approx([1_000] * 3 + [11_000])
    sim.apply_site("SITE", SetpointControl(-100_000))  # beyond reach: all at the lower bound
    sim.step(10)
    assert [sim.evse_state(e).p_w for e in evses] == pytest.approx([-11_000] * 3 + [11_000])


def test_evss_site_setpoint_uses_evses_then_storage() -> None:
    """UC 1.5: the FS is served by the site as a whole at its point of connection."""
    fleet = uc_1_5_evss()
    sim = Simulator.from_scenario(fleet)
    (site,) = sim.site_ids
    sim.set_irradiance(site, 0.5)
    sim.apply_site(site, SetpointControl(150_000))
    sim.step(10)
    state = sim.site_state(site)
    assert state.p_w == pytest.approx(150_000)
    assert state.evse_p_w + state.storage_w - state.pv_w == pytest.approx(150_000)
