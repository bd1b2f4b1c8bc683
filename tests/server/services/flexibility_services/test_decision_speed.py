"""The decision refuses a target that cannot respond in time, from the registry's figures."""

from __future__ import annotations

import pytest

from fcsbe.model import ChargingStation, Evse, FsType
from fcsbe.server.services.flexibility_services.decision_rules import too_slow
from fcsbe.server.services.registry.capabilities import assess
from tests.model.helpers import example
from tests.server.planning.fs_requests import NOW, request_of

FFR = {
    "fs_type": "FFR",
    "trigger_levels": [
        {"frequency_hz": 49.7, "full_activation_time_s": 1.0, "delta_p_w": -6_000.0},
        {"frequency_hz": 49.5, "full_activation_time_s": 0.7, "delta_p_w": -12_000.0},
    ],
    "detection_delay_s": 0.1,
    "support_duration_s": 30,
    "deactivation_ramp_s": 10,
    "rearm_time_s": 900,
    "evidence_sampling_ms": 20,
}


@pytest.mark.parametrize(("response_s", "refused"), [(0.5, False), (0.6, False), (0.61, True)])
def test_ffr_needs_the_fastest_level_after_the_detection_delay(
    response_s: float, refused: bool
) -> None:
    reason = too_slow(request_of(FFR), response_s)
    assert (reason is not None) is refused
    if reason:
        assert "0.6 s" in reason
        assert "49.5 Hz" in reason


def test_capabilities_come_from_the_registry() -> None:
    station = ChargingStation.model_validate(example(ChargingStation))
    evse = station.evses[0]
    dynamics = {"response_time_s": 2.5, "ramp_rate_w_per_s": 11_000.0, "setpoint_resolution_w": 690}
    fast = Evse.model_validate(evse.model_dump() | {"dynamics": dynamics})
    capability = assess(FsType.FFR, fast, station, None, NOW).capability
    assert capability.response_time_s == 2.5
    assert capability.ramp_up_w_per_s == 11_000.0
    assert capability.setpoint_resolution_w == 690
    unknown = assess(FsType.FFR, evse.model_copy(update={"dynamics": None}), station, None, NOW)
    assert unknown.capability.response_time_s == 1.0 if evse.current_type == "DC" else 5.0
    assert too_slow(request_of(FFR), capability.response_time_s) is not None
