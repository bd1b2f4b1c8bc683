"""The EV-user bound of the FS decision (decision_rules.evu_bound), with worked numbers.

Two EVSEs with 50 kW free each, the window starts at `AT`:
- A: 40 kWh short of its user's minimum SoC, leaving 1.5 h after the start. Latest-start rule:
  after the first hour it can still take 50 kW x 0.5 h = 25 kWh, so it must take
  (40 - 25) kWh / 1 h = 15 kW now.
- B: 10 kWh short, leaving 4 h after the start: no floor.
The floor of the pair is 15 kW.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from fcsbe.model import FlexibilityServiceRequest
from fcsbe.server.planning import EvseState
from fcsbe.server.services.flexibility_services.decision_rules import (
    evse_state,
    evu_bound,
    power_need,
)
from tests.support.fs_fixtures import request_body

AT = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def _session(evse_id: str, need_wh: float, leaves_h: float, give_wh: float = 0.0) -> dict[str, Any]:
    return {
        "session_ref": f"session-{evse_id}",
        "evse_id": f"DE*FCS*E{evse_id}01",
        "connected_at": (AT - timedelta(hours=1)).isoformat(),
        "departure_time": (AT + timedelta(hours=leaves_h)).isoformat(),
        "energy_request": {
            "target_energy_wh": need_wh,
            "min_energy_wh": need_wh,
            "max_energy_wh": need_wh + 10_000,
            "v2x_min_energy_wh": -give_wh,
        },
    }


def _states(export_w: float = 0.0, give_wh: float = 0.0) -> list[EvseState]:
    return [
        evse_state("A", "s1", _session("A", 40_000, 1.5, give_wh), 50_000, export_w),
        evse_state("B", "s1", _session("B", 10_000, 4.0, give_wh), 50_000, export_w),
    ]


def _request(fs_type: str, parameters: dict[str, Any]) -> FlexibilityServiceRequest:
    body = request_body(
        "fs-1",
        fs_type=fs_type,
        parameters=parameters,
        now=AT,
        start_in=timedelta(0),
        duration=timedelta(hours=1),
    )
    return FlexibilityServiceRequest.model_validate(body)


def _setpoint(p_w: float) -> FlexibilityServiceRequest:
    period = {"start_offset_s": 0, "p_w": p_w}
    return _request("SETPOINT", {"fs_type": "SETPOINT", "resolution_s": 3600, "periods": [period]})


def test_the_floor_follows_the_latest_start_rule() -> None:
    a, b = _states()
    assert a.must_charge_w(AT) == pytest.approx(15_000)
    assert b.must_charge_w(AT) == 0.0
    assert evu_bound(_setpoint(30_000), power_need(_setpoint(30_000)), [a, b], AT).floor_w == (
        pytest.approx(15_000)
    )


def test_a_setpoint_above_the_floor_is_not_bound() -> None:
    request = _setpoint(30_000)
    bound = evu_bound(request, power_need(request), _states(), AT)
    assert bound.fraction == 1.0
    assert bound.notes == ()
    assert bound.bound == ()
    assert bound.committed_w is None


def test_a_setpoint_below_the_floor_commits_the_floor() -> None:
    """10 kW asked, 15 kW will flow: 5 kW off, so 50 % of the ask; 15 kW is what is committed."""
    request = _setpoint(10_000)
    bound = evu_bound(request, power_need(request), _states(), AT)
    assert bound.fraction == pytest.approx(0.5)
    assert bound.committed_w == pytest.approx(15_000)
    assert bound.import_w == pytest.approx(15_000)
    assert bound.bound == ("A",)


def test_a_setpoint_far_below_the_floor_has_no_share() -> None:
    """5 kW asked, 15 kW flow: 10 kW off is 200 % of the ask, no share left."""
    request = _setpoint(5_000)
    assert evu_bound(request, power_need(request), _states(), AT).fraction == 0.0


def test_up_regulation_keeps_the_floor() -> None:
    """Reserve up 100 kW: A can shed 50 - 15 = 35 kW, B 50 kW: 85 kW, 85 %."""
    request = _request(
        "RESERVE",
        {
            "fs_type": "RESERVE",
            "up_w": 100_000,
            "down_w": 0,
            "full_activation_time_s": 300,
            "min_activation_duration_s": 900,
        },
    )
    bound = evu_bound(request, power_need(request), _states(), AT)
    assert bound.fraction == pytest.approx(0.85)
    assert bound.up_room == {
        "A": pytest.approx(35_000),
        "B": pytest.approx(50_000),
    }
    assert bound.bound == ("A",)


def test_reserve_counts_only_evs_that_stay_the_whole_window() -> None:
    """Reserve up 100 kW over an hour; B leaves after half an hour: only A's 35 kW holds
    through the window (35 %), and B is named."""
    request = _request(
        "RESERVE",
        {
            "fs_type": "RESERVE",
            "up_w": 100_000,
            "down_w": 0,
            "full_activation_time_s": 300,
            "min_activation_duration_s": 900,
        },
    )
    a = evse_state("A", "s1", _session("A", 40_000, 1.5), 50_000, 0.0)
    b = evse_state("B", "s1", _session("B", 10_000, 0.5), 50_000, 0.0)
    bound = evu_bound(request, power_need(request), [a, b], AT)
    assert bound.fraction == pytest.approx(0.35)
    assert "B" in bound.bound
    assert any("leave inside the window" in note for note in bound.notes)


def test_an_ev_that_must_charge_gives_no_export() -> None:
    """Droop down to -40 kW: A must charge, so only B's 20 kW of export is there: 50 %."""
    parameters = {
        "fs_type": "DROOP",
        "f_ref_hz": 50.0,
        "deadband_over_hz": 0.2,
        "deadband_under_hz": 0.2,
        "droop_over_pct": 5.0,
        "droop_under_pct": 5.0,
        "p_min_w": -40_000,
        "p_max_w": 0,
        "response_time_s": 2,
    }
    request = _request("DROOP", parameters)
    bound = evu_bound(request, power_need(request), _states(20_000, 50_000), AT)
    assert bound.fraction == pytest.approx(0.5)


