"""No discharge without V2G consent or capability; no control at all without consent."""

from __future__ import annotations

from fcsbe.sim import Consent, LimitControl, SetpointControl, Simulator
from fcsbe.sim.scenarios import uc_1_7_onboard_inverter
from tests.sim.helpers import AC_EV, BIDI_EV, V2G, plug, single_site


def test_no_discharge_without_v2g_consent() -> None:
    sim, (evse,) = single_site()
    plug(sim, evse, soc_pct=80.0, consent=Consent(v1g=True, v2g=False))
    sim.apply(evse, SetpointControl(-7_000))
    sim.step(60)
    assert sim.evse_state(evse).p_w == 0.0
    assert sim.headroom(evse).max_export_w == 0.0


def test_withdrawal_stops_v2g_on_the_next_step() -> None:
    sim, (evse,) = single_site()
    key = plug(sim, evse, soc_pct=80.0, consent=V2G)
    sim.apply(evse, SetpointControl(-7_000))
    sim.step(1)
    assert sim.evse_state(evse).p_w == -7_000
    sim.update_session(key, consent=Consent(v1g=True, v2g=False))
    sim.step(1)
    assert sim.evse_state(evse).p_w == 0.0
    kinds = [e.kind for e in sim.drain_events()]
    assert "CONSENT_CHANGED" in kinds


def test_without_any_consent_controls_are_ignored_and_charging_is_unmanaged() -> None:
    sim, (evse,) = single_site()
    key = plug(sim, evse, soc_pct=50.0, consent=Consent(v1g=False, v2g=False))
    sim.apply(evse, SetpointControl(-7_000))
    sim.apply(evse, LimitControl(max_import_w=2_000))
    sim.step(60)
    state = sim.evse_state(evse)
    assert state.p_w == 11_000
    assert not state.managed
    assert sim.headroom(evse) == (11_000, -11_000)  # a single point: nothing to offer
    sim.update_session(key, consent=Consent(v1g=True))
    sim.step(60)
    assert sim.evse_state(evse).p_w == 0.0  # the stored setpoint binds once consent is given


def test_ac_discharge_needs_an_onboard_inverter() -> None:
    """UC 1.7: same AC EVSE, same consent; only the EV with an on-board inverter discharges."""
    sim, evses = single_site(2, current_type="AC")
    plug(sim, evses[0], soc_pct=80.0, ev=BIDI_EV)
    plug(sim, evses[1], soc_pct=80.0, ev=AC_EV)
    for e in evses:
        sim.apply(e, SetpointControl(-5_000))
    sim.step(60)
    assert sim.evse_state(evses[0]).p_w == -5_000
    assert sim.evse_state(evses[1]).p_w == 0.0
    sessions = {s.evse_id: s for s in sim.sessions()}
    assert sessions[evses[0]].v2g_capable
    assert not sessions[evses[1]].v2g_capable


def test_dc_discharge_needs_a_bidirectional_evse() -> None:
    sim, (evse,) = single_site(max_discharge_w=0.0)
    plug(sim, evse, soc_pct=80.0)
    sim.apply(evse, SetpointControl(-5_000))
    sim.step(60)
    assert sim.evse_state(evse).p_w == 0.0


def test_uc_1_7_scenario_carries_the_evs_conformity() -> None:
    fleet = uc_1_7_onboard_inverter()
    sim = Simulator.from_scenario(fleet)
    by_evse = {s.evse_id: s for s in sim.sessions()}
    bidi, plain = (by_evse[i.evse_id] for i in fleet.initial_sessions)
    assert "EN 50549-1" in bidi.ev.conformity
    assert bidi.v2g_capable
    assert not plain.v2g_capable
    sim.apply_many((s.evse_id, SetpointControl(-11_000)) for s in (bidi, plain))
    sim.step(10)
    assert sim.evse_state(bidi.evse_id).p_w == -11_000
    assert sim.evse_state(plain.evse_id).p_w == 0.0
