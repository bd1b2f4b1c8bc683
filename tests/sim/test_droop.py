"""Frequency droop (UC 2.3): sign, magnitude, deadband, bounds and response time, all local."""

from __future__ import annotations

import pytest

from fcsbe.sim import ClearControl, Consent, DroopControl, SetpointControl
from tests.sim.helpers import plug, single_site

DROOP = DroopControl(
    f_ref_hz=50.0, deadband_hz=0.02, droop_pct=5.0, p_min_w=-2_000, p_max_w=11_000, p_ref_w=11_000
)


@pytest.mark.parametrize(
    ("f_hz", "expected_w"),
    [
        (50.01, 5_000.0),  # inside the deadband
        (49.9, 5_000.0 - 0.08 / 50 / 0.05 * 11_000),  # low frequency: less import
        (50.2, 5_000.0 + 0.18 / 50 / 0.05 * 11_000),  # high frequency: more import
        (49.0, 5_000.0 - 0.98 / 50 / 0.05 * 11_000),
        (48.0, -2_000.0),  # bounded by p_min_w (V2G allowed here)
    ],
)
def test_droop_sign_and_magnitude(f_hz: float, expected_w: float) -> None:
    sim, (evse,) = single_site()
    plug(sim, evse, soc_pct=50.0)
    sim.apply(evse, SetpointControl(5_000))
    sim.apply(evse, DROOP)
    sim.set_frequency("SITE", f_hz)
    sim.step(1)
    assert sim.evse_state(evse).p_w == pytest.approx(expected_w)


def test_droop_respects_consent_and_clear() -> None:
    sim, (evse,) = single_site()
    plug(sim, evse, soc_pct=50.0, consent=Consent(v1g=True, v2g=False))
    sim.apply(evse, SetpointControl(1_000))
    sim.apply(evse, DROOP)
    sim.set_frequency(None, 48.0)
    sim.step(1)
    assert sim.evse_state(evse).p_w == 0.0  # would discharge, but no V2G consent
    sim.apply(evse, ClearControl())
    sim.step(1)
    assert sim.evse_state(evse).p_w == 11_000  # unmanaged again
    assert sim.evse_state(evse).controls == ()


def test_droop_response_time_is_the_time_to_90_percent() -> None:
    """Grid codes measure a response time to 90 % of the change (IEEE 1547 open-loop)."""
    sim, (evse,) = single_site()
    plug(sim, evse, soc_pct=50.0)
    sim.apply(evse, SetpointControl(5_000))
    lagged = DroopControl(50.0, 0.0, 5.0, -11_000, 11_000, p_ref_w=11_000, response_time_s=10.0)
    sim.apply(evse, lagged)
    sim.set_frequency("SITE", 49.9)
    full = -0.1 / 50 / 0.05 * 11_000  # -440 W
    sim.step(1)
    assert sim.evse_state(evse).p_w == pytest.approx(5_000 + (1 - 10**-0.1) * full)
    for _ in range(9):
        sim.step(1)
    assert sim.evse_state(evse).p_w == pytest.approx(5_000 + 0.9 * full)
    for _ in range(100):
        sim.step(1)
    assert sim.evse_state(evse).p_w == pytest.approx(5_000 + full, rel=1e-3)


def test_unmanaged_base_with_site_droop() -> None:
    """Droop armed on a whole site acts around unmanaged charging too."""
    sim, evses = single_site(3)
    for e in evses:
        plug(sim, e, soc_pct=30.0)
    sim.apply_site("SITE", DroopControl(50.0, 0.0, 4.0, -11_000, 11_000))
    sim.set_frequency("SITE", 49.8)
    sim.step(1)
    expected = 11_000 - 0.2 / 50 / 0.04 * 11_000
    assert [sim.evse_state(e).p_w for e in evses] == pytest.approx([expected] * 3)
