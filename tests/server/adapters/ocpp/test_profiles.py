"""The FS -> OCPP mapping: each command kind becomes the profiles (and DER controls) of the
station's version, in its unit, within what it reported; what it cannot do is refused; every
payload validates against the `ocpp` library's JSON schema of its version."""

from __future__ import annotations

import decimal
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from ocpp.messages import get_validator  # type: ignore[import-untyped]

from fcsbe.server.adapters.base import (
    ClearCommand,
    Command,
    Control,
    ControlLevel,
    ControlTarget,
    DroopCommand,
    FfrCommand,
    LimitCommand,
    SetpointCommand,
)
from fcsbe.server.adapters.ocpp.checker import check_calls
from fcsbe.server.adapters.ocpp.ledger import ExternalProfile, ProfileLedger
from fcsbe.server.adapters.ocpp.profiles import (
    OcppCall,
    OcppVersion,
    Refusal,
    StationLimits,
    plan_calls,
    refusal_of,
    resend_calls,
)

NOW = datetime(2026, 12, 6, 10, 0, tzinfo=UTC)
EVSES = {"NL*ABC*E1*1": 1, "NL*ABC*E1*2": 2, "NL*ABC*E1*3": 3}
HOUR = timedelta(hours=1)


def assert_schema_valid(call: OcppCall, version: OcppVersion) -> None:
    """The payload validates against the library's schema of its version (1.6 parses floats as
    decimals, as the library does for its `multipleOf: 0.1` fields)."""
    if version == "1.6":
        validator = get_validator(2, call.action, "1.6", parse_float=decimal.Decimal)
        validator.validate(json.loads(json.dumps(call.payload), parse_float=decimal.Decimal))
    else:
        get_validator(2, call.action, version).validate(call.payload)


def evse(evse_id: str, control: Control, fs_id: str | None = "fs-1", until: Any = HOUR) -> Command:
    """A command on an EVSE, valid for `until` from NOW (None: open-ended)."""
    end = None if until is None else NOW + until
    return Command(ControlTarget(ControlLevel.EVSE, evse_id), control, fs_id, end)


def site(control: Control, site_id: str = "S1", until: Any = HOUR) -> Command:
    """A command on a site's connection."""
    end = None if until is None else NOW + until
    return Command(ControlTarget(ControlLevel.SITE, site_id), control, "fs-site", end)


def planned(
    commands: list[Command], limits: StationLimits, ledger: ProfileLedger | None = None
) -> list[OcppCall]:
    """The calls, schema-checked, asserting there was no refusal."""
    calls = plan_calls(ledger or ProfileLedger(), commands, EVSES, limits, NOW)
    assert not isinstance(calls, Refusal), calls
    for call in calls:
        assert_schema_valid(call, limits.version)
    return calls


def periods(call: OcppCall) -> list[dict[str, Any]]:
    """The schedule periods of a SetChargingProfile of any version."""
    if "csChargingProfiles" in call.payload:
        result: list[dict[str, Any]] = call.payload["csChargingProfiles"]["chargingSchedule"][
            "chargingSchedulePeriod"
        ]
        return result
    schedule = call.payload["chargingProfile"]["chargingSchedule"][0]
    return list(schedule["chargingSchedulePeriod"])


def test_a_2_0_1_limit_is_a_tx_default_profile_on_its_evse_in_watts() -> None:
    (call,) = planned([evse("NL*ABC*E1*2", LimitCommand(7_400.0, None))], StationLimits("2.0.1"))
    assert call.action == "SetChargingProfile"
    assert call.evse_id == "NL*ABC*E1*2"
    profile = call.payload["chargingProfile"]
    assert call.payload["evseId"] == 2
    assert profile["chargingProfilePurpose"] == "TxDefaultProfile"
    assert profile["validFrom"] == "2026-12-06T10:00:00Z"
    assert profile["validTo"] == "2026-12-06T11:00:00Z"
    assert profile["chargingSchedule"][0]["chargingRateUnit"] == "W"
    assert periods(call) == [{"startPeriod": 0, "limit": 7400.0}]


