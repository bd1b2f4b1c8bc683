"""OCPP 2.1 mapping: every generated payload validates against the OCPP 2.1 JSON schemas, and
each FS type uses the operation modes and fields OCPP 2.1 gives it."""

from __future__ import annotations

import json
from datetime import timedelta
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import ocpp
import pytest

from fcsbe.model import ReserveActivation
from fcsbe.server.adapters.ocpp21 import (
    EvseAddress,
    OcppCall,
    OcppMappingError,
    dynamic_profile_calls,
    dynamic_update_calls,
    ocpp_calls,
)
from fcsbe.server.planning import SplitBasis, plan_fs, plan_reserve_activation, split_setpoint
from tests.server.planning.fs_requests import NOW, START, evse, request_of
from tests.server.planning.test_local_control import DROOP, FFR

SCHEMAS = Path(ocpp.__file__).parent / "v21" / "schemas"

FLEET = [
    evse(1, p_w=6_000.0),
    evse(
        2, p_w=3_000.0, max_export_w=7_400.0, v2g_allowed=True, soc_pct=70.0, capacity_wh=60_000.0
    ),
    evse(3, energy_to_min_soc_wh=10_000.0, departure=START + timedelta(hours=3)),
]
ADDRESSES = {
    "NL*ABC*E1*1": EvseAddress("cs-1", 1, transaction_id="tx-1"),
    "NL*ABC*E1*2": EvseAddress("cs-1", 2, transaction_id="tx-2"),
    "NL*ABC*E1*3": EvseAddress("cs-2", 1),
}
DER_ADDRESSES = {
    k: EvseAddress(a.station_id, a.evse_number, a.transaction_id, True)
    for k, a in ADDRESSES.items()
}

PAYLOADS: dict[str, dict[str, Any]] = {
    "SETPOINT": {
        "fs_type": "SETPOINT",
        "resolution_s": 900,
        "periods": [
            {"start_offset_s": 0, "p_w": 15_000.0, "q_var": 1_000.0},
            {"start_offset_s": 900, "p_w": -2_000.0, "ramp_w_per_s": 50.0},
            {"start_offset_s": 2700, "p_w": 0.0},
        ],
    },
    "DEMAND_RESPONSE": {
        "fs_type": "DEMAND_RESPONSE",
        "intervals": [
            {"start_offset_s": 0, "duration_s": 1800, "incentive_level": 3},
            {"start_offset_s": 1800, "duration_s": 1800, "incentive_level": 0},
        ],
    },
    "DROOP": DROOP
    | {
        "volt_var": {
            "x_unit": "PCT_EFFECTIVE_V",
            "y_unit": "PCT_MAX_VAR",
            "points": [{"x": 92.0, "y": 44.0}, {"x": 98.0, "y": 0.0}, {"x": 108.0, "y": -44.0}],
        }
    },
    "FFR": FFR,
    "DYNAMIC_PRICE": {
        "fs_type": "DYNAMIC_PRICE",
        "currency": "EUR",
        "v2x_allowed": True,
        "intervals": [
            {
                "start_offset_s": 0,
                "duration_s": 1800,
                "import_price_per_kwh": 0.35,
                "export_price_per_kwh": 0.6,
            },
            {"start_offset_s": 1800, "duration_s": 1800, "import_price_per_kwh": 0.02},
        ],
    },
    "CONGESTION": {
        "fs_type": "CONGESTION",
        "grid_node": "EAN-1",
        "periods": [
            {
                "start_offset_s": 0,
                "duration_s": 1800,
                "import_limit_w": 12_000.0,
                "export_limit_w": 3_000.0,
            },
            {"start_offset_s": 1800, "duration_s": 1800, "export_limit_w": 1_000.0},
        ],
    },
}


@cache
def _validator(action: str) -> jsonschema.protocols.Validator:
    schema = json.loads((SCHEMAS / f"{action}Request.json").read_text())
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def _valid(calls: list[OcppCall]) -> list[OcppCall]:
    """Every payload validates against its OCPP 2.1 request schema (and survives JSON)."""
    assert calls
    for call in calls:
        _validator(call.action).validate(json.loads(json.dumps(call.payload)))
    return calls


def _periods(call: OcppCall) -> list[dict[str, Any]]:
    return call.payload["chargingProfile"]["chargingSchedule"][0]["chargingSchedulePeriod"]


