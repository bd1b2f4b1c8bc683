"""EVSE physics: response latency, rise to 90 %, ramp limits, CC/CV taper, losses, and the
local functions on top of them (multi-level FFR, unlatched FFR, volt-watt)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from fcsbe.sim import (
    DroopControl,
    EvProfile,
    EvseSpec,
    FfrControl,
    SetpointControl,
    Simulator,
    SiteSpec,
    VirtualClock,
)
from fcsbe.sim.fleet_builder import ac, dc
from tests.sim.helpers import START, plug

BIDI = EvProfile(
    battery_capacity_wh=60_000,
    max_charge_w=22_000,
    max_discharge_w=11_000,
    onboard_bidirectional=True,
    cv_from_soc_pct=80.0,
)


def _one(kind: str) -> tuple[Simulator, str]:
    """A site with one EVSE of the catalogue's AC (22 kW) or DC (50 kW) rating."""
    rating = ac(22, 11) if kind == "AC" else dc(50, 11)
    spec = EvseSpec("E1", "CS1", "SITE", *rating)
    site = SiteSpec("SITE", 2 if kind == "DC" else 3, import_limit_w=1e9, export_limit_w=1e9)
    return Simulator([site], [spec], seed=1, clock=VirtualClock(START)), "E1"


@pytest.mark.parametrize(("kind", "t90_s"), [("DC", 0.2 + 0.3), ("AC", 1.5 + 1.0)])
def test_ffr_is_delivered_after_the_latency_and_the_rise(kind: str, t90_s: float) -> None:
    """A step ordered at once reaches 90 % after latency + rise: 0.5 s on DC, 2.5 s on AC."""
    sim, evse = _one(kind)
    plug(sim, evse, soc_pct=40.0, ev=BIDI)
    sim.apply(evse, SetpointControl(10_000))
    sim.step(10)
    sim.apply(evse, FfrControl(49.7, -10_000, 1.0, 5.0))
    trigger = sim.now + timedelta(seconds=1)
    sim.schedule_frequency_event(trigger, 49.6, duration_s=30)
    sim.step(6)
    active = [s for s in sim.drain_ffr_evidence() if s.phase == "ACTIVE"]
    assert active[0].commanded_delta_w == -10_000  # the controller steps at once
    reached = next(s for s in active if s.delivered_w <= -9_000)
    assert (reached.at - trigger).total_seconds() == pytest.approx(t90_s, abs=0.1 + 1e-9)
    late = [s for s in active if (s.at - trigger).total_seconds() < t90_s - 0.15]
    assert all(s.delivered_w > -9_000 for s in late)


def test_levels_escalate_and_an_unlatched_ffr_ends_with_the_frequency() -> None:
    sim, evse = _one("DC")
    plug(sim, evse, soc_pct=40.0, ev=BIDI)
    sim.apply(evse, SetpointControl(10_000))
    sim.step(5)
    levels = ((49.7, -5_000.0, 1.0), (49.5, -15_000.0, 1.0))
    ffr = FfrControl(49.7, -5_000, 1.0, 30.0, levels=levels, deactivation_ramp_s=2.0, latched=False)
    sim.apply(evse, ffr)
    sim.set_frequency("SITE", 49.6)
    sim.step(3)
    assert sim.evse_state(evse).p_w == pytest.approx(5_000, abs=1)
    sim.set_frequency("SITE", 49.4)
    sim.step(3)
    assert sim.evse_state(evse).p_w == pytest.approx(-5_000, abs=1)
    sim.set_frequency("SITE", 50.0)  # unlatched: support ends, 2 s ramp back
    sim.step(1)
    assert -5_000 < sim.evse_state(evse).p_w < 10_000
    sim.step(4)
    assert sim.evse_state(evse).p_w == pytest.approx(10_000, abs=1)
    assert sim.ffr_phase(evse) == "ARMED"  # no re-arm time: armed again at once


def test_droop_on_ac_waits_for_the_pwm() -> None:
    """AC: the EV follows the PWM after 1.5 s, then rises to 90 % in 1 s."""
    sim, evse = _one("AC")
    plug(sim, evse, soc_pct=40.0, ev=BIDI)
    sim.apply(evse, SetpointControl(10_000))
    sim.step(10)
    sim.apply(evse, DroopControl(50.0, 0.0, 1.0, -11_000, 22_000, p_ref_w=10_000))
    sim.set_frequency("SITE", 49.9)  # 0.1 Hz of a 0.5 Hz droop: -2 kW
    sim.step(1)
    assert sim.evse_state(evse).p_w == 10_000  # still in the latency
    sim.step(1.5)
    assert 8_000 < sim.evse_state(evse).p_w <= 8_000 + 0.1 * 2_000 + 1
    sim.step(10)
    assert sim.evse_state(evse).p_w == pytest.approx(8_000)


def test_ramp_limit_bounds_a_setpoint_step() -> None:
    spec = EvseSpec("E1", "CS1", "SITE", "DC", 50_000, ramp_w_per_s=5_000)
    site = SiteSpec("SITE", 2, import_limit_w=1e9, export_limit_w=1e9)
    sim = Simulator([site], [spec], seed=1, clock=VirtualClock(START))
    plug(sim, "E1", soc_pct=20.0, ev=EvProfile(60_000, 50_000))
    sim.apply("E1", SetpointControl(0))
    sim.step(1)
    sim.apply("E1", SetpointControl(20_000))
    powers = []
    for _ in range(5):
        sim.step(1)
        powers.append(sim.evse_state("E1").p_w)
    assert powers == pytest.approx([5_000, 10_000, 15_000, 20_000, 20_000])


def test_cc_cv_taper_and_losses() -> None:
    """Above the 80 % knee the battery takes less: at 90 % half the rating. Of 10 kWh metered
    on AC, 9 kWh reach the cells (90 % one way)."""
    sim, evse = _one("AC")
    plug(sim, evse, soc_pct=90.0, ev=BIDI, target_soc_pct=100.0)
    sim.step(5)
    assert sim.evse_state(evse).p_w == pytest.approx(22_000 * 0.5, rel=0.01)
    sim2, evse2 = _one("AC")
    plug(sim2, evse2, soc_pct=20.0, ev=BIDI, target_soc_pct=100.0)
    sim2.apply(evse2, SetpointControl(10_000))
    sim2.step(5)
    before = sim2.evse_state(evse2)
    sim2.run_until(sim2.now + timedelta(hours=1), 60)
    after = sim2.evse_state(evse2)
    metered = after.e_import_wh - before.e_import_wh
    assert metered == pytest.approx(10_000, rel=1e-6)
    assert (after.soc_pct - before.soc_pct) / 100 * 60_000 == pytest.approx(9_000, rel=1e-6)


def test_volt_watt_and_volt_var_follow_the_local_voltage() -> None:
    sim, evse = _one("DC")
    plug(sim, evse, soc_pct=40.0, ev=BIDI)
    sim.apply(evse, SetpointControl(10_000))
    droop = DroopControl(
        50.0,
        0.0,
        5.0,
        -11_000,
        22_000,
        volt_watt=((90.0, -5_000.0), (95.0, 0.0), (105.0, 0.0), (110.0, 5_000.0)),
    )
    sim.apply(evse, droop)
    sim.set_voltage("SITE", 0.925 * 230)  # half-way between 90 % and 95 %
    sim.step(5)
    assert sim.evse_state(evse).p_w == pytest.approx(7_500, abs=1)