def test_a_site_limit_is_the_station_maximum_on_evse_0() -> None:
    cases: tuple[tuple[OcppVersion, str, str], ...] = (
        ("2.0.1", "ChargingStationMaxProfile", "evseId"),
        ("2.1", "ChargingStationMaxProfile", "evseId"),
        ("1.6", "ChargePointMaxProfile", "connectorId"),
    )
    for version, purpose, key in cases:
        (call,) = planned([site(LimitCommand(40_000.0, None))], StationLimits(version))
        body = call.payload.get("chargingProfile") or call.payload["csChargingProfiles"]
        assert (call.payload[key], body["chargingProfilePurpose"]) == (0, purpose)
        assert call.evse_id is None


def test_amperes_per_phase_when_the_station_takes_no_watts() -> None:
    limits = StationLimits("1.6", rate_units=("A",), phases=3, voltage_v=230.0)
    (call,) = planned([evse("NL*ABC*E1*1", LimitCommand(11_000.0, None))], limits)
    schedule = call.payload["csChargingProfiles"]["chargingSchedule"]
    assert schedule["chargingRateUnit"] == "A"
    # 11 kW / (3 x 230 V) = 15.94 A, rounded down (a cap is never exceeded by rounding).
    assert periods(call) == [{"startPeriod": 0, "limit": 15.9, "numberPhases": 3}]


def test_controls_of_several_fs_on_one_evse_compose_into_one_profile() -> None:
    commands = [
        evse("NL*ABC*E1*1", LimitCommand(11_000.0, None), "fs-cap", HOUR),
        evse("NL*ABC*E1*1", SetpointCommand(7_000.0), "fs-set", HOUR / 2),
    ]
    (call,) = planned(commands, StationLimits("2.0.1"))
    assert periods(call) == [
        {"startPeriod": 0, "limit": 7000.0},
        {"startPeriod": 1800, "limit": 11000.0},
    ]
    (v21,) = planned(commands, StationLimits("2.1", v2x=True))
    assert periods(v21)[0] == {
        "startPeriod": 0,
        "limit": 11000.0,
        "operationMode": "CentralSetpoint",
        "setpoint": 7000.0,
    }


def test_what_1_6_and_2_0_1_cannot_do_is_refused() -> None:
    asks: list[Control] = [
        SetpointCommand(-3_000.0),
        SetpointCommand(3_000.0, 500.0),
        DroopCommand(50.0, 0.02, 5.0, -3_000.0, 7_000.0),
        FfrCommand(49.7, -5_000.0, 1.0, 30.0),
    ]
    versions: tuple[OcppVersion, ...] = ("1.6", "2.0.1")
    for version in versions:
        for ask in asks:
            refusal = plan_calls(
                ProfileLedger(), [evse("NL*ABC*E1*1", ask)], EVSES, StationLimits(version), NOW
            )
            assert isinstance(refusal, Refusal)
            assert refusal.reason.startswith("NOT_CAPABLE"), refusal
    no_v2x = StationLimits("2.1")
    refusal = plan_calls(ProfileLedger(), [evse("NL*ABC*E1*1", asks[0])], EVSES, no_v2x, NOW)
    assert isinstance(refusal, Refusal)
    unknown = plan_calls(
        ProfileLedger(), [evse("XX", LimitCommand(1.0))], EVSES, StationLimits("2.1"), NOW
    )
    assert isinstance(unknown, Refusal)
    assert unknown.reason.startswith("UNKNOWN_EVSE")