def test_an_evse_without_an_ev_has_no_floor() -> None:
    request = _setpoint(5_000)
    states = [evse_state("C", "s1", None, 50_000, 0.0)]
    assert evu_bound(request, power_need(request), states, AT).fraction == 1.0


def test_an_ev_at_its_soc_floor_gives_no_export() -> None:
    """Both users allow no more energy to the grid: export 0 W of the 40 kW asked."""
    parameters = {
        "fs_type": "DROOP",
        "f_ref_hz": 50.0,
        "deadband_over_hz": 0.2,
        "deadband_under_hz": 0.2,
        "droop_over_pct": 5.0,
        "droop_under_pct": 5.0,
        "p_min_w": -40_000,
        "p_max_w": 0,
        "response_time_s": 2,
    }
    request = _request("DROOP", parameters)
    bound = evu_bound(request, power_need(request), _states(20_000, 0.0), AT)
    assert bound.fraction == 0.0
    assert set(bound.bound) == {"A", "B"}


def test_an_export_setpoint_without_an_ev_is_a_headroom_matter() -> None:
    """No EV, no export headroom: the shortfall is the headroom's, not the users'."""
    request = _setpoint(-10_000)
    states = [evse_state("C", "s1", None, 50_000, 0.0)]
    bound = evu_bound(request, power_need(request), states, AT)
    assert bound.fraction == 1.0
    assert bound.notes == ()


def test_an_export_setpoint_bounded_by_the_users_allowance() -> None:
    """-30 kW asked; A must charge 15 kW, B may export 20 kW: -5 kW reached, 25 kW off the 30 kW
    asked is 17 % of it: the users' limits cut it (headroom alone would reach -30 kW)."""
    request = _setpoint(-30_000)
    bound = evu_bound(request, power_need(request), _states(20_000, 50_000), AT)
    assert bound.fraction == pytest.approx(5_000 / 30_000)
    assert bound.committed_w is None
    assert bound.bound == ("A",)


def test_a_session_without_user_limits_has_no_floor() -> None:
    """A stored session that carries only the EV's technical part: nothing binds."""
    state = evse_state("D", "s1", {"ev": {"bidirectional": True}}, 50_000, 10_000)
    assert state.connected
    assert state.must_charge_w(AT) == 0.0
    assert state.export_room_w == 10_000
    request = _setpoint(-10_000)
    assert evu_bound(request, power_need(request), [state], AT).notes == ()
