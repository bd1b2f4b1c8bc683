"""Fast frequency response (UC 2.4): local trigger, full activation in time, evidence, re-arm."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest

from fcsbe.sim import Consent, FfrControl, FrequencyEventOptions, SimOptions
from tests.sim.helpers import plug, single_site

FFR = FfrControl(
    trigger_hz=49.7,
    delta_p_w=-15_000,
    full_activation_time_s=1.0,
    support_duration_s=5.0,
    rearm_s=10.0,
)


def test_ffr_reaches_full_delta_within_the_full_activation_time() -> None:
    sim, (evse,) = single_site()
    plug(sim, evse, soc_pct=50.0)  # unmanaged: charging at 11 kW
    sim.apply(evse, FFR)
    start = sim.now
    trigger_at = start + timedelta(seconds=10.35)
    sim.schedule_frequency_event(trigger_at, 49.6, duration_s=20.0)
    for _ in range(40):
        sim.step(1)  # coarse steps: the simulator refines them while the FFR is active
    evidence = sim.drain_ffr_evidence()
    triggered = [s for s in evidence if s.phase == "TRIGGERED"]
    assert next(s.at for s in triggered) == trigger_at  # seen at the exact instant
    assert triggered[0].baseline_w == 11_000
    first = [s for s in evidence if s.at <= trigger_at + timedelta(seconds=6)]
    active = [s for s in first if s.phase == "ACTIVE"]
    assert active[0].at - trigger_at == timedelta(milliseconds=100)
    # The station commands the full change at once; an ideal EVSE delivers it in the step.
    assert active[0].delivered_w == pytest.approx(-15_000)
    at_full = [s for s in active if s.at == trigger_at + timedelta(seconds=1)]
    assert at_full
    assert at_full[0].delivered_w == pytest.approx(-15_000)
    gaps = {b.at - a.at for a, b in itertools.pairwise(active)}
    assert gaps == {timedelta(milliseconds=100)}  # high-resolution evidence
    assert all(s.delivered_w == pytest.approx(-15_000) for s in active if s.at >= at_full[0].at)
    ended = [s for s in evidence if s.phase == "ENDED"]
    assert ended
    assert ended[0].p_w == 11_000
    # Re-armed 10 s after the support ended, with the frequency still low: a second activation.
    assert len(triggered) == 2
    assert triggered[1].at == trigger_at + timedelta(seconds=16)
    kinds = [e.kind for e in sim.drain_events()]
    assert kinds.count("FFR_ACTIVATED") == 2
    assert kinds.count("FFR_COMPLETED") == 2


def test_ffr_without_v2g_consent_delivers_only_the_import_reduction() -> None:
    sim, (evse,) = single_site()
    plug(sim, evse, soc_pct=50.0, consent=Consent(v1g=True, v2g=False))
    sim.apply(evse, FFR)
    sim.set_frequency("SITE", 49.5)
    for _ in range(3):
        sim.step(1)
    assert sim.evse_state(evse).p_w == 0.0
    assert sim.ffr_phase(evse) == "ACTIVE"


def test_ffr_never_triggers_without_consent() -> None:
    sim, (evse,) = single_site()
    plug(sim, evse, soc_pct=50.0, consent=Consent(v1g=False, v2g=False))
    sim.apply(evse, FFR)
    sim.set_frequency("SITE", 49.5)
    sim.step(1)
    assert sim.ffr_phase(evse) == "ARMED"
    assert sim.evse_state(evse).p_w == 11_000


def test_seeded_random_frequency_events_trigger_armed_ffr() -> None:
    options = SimOptions(
        frequency_events=FrequencyEventOptions(events_per_hour=6, min_hz=49.5, max_hz=49.6, seed=3)
    )
    sim, evses = single_site(2, options=options)
    for e in evses:
        plug(sim, e, soc_pct=50.0, departure_h=10)
    sim.apply_site("SITE", FFR)
    for _ in range(3600):
        sim.step(1)
    assert sim.stats.ffr_activations >= 4  # ~6 events, both EVSEs each time
    assert sim.stats.ffr_activations % 2 == 0