def _check_mode_rules(calls: list[OcppCall]) -> None:
    """OCPP 2.1 per operation mode: CentralSetpoint needs a setpoint inside [dischargeLimit,
    limit]; ChargingOnly a limit and no setpoint; Idle neither; LocalFrequency a curve."""
    for call in calls:
        if call.action != "SetChargingProfile":
            continue
        for period in _periods(call):
            mode = period.get("operationMode", "ChargingOnly")
            if mode == "CentralSetpoint":
                assert (
                    period.get("dischargeLimit", -1e12)
                    <= period["setpoint"]
                    <= period.get("limit", 1e12)
                )
            elif mode == "ChargingOnly":
                assert "limit" in period
                assert "setpoint" not in period
            elif mode == "Idle":
                assert not {"limit", "setpoint", "dischargeLimit"} & period.keys()
            else:
                assert mode == "LocalFrequency"
                assert period["v2xFreqWattCurve"]


@pytest.mark.parametrize("der", [False, True], ids=["profiles", "der-control"])
@pytest.mark.parametrize("fs_type", sorted(PAYLOADS))
def test_every_fs_type_maps_to_schema_valid_messages(fs_type: str, der: bool) -> None:
    payload = PAYLOADS[fs_type]
    if fs_type == "DROOP" and not der:
        payload = DROOP  # voltage curves need DER control
    request = request_of(payload)
    plan = plan_fs(request, FLEET, NOW)
    addresses = DER_ADDRESSES if der else ADDRESSES
    calls = _valid(ocpp_calls(request, plan, addresses))
    _check_mode_rules(calls)
    assert calls == ocpp_calls(request, plan, addresses)  # stable ids: a re-send is identical


def test_setpoint_profiles_are_tx_profiles_with_central_setpoints() -> None:
    request = request_of(PAYLOADS["SETPOINT"], priority=0)
    calls = ocpp_calls(request, plan_fs(request, FLEET, NOW), ADDRESSES)
    first = calls[0].payload
    assert calls[0].station_id == "cs-1"
    assert first["evseId"] == 1
    profile = first["chargingProfile"]
    assert profile["chargingProfilePurpose"] == "TxProfile"
    assert profile["transactionId"] == "tx-1"
    assert profile["stackLevel"] == 19
    assert profile["validFrom"] == "2026-03-02T17:00:00Z"
    assert {p["operationMode"] for p in _periods(calls[0])} == {"CentralSetpoint"}
    assert "setpointReactive" in _periods(calls[0])[0]
    third = next(c for c in calls if c.station_id == "cs-2")
    assert third.payload["chargingProfile"]["chargingProfilePurpose"] == "TxDefaultProfile"
    assert "transactionId" not in third.payload["chargingProfile"]


def test_a_gap_in_the_schedule_ends_one_profile_and_starts_another() -> None:
    request = request_of(PAYLOADS["SETPOINT"])
    calls = ocpp_calls(request, plan_fs(request, FLEET, NOW), ADDRESSES)
    mine = [
        c.payload["chargingProfile"]
        for c in calls
        if c.payload["evseId"] == 1 and c.station_id == "cs-1"
    ]
    assert len(mine) == 2
    assert mine[0]["id"] != mine[1]["id"]
    assert mine[0]["validTo"] == "2026-03-02T17:30:00Z"
    assert mine[1]["validFrom"] == "2026-03-02T17:45:00Z"


def test_demand_response_sends_charging_only_limits() -> None:
    request = request_of(PAYLOADS["DEMAND_RESPONSE"])
    calls = ocpp_calls(request, plan_fs(request, FLEET, NOW), ADDRESSES)
    assert all(p["operationMode"] == "ChargingOnly" for c in calls for p in _periods(c))


def test_congestion_caps_each_station_through_its_max_profile() -> None:
    request = request_of(PAYLOADS["CONGESTION"])
    calls = ocpp_calls(request, plan_fs(request, FLEET, NOW), ADDRESSES)
    assert {c.station_id for c in calls} == {"cs-1", "cs-2"}
    for call in calls:
        assert call.payload["evseId"] == 0
        assert (
            call.payload["chargingProfile"]["chargingProfilePurpose"] == "ChargingStationMaxProfile"
        )
    first = [_periods(c)[0] for c in calls]
    assert sum(p["limit"] for p in first) <= 12_000.0
    assert sum(-p["dischargeLimit"] for p in first) <= 3_000.0


def test_droop_uses_der_controls_where_the_station_has_them() -> None:
    request = request_of(PAYLOADS["DROOP"])
    plan = plan_fs(request, FLEET, NOW)
    calls = _valid(ocpp_calls(request, plan, DER_ADDRESSES))
    der = [c for c in calls if c.action == "SetDERControl"]
    assert sorted((c.station_id, c.payload["controlType"]) for c in der) == [
        ("cs-1", "FreqDroop"),
        ("cs-1", "VoltVar"),
        ("cs-2", "FreqDroop"),
        ("cs-2", "VoltVar"),
    ]
    droop = next(c.payload["freqDroop"] for c in der if c.payload["controlType"] == "FreqDroop")
    assert droop["overFreq"] == pytest.approx(50.2)
    assert droop["underFreq"] == pytest.approx(49.8)
    assert droop["overDroop"] == pytest.approx(0.05)
    assert all(len(c.payload["controlId"]) == 36 for c in der)
    profiles = [c for c in calls if c.action == "SetChargingProfile"]
    assert all(_periods(c)[0]["operationMode"] == "CentralSetpoint" for c in profiles)