def test_2_1_droop_is_a_der_control_and_ffr_a_local_frequency_curve() -> None:
    limits = StationLimits("2.1", v2x=True, der=True)
    calls = planned(
        [
            evse("NL*ABC*E1*1", FfrCommand(49.7, -5_000.0, 1.0, 30.0)),
            evse("NL*ABC*E1*2", DroopCommand(50.0, 0.02, 5.0, -3_000.0, 7_000.0)),
        ],
        limits,
    )
    actions = [c.action for c in calls]
    assert actions == ["SetChargingProfile", "SetChargingProfile", "SetDERControl"]
    (ffr,) = periods(calls[0])
    assert ffr["operationMode"] == "LocalFrequency"
    assert ffr["v2xFreqWattCurve"][0] == {"frequency": 49.7, "power": -5000.0}
    assert periods(calls[1]) == [{"startPeriod": 0, "limit": 7000.0, "dischargeLimit": -3000.0}]
    droop = calls[2].payload["freqDroop"]
    assert (droop["overFreq"], droop["underFreq"], droop["overDroop"]) == (50.02, 49.98, 0.05)
    # Without DER control, a V2X station runs the droop as a local frequency-watt curve.
    (local,) = planned(
        [evse("NL*ABC*E1*2", DroopCommand(50.0, 0.02, 5.0, -3_000.0, 7_000.0))],
        StationLimits("2.1", v2x=True),
    )
    assert periods(local)[0]["operationMode"] == "LocalFrequency"


def test_every_ffr_level_and_an_ordered_curve_reach_a_2_1_station() -> None:
    """FFR with two trigger levels is one staircase curve (the deeper level takes over below
    its frequency); a droop that orders its own frequency-watt curve (deadband and knees) runs
    as that curve, not as FreqDroop; asymmetric droop settings keep their under side; the
    timing OCPP has no field for travels in customData. The ledger keeps the curves."""
    limits = StationLimits("2.1", v2x=True, der=True)
    ffr = FfrCommand(
        49.7,
        -10_000.0,
        1.0,
        30.0,
        levels=((49.7, -10_000.0, 1.0), (49.5, -20_000.0, 0.5)),
        detection_delay_s=0.1,
        deactivation_ramp_s=5.0,
        latched=False,
    )
    dc_curve = ((49.5, -8_000.0), (49.8, -640.0), (49.985, 0.0), (50.015, 0.0), (50.5, 8_000.0))
    droop = DroopCommand(50.0, 0.015, 0.0, -8_000.0, 8_000.0, curve=dc_curve)
    ledger = ProfileLedger()
    calls = planned([evse("NL*ABC*E1*1", ffr), evse("NL*ABC*E1*2", droop, "fs-2")], limits, ledger)
    assert [c.action for c in calls] == ["SetChargingProfile", "SetChargingProfile"]
    assert check_calls(ledger, calls, limits, NOW) == []
    (staircase,) = periods(calls[0])
    assert [(p["frequency"], p["power"]) for p in staircase["v2xFreqWattCurve"]] == [
        (49.5, -20_000.0),
        (49.51, -10_000.0),
        (49.7, -10_000.0),
        (49.71, 0.0),
    ]
    assert staircase["customData"] | {"vendorId": "org.fcsbe"} == staircase["customData"]
    assert staircase["customData"]["detectionDelay"] == 0.1
    assert staircase["customData"]["deactivationRamp"] == 5.0
    assert staircase["customData"]["latched"] is False
    (local,) = periods(calls[1])
    assert local["operationMode"] == "LocalFrequency"
    assert [(p["frequency"], p["power"]) for p in local["v2xFreqWattCurve"]] == list(dc_curve)
    for call in calls:
        ledger.confirm(call)
    again = ProfileLedger.from_json(ledger.to_json())
    assert again == ledger
    assert [c.payload for c in resend_calls(again, limits, NOW)] == [c.payload for c in calls]
    asymmetric = DroopCommand(
        50.0, 0.02, 5.0, -3_000.0, 7_000.0, deadband_under_hz=0.05, droop_under_pct=2.0
    )
    *_, der = planned([evse("NL*ABC*E1*2", asymmetric)], limits)
    body = der.payload["freqDroop"]
    assert (body["overFreq"], body["underFreq"]) == (50.02, 49.95)
    assert (body["overDroop"], body["underDroop"]) == (0.05, 0.02)


