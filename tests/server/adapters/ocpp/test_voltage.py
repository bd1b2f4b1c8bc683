"""Volt-var and volt-watt over OCPP: a droop's voltage curves become OCPP 2.1 `SetDERControl`
`VoltVar` / `VoltWatt` curves on a station with DER control (one of each per station, kept in
the ledger, sent again after a reconnect, cleared when no droop needs them); every other
station refuses them `NOT_CAPABLE` rather than taking the droop and dropping the curves. A
simulated 2.1 charger over a real WebSocket runs them against its local voltage."""

from __future__ import annotations

import copy
import uuid
from datetime import timedelta

import pytest

from fcsbe.model import FsType
from fcsbe.server.adapters.base import (
    ClearCommand,
    Command,
    ControlLevel,
    ControlTarget,
    DroopCommand,
)
from fcsbe.server.adapters.ocpp.checker import check_calls
from fcsbe.server.adapters.ocpp.ledger import ProfileLedger
from fcsbe.server.adapters.ocpp.profiles import (
    OcppCall,
    Refusal,
    StationLimits,
    plan_calls,
    resend_calls,
)
from fcsbe.server.services.flexibility_services.decision_rules import ocpp_refusal
from fcsbe.server.settings import Settings
from fcsbe.sim import DroopControl
from tests.chargers.served import ocpp_world
from tests.server.adapters.ocpp.test_profiles import EVSES, NOW, assert_schema_valid, evse

DER = StationLimits("2.1", der=True)
RATED = {1: 11_000.0, 2: 22_000.0, 3: 11_000.0}
VOLT_VAR = ((92.0, 44.0), (98.0, 0.0), (102.0, 0.0), (108.0, -44.0))
"""IEEE 1547's default shape: + inject below 98 %, absorb above 102 %."""
VOLT_WATT = ((90.0, -5_500.0), (95.0, 0.0), (105.0, 0.0), (110.0, 5_500.0))
"""W added to the import: less charging at low voltage, more at high voltage."""


def _droop(
    volt_var: tuple[tuple[float, float], ...] = VOLT_VAR,
    volt_watt: tuple[tuple[float, float], ...] = VOLT_WATT,
    scale: float = 1.0,
) -> DroopCommand:
    return DroopCommand(
        50.0,
        0.02,
        5.0,
        0.0,
        11_000.0 * scale,
        response_time_s=2.0,
        volt_var=volt_var,
        volt_watt=tuple((x, w * scale) for x, w in volt_watt),
    )


def _der(calls: list[OcppCall], control_type: str) -> OcppCall:
    (call,) = [c for c in calls if c.payload.get("controlType") == control_type]
    return call


def _cleared(calls: list[OcppCall]) -> set[str]:
    return {str(c.payload["controlId"]) for c in calls if c.action == "ClearDERControl"}


def _control_id(control_type: str) -> str:
    namespace = uuid.UUID("3b0c7a52-9d41-4c5e-8f0a-6d2e1b7c9a35")
    return str(uuid.uuid5(namespace, control_type))


