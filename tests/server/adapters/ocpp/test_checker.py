"""The semantic checker catches each OCPP smart-charging rule it knows: one valid call from the
planner, broken in one way per case, is reported (and the unbroken call is not)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from fcsbe.server.adapters.base import DroopCommand, FfrCommand, LimitCommand, SetpointCommand
from fcsbe.server.adapters.ocpp.checker import check_calls
from fcsbe.server.adapters.ocpp.ledger import ExternalProfile, ProfileLedger
from fcsbe.server.adapters.ocpp.profiles import OcppCall, Refusal, StationLimits, plan_calls
from tests.server.adapters.ocpp.test_profiles import EVSES, NOW, evse

V201 = StationLimits("2.0.1", max_stack_level=8, periods_per_schedule=4, max_profiles=3)
V21 = StationLimits("2.1", v2x=True, der=True)
V16 = StationLimits("1.6", rate_units=("A",))

Mutation = Callable[[dict[str, Any]], None]


def one_call(limits: StationLimits, control: Any = None) -> OcppCall:
    """A valid SetChargingProfile: a two-period schedule on EVSE 1."""
    commands = [
        evse("NL*ABC*E1*1", control or LimitCommand(11_000.0, None), "a", timedelta(hours=1)),
        evse("NL*ABC*E1*1", SetpointCommand(4_000.0), "b", timedelta(minutes=30)),
    ]
    calls = plan_calls(ProfileLedger(), commands, EVSES, limits, NOW)
    assert not isinstance(calls, Refusal)
    return calls[0]


def broken(call: OcppCall, mutate: Mutation) -> OcppCall:
    payload = copy.deepcopy(call.payload)
    mutate(payload)
    return OcppCall(call.action, payload, call.evse_id)


def profile(p: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = p.get("chargingProfile") or p["csChargingProfiles"]
    return body


def schedule(p: dict[str, Any]) -> dict[str, Any]:
    sched = profile(p)["chargingSchedule"]
    result: dict[str, Any] = sched[0] if isinstance(sched, list) else sched
    return result


def first_period(p: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = schedule(p)["chargingSchedulePeriod"][0]
    return result


CASES: list[tuple[str, StationLimits, Mutation, str]] = [
    (
        "external constraints",
        V201,
        lambda p: profile(p).update(chargingProfilePurpose="ChargingStationExternalConstraints"),
        "may not be sent by a CSMS",
    ),
    (
        "station maximum on an EVSE",
        V201,
        lambda p: profile(p).update(chargingProfilePurpose="ChargingStationMaxProfile"),
        "a station maximum goes on EVSE 0",
    ),
    (
        "TxProfile without transaction",
        V201,
        lambda p: profile(p).update(chargingProfilePurpose="TxProfile"),
        "without transactionId",
    ),
    (
        "relative station maximum",
        V201,
        lambda p: profile(p).update(
            chargingProfilePurpose="ChargingStationMaxProfile", chargingProfileKind="Relative"
        ),
        "K01.FR.38",
    ),
    ("stack level too high", V201, lambda p: profile(p).update(stackLevel=9), "outside 0..8"),
    (
        "too many periods",
        V201,
        lambda p: schedule(p).update(
            chargingSchedulePeriod=[{"startPeriod": 60 * i, "limit": 1.0} for i in range(5)]
        ),
        "the station takes 1..4",
    ),
    (
        "first period not at 0",
        V201,
        lambda p: first_period(p).update(startPeriod=5),
        "not 0",
    ),
    (
        "periods not increasing",
        V201,
        lambda p: schedule(p)["chargingSchedulePeriod"][1].update(startPeriod=0),
        "does not increase",
    ),
    (
        "unit the station does not take",
        V16,
        lambda p: schedule(p).update(chargingRateUnit="W"),
        "rate unit W",
    ),
    ("negative limit", V201, lambda p: first_period(p).update(limit=-1.0), "negative limit"),
    ("no limit before 2.1", V16, lambda p: first_period(p).pop("limit"), "no limit"),
    (
        "charging only without a limit",
        V21,
        lambda p: schedule(p).update(
            chargingSchedulePeriod=[{"startPeriod": 0, "dischargeLimit": -1000.0}]
        ),
        "a ChargingOnly period needs one",
    ),
    (
        "v2x fields before 2.1",
        V201,
        lambda p: first_period(p).update(setpoint=100.0),
        "OCPP 2.1 only",
    ),
    (
        "setpoint on a station without V2X",
        StationLimits("2.1"),
        lambda p: first_period(p).update(operationMode="CentralSetpoint", setpoint=1.0),
        "need a station with V2X",
    ),
    (
        "positive discharge limit",
        V21,
        lambda p: first_period(p).update(dischargeLimit=10.0),
        "positive dischargeLimit",
    ),
    (
        "setpoint above its limit",
        V21,
        lambda p: first_period(p).update(setpoint=99_999.0),
        "above limit",
    ),
    (
        "setpoint without its operation mode",
        V21,
        lambda p: first_period(p).pop("operationMode"),
        "needs operationMode CentralSetpoint",
    ),
    (
        "validity backwards",
        V201,
        lambda p: profile(p).update(validFrom="2026-12-06T12:00:00Z"),
        "is not before validTo",
    ),
    (
        "schedule past validTo",
        V201,
        lambda p: schedule(p).update(duration=7_200),
        "runs past the profile's validTo",
    ),
    (
        "period after the schedule's end",
        V201,
        lambda p: schedule(p).update(duration=1_000),
        "starts after the schedule",
    ),
    (
        "absolute without start",
        V201,
        lambda p: schedule(p).pop("startSchedule"),
        "needs startSchedule",
    ),
    (
        "too many phases",
        V16,
        lambda p: first_period(p).update(numberPhases=4),
        "numberPhases 4",
    ),
]


@pytest.mark.parametrize(
    ("limits", "mutate", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_each_rule_is_caught(limits: StationLimits, mutate: Mutation, expected: str) -> None:
    call = one_call(limits)
    assert check_calls(ProfileLedger(), [call], limits, NOW) == []
    problems = check_calls(ProfileLedger(), [broken(call, mutate)], limits, NOW)
    assert any(expected in p for p in problems), problems


def test_two_valid_profiles_on_one_stack_level_purpose_and_evse_collide() -> None:
    call = one_call(V201)
    ledger = ProfileLedger()
    level = profile(call.payload)["stackLevel"]
    ledger.note_external(ExternalProfile(7, 1, "TxDefaultProfile", level))
    problems = check_calls(ledger, [call], V201, NOW)
    assert any(f"stackLevel {level} of TxDefaultProfile on EVSE 1" in p for p in problems)
    # Not once the other profile's validity is over.
    ledger.external.clear()
    ledger.note_external(ExternalProfile(7, 1, "TxDefaultProfile", level, NOW))
    assert check_calls(ledger, [call], V201, NOW) == []


def test_on_1_6_a_stack_level_and_purpose_collide_across_connectors() -> None:
    call = one_call(V16)
    ledger = ProfileLedger()
    level = profile(call.payload)["stackLevel"]
    ledger.note_external(ExternalProfile(7, 2, "TxDefaultProfile", level))
    assert any("on EVSE 2" in p for p in check_calls(ledger, [call], V16, NOW))
    # On 2.x the same level on another EVSE is no collision.
    assert check_calls(ledger, [one_call(V201)], V201, NOW) == []


def test_ids_name_one_profile_and_the_station_holds_a_bounded_number() -> None:
    call = one_call(V201)
    moved = broken(call, lambda p: p.update(evseId=2))
    problems = check_calls(ProfileLedger(), [call, moved], V201, NOW)
    assert any("already names a TxDefaultProfile on EVSE 1" in p for p in problems)
    ledger = ProfileLedger()
    for n in range(3):
        ledger.note_external(ExternalProfile(n + 1, 2, "TxDefaultProfile", n))
    problems = check_calls(ledger, [call], V201, NOW)
    assert any("at most 3" in p for p in problems)


def test_clears_go_by_id_to_a_profile_the_station_holds() -> None:
    ledger = ProfileLedger()
    call = one_call(V201)
    ledger.confirm(call)
    pid = profile(call.payload)["id"]
    by_id = OcppCall("ClearChargingProfile", {"chargingProfileId": pid}, None)
    assert check_calls(ledger, [by_id], V201, NOW) == []
    by_criteria = OcppCall("ClearChargingProfile", {"chargingProfileCriteria": {"evseId": 1}}, None)
    assert any("by criteria" in p for p in check_calls(ledger, [by_criteria], V201, NOW))
    unknown = OcppCall("ClearChargingProfile", {"chargingProfileId": pid + 1}, None)
    assert any("does not hold" in p for p in check_calls(ledger, [unknown], V201, NOW))


def test_der_controls_and_actions_per_version() -> None:
    droop = DroopCommand(50.0, 0.02, 4.0, -3_000.0, 7_000.0)
    calls = plan_calls(ProfileLedger(), [evse("NL*ABC*E1*2", droop)], EVSES, V21, NOW)
    assert not isinstance(calls, Refusal)
    der = calls[-1]
    assert der.action == "SetDERControl"
    assert check_calls(ProfileLedger(), calls, V21, NOW) == []
    no_der = StationLimits("2.1", v2x=True)
    assert any("without DER control" in p for p in check_calls(None, [der], no_der, NOW))
    inverted = broken(der, lambda p: p["freqDroop"].update(overFreq=49.0))
    assert any("overFreq below underFreq" in p for p in check_calls(None, [inverted], V21, NOW))
    assert any("does not send SetDERControl" in p for p in check_calls(None, [der], V201, NOW))
    unknown = OcppCall("ClearDERControl", {"isDefault": False, "controlId": "x"}, None)
    assert any("does not hold" in p for p in check_calls(None, [unknown], V21, NOW))


def test_a_local_frequency_curve_must_rise_in_frequency() -> None:
    call = one_call(V21, FfrCommand(49.7, -5_000.0, 1.0, 30.0))
    assert check_calls(None, [call], V21, NOW) == []

    def backwards(p: dict[str, Any]) -> None:
        curve = first_period(p)["v2xFreqWattCurve"]
        curve.reverse()

    problems = check_calls(None, [broken(call, backwards)], V21, NOW)
    assert any("do not increase" in p for p in problems)