def test_ids_are_stable_and_a_clear_removes_the_profile_by_id() -> None:
    limits = StationLimits("2.0.1")
    ledger = ProfileLedger()
    (first,) = planned([evse("NL*ABC*E1*1", LimitCommand(5_000.0, None))], limits, ledger)
    ledger.confirm(first)
    (second,) = planned([evse("NL*ABC*E1*1", LimitCommand(6_000.0, None))], limits, ledger)
    body = first.payload["chargingProfile"]
    assert second.payload["chargingProfile"]["id"] == body["id"]
    ledger.confirm(second)
    (clear,) = planned([evse("NL*ABC*E1*1", ClearCommand(), "fs-1", None)], limits, ledger)
    assert (clear.action, clear.payload) == (
        "ClearChargingProfile",
        {"chargingProfileId": body["id"]},
    )
    ledger.confirm(clear)
    assert not ledger.profiles


def test_stack_levels_avoid_the_stations_own_profiles_and_refuse_when_none_is_left() -> None:
    limits = StationLimits("2.0.1", max_stack_level=2)
    ledger = ProfileLedger()
    for level in (2, 1):
        ledger.note_external(ExternalProfile(900 + level, 1, "TxDefaultProfile", level))
    (call,) = planned([evse("NL*ABC*E1*1", LimitCommand(5_000.0, None))], limits, ledger)
    assert call.payload["chargingProfile"]["stackLevel"] == 0
    ledger.note_external(ExternalProfile(900, 1, "TxDefaultProfile", 0))
    refusal = plan_calls(ledger, [evse("NL*ABC*E1*1", LimitCommand(5_000.0))], EVSES, limits, NOW)
    assert isinstance(refusal, Refusal)
    assert "stack level" in refusal.reason


def test_a_station_full_of_profiles_refuses_with_the_reason() -> None:
    limits = StationLimits("2.0.1", max_profiles=2)
    commands = [evse(e, LimitCommand(5_000.0, None)) for e in EVSES]
    refusal = plan_calls(ProfileLedger(), commands, EVSES, limits, NOW)
    assert isinstance(refusal, Refusal)
    assert "at most 2" in refusal.reason


def test_periods_beyond_what_the_station_takes_merge_into_the_strictest_cap() -> None:
    limits = StationLimits("2.0.1", periods_per_schedule=1)
    commands = [
        evse("NL*ABC*E1*1", LimitCommand(11_000.0, None), "a", HOUR),
        evse("NL*ABC*E1*1", SetpointCommand(4_000.0), "b", HOUR / 4),
    ]
    (call,) = planned(commands, limits)
    assert periods(call) == [{"startPeriod": 0, "limit": 4000.0}]
    assert call.payload["chargingProfile"]["validTo"] == "2026-12-06T11:00:00Z"


def test_a_reconnect_resends_what_is_still_in_force_with_the_same_ids() -> None:
    limits = StationLimits("2.1", v2x=True, der=True)
    ledger = ProfileLedger()
    calls = planned(
        [
            evse("NL*ABC*E1*1", SetpointCommand(-2_000.0), "a", HOUR / 2),
            evse("NL*ABC*E1*2", DroopCommand(50.0, 0.0, 4.0, -3_000.0, 7_000.0), "b", HOUR),
            site(LimitCommand(30_000.0, 10_000.0), until=HOUR),
        ],
        limits,
        ledger,
    )
    for call in calls:
        ledger.confirm(call)
    ledger = ProfileLedger.from_json(ledger.to_json())
    later = NOW + HOUR * 3 / 4
    again = resend_calls(ledger, limits, later)
    assert [c.action for c in again] == [
        "SetChargingProfile",
        "SetChargingProfile",
        "SetDERControl",
    ]

    def ids(calls: list[OcppCall]) -> set[int]:
        return {
            c.payload["chargingProfile"]["id"]
            for c in calls
            if c.action == "SetChargingProfile" and c.evse_id != "NL*ABC*E1*1"
        }

    assert ids(again) == ids(calls)
    assert len(ids(again)) == 2
    assert resend_calls(ledger, limits, NOW + 2 * HOUR) == []