def test_voltage_curves_need_der_control() -> None:
    request = request_of(PAYLOADS["DROOP"])
    with pytest.raises(OcppMappingError, match="volt-var"):
        ocpp_calls(request, plan_fs(request, FLEET, NOW), ADDRESSES)


def test_a_curve_beyond_ocpp_limits_is_a_mapping_error() -> None:
    points = [{"x": 90.0 + i, "y": 10.0 - i} for i in range(12)]
    payload = DROOP | {
        "volt_watt": {"x_unit": "PCT_EFFECTIVE_V", "y_unit": "PCT_MAX_W", "points": points}
    }
    request = request_of(payload)
    with pytest.raises(OcppMappingError, match="at most 10 points"):
        ocpp_calls(request, plan_fs(request, FLEET, NOW), DER_ADDRESSES)
    absolute = DROOP | {"volt_watt": {"x_unit": "V", "y_unit": "PCT_MAX_W", "points": points[:3]}}
    request = request_of(absolute)
    with pytest.raises(OcppMappingError, match="PCT_EFFECTIVE_V"):
        ocpp_calls(request, plan_fs(request, FLEET, NOW), DER_ADDRESSES)


def test_ffr_arms_a_local_frequency_staircase_with_its_timing() -> None:
    request = request_of(PAYLOADS["FFR"])
    calls = ocpp_calls(request, plan_fs(request, FLEET, NOW), ADDRESSES)
    period = _periods(calls[0])[0]
    assert period["operationMode"] == "LocalFrequency"
    assert period["v2xBaseline"] == 6_000.0
    assert [p["frequency"] for p in period["v2xFreqWattCurve"]] == [49.5, 49.501, 49.7, 49.701]
    assert period["customData"]["vendorId"] == "org.fcsbe"
    assert period["customData"]["rearmTime"] == 900


def test_reserve_activation_ramps_central_setpoints() -> None:
    request = request_of(
        {
            "fs_type": "RESERVE",
            "up_w": 8_000.0,
            "down_w": 2_000.0,
            "full_activation_time_s": 300,
            "min_activation_duration_s": 0,
        }
    )
    reserved = plan_fs(request, FLEET, NOW)
    assert ocpp_calls(request, reserved, ADDRESSES) == []
    activation = ReserveActivation.model_validate(
        {
            "activation_id": "a-1",
            "direction": "UP",
            "delta_p_w": 8_000.0,
            "full_activation_time_s": 300,
            "duration_s": 600,
            "start": START.isoformat(),
        }
    )
    plan = plan_reserve_activation(request, activation, reserved.reservations, NOW)
    calls = _valid(ocpp_calls(request, plan, ADDRESSES))
    _check_mode_rules(calls)
    assert [p["startPeriod"] for p in _periods(calls[0])] == [0, 60, 120, 180, 240]


def test_dynamic_setpoints_arm_a_dynamic_profile_then_update_it() -> None:
    request = request_of(PAYLOADS["SETPOINT"])
    basis = SplitBasis.for_setpoint(FLEET, NOW)
    shares = split_setpoint(10_000.0, basis)
    profiles = _valid(dynamic_profile_calls(request, basis, shares, ADDRESSES, NOW, dead_man_s=30))
    assert profiles[0].payload["chargingProfile"]["chargingProfileKind"] == "Dynamic"
    assert profiles[0].payload["chargingProfile"]["chargingSchedule"][0]["duration"] == 30
    updates = _valid(
        dynamic_update_calls(request, basis, split_setpoint(-3_000.0, basis), ADDRESSES)
    )
    for profile, update in zip(profiles, updates, strict=True):
        assert update.payload["chargingProfileId"] == profile.payload["chargingProfile"]["id"]
    total = sum(u.payload["scheduleUpdate"]["setpoint"] for u in updates)
    assert total == pytest.approx(basis.feasible(-3_000.0), abs=1.0)


def test_an_evse_without_address_is_a_mapping_error() -> None:
    request = request_of(PAYLOADS["DEMAND_RESPONSE"])
    with pytest.raises(OcppMappingError, match="no OCPP address"):
        ocpp_calls(request, plan_fs(request, FLEET, NOW), {})