def test_a_2_1_station_with_der_control_gets_volt_var_and_volt_watt_curves() -> None:
    ledger = ProfileLedger()
    commands = [evse("NL*ABC*E1*1", _droop()), evse("NL*ABC*E1*2", _droop(scale=2.0), "fs-2")]
    calls = plan_calls(ledger, commands, EVSES, DER, NOW, RATED)
    assert not isinstance(calls, Refusal), calls
    assert [c.payload.get("controlType") for c in calls if c.action == "SetDERControl"] == [
        "FreqDroop",
        "VoltVar",
        "VoltWatt",
    ]
    for call in calls:
        assert_schema_valid(call, "2.1")
    assert check_calls(ledger, calls, DER, NOW) == []
    var = _der(calls, "VoltVar").payload["curve"]
    assert var["yUnit"] == "PctMaxVar"
    # + = the EVSE injects (over-excited), as ordered: no sign change
    assert [(p["x"], p["y"]) for p in var["curveData"]] == list(VOLT_VAR)
    assert (var["priority"], var["responseTime"], var["duration"]) == (1, 2.0, 3600.0)
    assert var["startTime"] == "2026-12-06T10:00:00Z"
    watt = _der(calls, "VoltWatt").payload["curve"]
    assert watt["yUnit"] == "PctMaxW"
    # % of each EVSE's rating (11 and 22 kW: one curve), + = more output (less import)
    assert [(p["x"], p["y"]) for p in watt["curveData"]] == [
        (90.0, 50.0),
        (95.0, 0.0),
        (105.0, 0.0),
        (110.0, -50.0),
    ]
    assert watt["customData"] == {"vendorId": "org.fcsbe", "addedToBaseline": True}

    # the ledger keeps them; a reconnect sends them again with the same ids
    for call in calls:
        ledger.confirm(call)
    assert {d.control_type for d in ledger.der_controls.values()} == {
        "FreqDroop",
        "VoltVar",
        "VoltWatt",
    }
    ledger = ProfileLedger.from_json(ledger.to_json())
    again = resend_calls(ledger, DER, NOW, RATED)
    assert [c.payload for c in again] == [c.payload for c in calls]

    # a droop without curves replaces the one with: its curves are cleared, the droop stays
    plain = _droop(volt_var=(), volt_watt=())
    changed = plan_calls(
        ledger,
        [evse("NL*ABC*E1*1", plain), evse("NL*ABC*E1*2", plain, "fs-2")],
        EVSES,
        DER,
        NOW,
        RATED,
    )
    assert not isinstance(changed, Refusal)
    assert _cleared(changed) == {_control_id("VoltVar"), _control_id("VoltWatt")}
    assert check_calls(ledger, changed, DER, NOW) == []

    # clearing the EVSEs clears every DER control of ours
    gone = plan_calls(
        ledger,
        [evse(e, ClearCommand(), "fs", None) for e in ("NL*ABC*E1*1", "NL*ABC*E1*2")],
        EVSES,
        DER,
        NOW,
        RATED,
    )
    assert not isinstance(gone, Refusal)
    assert _cleared(gone) == {_control_id(t) for t in ("FreqDroop", "VoltVar", "VoltWatt")}
    assert check_calls(ledger, gone, DER, NOW) == []


def test_an_ordered_frequency_watt_curve_is_a_freq_watt_der_curve_without_v2x() -> None:
    """Without V2X there is no LocalFrequency period: the droop's own curve goes as FreqWatt
    (before, only its power range reached the station and the curve was lost)."""
    dc_curve = ((49.5, -5_500.0), (49.8, -440.0), (49.985, 0.0), (50.015, 0.0), (50.5, 5_500.0))
    droop = DroopCommand(50.0, 0.015, 0.0, -0.0, 11_000.0, response_time_s=1.0, curve=dc_curve)
    ledger = ProfileLedger()
    calls = plan_calls(ledger, [evse("NL*ABC*E1*1", droop)], EVSES, DER, NOW, RATED)
    assert not isinstance(calls, Refusal), calls
    for call in calls:
        assert_schema_valid(call, "2.1")
    assert check_calls(ledger, calls, DER, NOW) == []
    curve = _der(calls, "FreqWatt").payload["curve"]
    assert curve["yUnit"] == "PctMaxW"
    assert [(p["x"], p["y"]) for p in curve["curveData"]] == [
        (49.5, 50.0),
        (49.8, 4.0),
        (49.985, 0.0),
        (50.015, 0.0),
        (50.5, -50.0),
    ]
    assert not [c for c in calls if c.payload.get("controlType") == "FreqDroop"]
    # with V2X the same order stays a LocalFrequency period (no DER curve)
    both = StationLimits("2.1", v2x=True, der=True)
    local = plan_calls(ProfileLedger(), [evse("NL*ABC*E1*1", droop)], EVSES, both, NOW, RATED)
    assert not isinstance(local, Refusal)
    assert [c.action for c in local] == ["SetChargingProfile"]


@pytest.mark.parametrize(
    ("limits", "reason"),
    [
        (StationLimits("1.6"), "NOT_CAPABLE: droop needs OCPP 2.1"),
        (StationLimits("2.0.1"), "NOT_CAPABLE: droop needs OCPP 2.1"),
        (StationLimits("2.1", v2x=True), "NOT_CAPABLE: volt-var needs OCPP 2.1 with DER control"),
    ],
    ids=["1.6", "2.0.1", "2.1-v2x-without-der"],
)
def test_stations_that_cannot_run_voltage_curves_refuse_them(
    limits: StationLimits, reason: str
) -> None:
    refused = plan_calls(ProfileLedger(), [evse("NL*ABC*E1*1", _droop())], EVSES, limits, NOW)
    assert isinstance(refused, Refusal)
    assert refused.reason.startswith(reason), refused.reason
    watt_only = _droop(volt_var=())
    refused = plan_calls(ProfileLedger(), [evse("NL*ABC*E1*1", watt_only)], EVSES, limits, NOW)
    assert isinstance(refused, Refusal)
    assert refused.reason.startswith("NOT_CAPABLE")