def test_the_ledger_and_the_limits_round_trip_through_json() -> None:
    limits = StationLimits("2.1", rate_units=("A",), max_stack_level=3, v2x=True, der=True)
    assert StationLimits.from_json(json.loads(json.dumps(limits.to_json()))) == limits
    ledger = ProfileLedger()
    ledger.note_external(ExternalProfile(5, 0, "ChargingStationMaxProfile", 0, NOW + HOUR))
    for call in planned(
        [
            evse("NL*ABC*E1*1", SetpointCommand(-2_000.0, 300.0), "a", HOUR),
            evse("NL*ABC*E1*2", DroopCommand(50.0, 0.02, 4.0, -3_000.0, 7_000.0), "b", None),
        ],
        limits,
        ledger,
    ):
        ledger.confirm(call)
    text = ledger.to_json()
    again = ProfileLedger.from_json(text)
    assert again == ledger
    assert again.to_json() == text
    assert ProfileLedger.from_json("") == ProfileLedger()


def test_a_call_rebuilt_from_its_payload_is_still_recorded() -> None:
    limits = StationLimits("1.6")
    ledger = ProfileLedger()
    (call,) = planned([evse("NL*ABC*E1*3", LimitCommand(5_000.0, None))], limits)
    ledger.confirm(OcppCall(call.action, call.payload, call.evse_id))
    (record,) = ledger.profiles.values()
    assert (record.evse, record.purpose, record.valid_to) == (3, "TxDefaultProfile", NOW + HOUR)
    (clear,) = planned([evse("NL*ABC*E1*3", ClearCommand(), "fs-1", None)], limits, ledger)
    ledger.confirm(OcppCall(clear.action, clear.payload, clear.evse_id))
    assert ledger.profiles == {}


def test_on_1_6_connectors_take_different_stack_levels() -> None:
    commands = [evse(e, LimitCommand(5_000.0, None)) for e in ("NL*ABC*E1*1", "NL*ABC*E1*2")]
    levels = {
        version: [
            c.payload.get("chargingProfile", c.payload.get("csChargingProfiles"))["stackLevel"]
            for c in planned(commands, StationLimits(version))
        ]
        for version in ("1.6", "2.0.1")
    }
    # 1.6 replaces a profile with the same stackLevel and purpose on any connector.
    assert levels == {"1.6": [8, 7], "2.0.1": [8, 8]}


def test_merged_periods_turn_differing_setpoints_into_caps() -> None:
    limits = StationLimits("2.1", v2x=True, periods_per_schedule=1)
    commands = [
        evse("NL*ABC*E1*1", LimitCommand(11_000.0, 2_000.0), "a", HOUR),
        evse("NL*ABC*E1*1", SetpointCommand(4_000.0), "b", HOUR / 4),
    ]
    (call,) = planned(commands, limits)
    assert periods(call) == [{"startPeriod": 0, "limit": 4000.0, "dischargeLimit": -2000.0}]


def test_each_command_of_a_batch_can_be_answered_on_its_own() -> None:
    limits = StationLimits("2.0.1")
    batch = [
        evse("NL*ABC*E1*1", LimitCommand(5_000.0, None)),
        evse("NL*ABC*E1*2", FfrCommand(49.7, -5_000.0, 1.0, 30.0)),
        evse("XX", LimitCommand(5_000.0, None)),
    ]
    answers = [refusal_of(c, EVSES, limits) for c in batch]
    assert answers[0] is None
    assert answers[1] is not None
    assert answers[1].reason.startswith("NOT_CAPABLE")
    assert answers[2] is not None
    assert answers[2].reason.startswith("UNKNOWN_EVSE")
    whole = plan_calls(ProfileLedger(), batch, EVSES, limits, NOW)
    assert whole == answers[1]