def test_what_one_der_curve_cannot_carry_is_refused() -> None:
    def refused(commands: list[Command], rated: dict[int, float] | None = RATED) -> str:
        answer = plan_calls(ProfileLedger(), commands, EVSES, DER, NOW, rated)
        assert isinstance(answer, Refusal)
        return answer.reason

    long = tuple((90.0 + i, float(i)) for i in range(11))
    assert refused([evse("NL*ABC*E1*1", _droop(volt_var=long))]).startswith(
        "NOT_CAPABLE: an OCPP 2.1 DER curve holds at most 10 points"
    )
    backwards = ((98.0, 0.0), (92.0, 44.0))
    assert refused([evse("NL*ABC*E1*1", _droop(volt_var=backwards))]).startswith("INVALID_COMMAND")
    assert "rated power" in refused([evse("NL*ABC*E1*1", _droop())], None)
    other = ((92.0, 30.0), (98.0, 0.0), (102.0, 0.0), (108.0, -30.0))
    two = [evse("NL*ABC*E1*1", _droop()), evse("NL*ABC*E1*3", _droop(volt_var=other), "fs-3")]
    assert refused(two) == (
        "NOT_CAPABLE: one station runs one volt-var curve; its EVSEs were asked different "
        "volt-var curves"
    )
    # 11 kW and 22 kW EVSEs asked the same W: different percentages of their ratings
    same_w = [evse("NL*ABC*E1*1", _droop()), evse("NL*ABC*E1*2", _droop(), "fs-2")]
    assert "different volt-watt curves" in refused(same_w)


def test_the_checker_knows_the_curve_rules() -> None:
    calls = plan_calls(ProfileLedger(), [evse("NL*ABC*E1*1", _droop())], EVSES, DER, NOW, RATED)
    assert not isinstance(calls, Refusal)
    var = _der(calls, "VoltVar")

    def broken(change: dict[str, object]) -> list[str]:
        payload = copy.deepcopy(var.payload)
        payload["curve"].update(change)
        return check_calls(None, [OcppCall(var.action, payload, None)], DER, NOW)

    assert any("R04.FR.50-53" in p for p in broken({"yUnit": "PctMaxW"}))
    flat = [{"x": 100.0, "y": 0.0}, {"x": 100.0, "y": 1.0}]
    assert any("increasing" in p for p in broken({"curveData": flat}))
    two = copy.deepcopy(var.payload) | {"freqDroop": {}}
    problems = check_calls(None, [OcppCall(var.action, two, None)], DER, NOW)
    assert any("R04.FR.17" in p for p in problems)


def test_a_droop_fs_with_voltage_curves_needs_der_control_at_decision_time() -> None:
    def refusal(reported: dict[str, object], curves: bool) -> str | None:
        return ocpp_refusal(
            FsType.DROOP, "OCPP_2_1", reported, needs_export=False, voltage_curves=curves
        )

    v2x_only = {"version": "2.1", "v2x": True, "der": False}
    assert refusal(v2x_only, curves=False) is None  # the droop alone runs as LocalFrequency
    assert refusal(v2x_only, curves=True) == (
        "the station speaks OCPP 2.1 without DER control: no volt-var / volt-watt"
    )
    assert refusal({"version": "2.1", "v2x": False, "der": True}, curves=True) is None
    assert refusal({"version": "2.0.1"}, curves=True) == (
        "the station speaks OCPP 2.0.1 (and no DER control): no local droop"
    )


STATION = "CS-0000001"
SITE = "SITE-EVSS"
PLUGGED = ["DE*FCS*E0000001*1", "DE*FCS*E0000002*1"]
"""Two EVSEs of the uc-1.5 station (DC, 150 kW, 50 kvar each) with an EV charging."""


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_a_2_1_charger_runs_volt_var_and_volt_watt_and_gets_them_back(
    settings: Settings,
) -> None:
    async with ocpp_world(settings, "2.1", "uc-1.5") as world:
        adapter, sim = world.adapter, world.fleet.sim
        station = world.fleet.stations[STATION]
        limits = adapter.limits_of(STATION)
        assert limits is not None
        assert limits.der
        until = world.now + timedelta(minutes=30)
        droop = DroopCommand(
            50.0,
            0.02,
            5.0,
            0.0,
            150_000.0,
            volt_var=VOLT_VAR,
            volt_watt=tuple((x, w * 150_000.0 / 11_000.0) for x, w in VOLT_WATT),
        )
        targets = [ControlTarget(ControlLevel.EVSE, e) for e in PLUGGED]
        results = await adapter.apply_many([Command(t, droop, "fs-volt", until) for t in targets])
        assert [r.reason for r in results] == [None, None]
        assert sorted(station.der_controls.values()) == ["FreqDroop", "VoltVar", "VoltWatt"]
        assert station.der_curves == {
            "VoltVar": VOLT_VAR,
            "VoltWatt": ((90.0, 50.0), (95.0, 0.0), (105.0, 0.0), (110.0, -50.0)),
        }

        async def follows() -> None:
            sim.set_voltage(SITE, 230.0)
            await world.run(5, tick_s=5)
            before = [sim.evse_state(e).p_w for e in PLUGGED]
            assert [sim.evse_state(e).q_var for e in PLUGGED] == [0.0, 0.0]
            sim.set_voltage(SITE, 0.925 * 230.0)  # 92.5 %: 40.3 % inject, half of -75 kW
            await world.run(5, tick_s=5)
            for evse_id, p_before in zip(PLUGGED, before, strict=True):
                state = sim.evse_state(evse_id)
                assert state.q_var == pytest.approx(-44.0 * 5.5 / 6.0 / 100.0 * 50_000.0)
                assert state.p_w == pytest.approx(p_before - 37_500.0, abs=500.0)

        await follows()

        # the FreqDroop's per-unit droop: 5 % with a 20 mHz deadband, at 49.9 Hz
        # -0.08 / 50 / 0.05 of the EVSE's 150 kW
        sim.set_voltage(SITE, 230.0)
        await world.run(5, tick_s=5)
        before = [sim.evse_state(e).p_w for e in PLUGGED]
        sim.set_frequency(SITE, 49.9)
        await world.run(5, tick_s=5)
        after = [sim.evse_state(e).p_w for e in PLUGGED]
        assert [b - a for b, a in zip(before, after, strict=True)] == pytest.approx(
            [4_800.0, 4_800.0], abs=50.0
        )
        sim.set_frequency(SITE, 50.0)

        # a power cut: the station forgets them, boots again and gets them back
        world.fleet.power_cycle(STATION)
        await world.reconnected()
        assert sorted(station.der_controls.values()) == ["FreqDroop", "VoltVar", "VoltWatt"]
        await follows()

        # the FS ends: every DER control is cleared and the EVSEs stop following the voltage
        results = await adapter.apply_many([Command(t, ClearCommand(), "fs-volt") for t in targets])
        assert [r.reason for r in results] == [None, None]
        assert station.der_controls == {}
        await world.run(5, tick_s=5)
        for evse_id in PLUGGED:
            state = sim.evse_state(evse_id)
            assert not any(isinstance(c, DroopControl) for c in state.controls)
            assert state.q_var == 0.0
        assert station.refusals == []
        assert world.fleet.links[STATION].errors == {}


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_a_2_1_charger_without_v2x_runs_an_ordered_frequency_watt_curve(
    settings: Settings,
) -> None:
    async with ocpp_world(settings, "2.1", "uc-1.5") as world:
        adapter, sim = world.adapter, world.fleet.sim
        station = world.fleet.stations[STATION]
        curve = ((49.5, -75_000.0), (49.8, 0.0), (50.2, 0.0), (50.5, 15_000.0))
        droop = DroopCommand(50.0, 0.2, 0.0, 0.0, 150_000.0, curve=curve)
        until = world.now + timedelta(seconds=60)
        target = ControlTarget(ControlLevel.EVSE, PLUGGED[0])
        (result,) = await adapter.apply_many([Command(target, droop, "fs-fw", until)])
        assert result.reason is None
        assert station.der_curves == {
            "FreqWatt": ((49.5, 50.0), (49.8, 0.0), (50.2, 0.0), (50.5, -10.0))
        }
        await world.run(5, tick_s=5)
        before = sim.evse_state(PLUGGED[0]).p_w
        sim.set_frequency(SITE, 49.65)  # half-way down the curve: -37.5 kW
        await world.run(5, tick_s=5)
        assert sim.evse_state(PLUGGED[0]).p_w == pytest.approx(before - 37_500.0, abs=500.0)
        # past the command's end the station drops the control on its own (startTime +
        # duration), as it drops a profile at its validTo
        await world.run(55, tick_s=55)
        assert station.der_controls == {}
        assert not any(isinstance(c, DroopControl) for c in sim.evse_state(PLUGGED[0]).controls)
        assert station.refusals == []
