"""Simulated chargers against a tiny ocpp-library CSMS, over real WebSockets, per OCPP version.

boot -> status -> transaction -> charging needs -> a profile applied to the simulated EVSE ->
meter values -> clear; a profile the station refuses; a reset (re-boot, profiles gone, new
transactions); a dropped connection (reconnect, queued transaction messages delivered); HTTP
Basic auth and a refused handshake.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from fcsbe.chargers import ChargerFleet
from fcsbe.sim import DroopControl, LimitControl, SetpointControl, SimOptions
from fcsbe.sim.scenarios import uc_1_7_onboard_inverter
from tests.chargers.csms import TinyCsms, eventually

VERSIONS = ("2.1", "2.0.1", "1.6")
STATION = "CS-0000001"
EVSE = "DE*FCS*E0000001*1"


async def _started(csms: TinyCsms, version: str, **kw: Any) -> ChargerFleet:
    fleet = ChargerFleet(
        uc_1_7_onboard_inverter(),
        csms.url,
        version=version,  # type: ignore[arg-type]
        options=SimOptions(meter_resolution_s=10),
        max_backoff_s=0.2,
        **kw,
    )
    await fleet.start()
    await fleet.wait_connected(5)
    return fleet


@pytest.fixture(params=VERSIONS)
async def pair(request: pytest.FixtureRequest) -> AsyncIterator[tuple[TinyCsms, ChargerFleet]]:
    version = str(request.param)
    async with TinyCsms(version) as csms:
        fleet = await _started(csms, version)
        try:
            yield csms, fleet
        finally:
            await fleet.stop()


def _profile(version: str, profile_id: int, stack: int, limit_w: float, **extra: Any) -> Any:
    period: dict[str, Any] = {"start_period": 0, "limit": float(limit_w)}  # 1.6: a Decimal
    if version == "1.6":
        return {
            "connector_id": 1,
            "cs_charging_profiles": {
                "charging_profile_id": profile_id,
                "stack_level": stack,
                "charging_profile_purpose": extra.get("purpose", "TxProfile"),
                "charging_profile_kind": "Relative",
                "charging_schedule": {
                    "charging_rate_unit": "W",
                    "charging_schedule_period": [period],
                },
            },
        }
    return {
        "evse_id": 1,
        "charging_profile": {
            "id": profile_id,
            "stack_level": stack,
            "charging_profile_purpose": extra.get("purpose", "TxProfile"),
            "charging_profile_kind": "Relative",
            "charging_schedule": [
                {"id": 1, "charging_rate_unit": "W", "charging_schedule_period": [period]}
            ],
        },
    }


async def test_boot_status_transaction_profile_meter_values_clear(
    pair: tuple[TinyCsms, ChargerFleet],
) -> None:
    csms, fleet = pair
    version = fleet.version
    boot = csms.messages("BootNotification")
    assert len(boot) == 1
    await csms.wait_for("StatusNotification", 2)
    if version == "1.6":
        starts = await csms.wait_for("StartTransaction", 2)
        assert {s["connector_id"] for s in starts} == {1, 2}
    else:
        events = await csms.wait_for("TransactionEvent", 2)
        assert {e["event_type"] for e in events} == {"Started"}
        assert {e["evse"]["id"] for e in events} == {1, 2}
        await csms.wait_for("NotifyEVChargingNeeds", 2)
    await fleet.wait_idle()

    answer = await csms.call(STATION, "SetChargingProfile", **_profile(version, 7, 1, 3_000))
    assert answer.status == "Accepted"
    state = fleet.sim.evse_state(EVSE)
    assert [c for c in state.controls if isinstance(c, LimitControl)] == [
        LimitControl(max_import_w=3_000.0, max_export_w=None)
    ]
    fleet.clock.advance(30)  # type: ignore[attr-defined]
    fleet.tick()
    values = await csms.wait_for("MeterValues", 2)
    assert fleet.sim.evse_state(EVSE).p_w <= 3_000 + 1e-6
    sampled = values[0]["meter_value"][0]["sampled_value"]
    assert any(s["measurand"] == "Energy.Active.Import.Register" for s in sampled)

    kwargs = {"id": 7} if version == "1.6" else {"charging_profile_id": 7}
    assert (await csms.call(STATION, "ClearChargingProfile", **kwargs)).status == "Accepted"
    assert fleet.sim.evse_state(EVSE).controls == ()
    assert (await csms.call(STATION, "ClearChargingProfile", **kwargs)).status == "Unknown"


async def test_a_profile_breaking_the_rules_is_rejected(
    pair: tuple[TinyCsms, ChargerFleet],
) -> None:
    csms, fleet = pair
    version = fleet.version
    await fleet.wait_idle()
    assert (
        await csms.call(STATION, "SetChargingProfile", **_profile(version, 1, 2, 5_000))
    ).status == "Accepted"
    # Same stack level, purpose and EVSE, another id: 2.x refuses, 1.6 replaces.
    answer = await csms.call(STATION, "SetChargingProfile", **_profile(version, 2, 2, 4_000))
    if version == "1.6":
        assert answer.status == "Accepted"
        assert [p.id for p in fleet.stations[STATION].store.profiles] == [2]
    else:
        assert answer.status == "Rejected"
        assert answer.status_info["reason_code"] == "DuplicateProfile"
    too_high = _profile(version, 3, 99, 4_000)
    assert (await csms.call(STATION, "SetChargingProfile", **too_high)).status == "Rejected"


async def test_reset_reboots_without_profiles_and_restarts_transactions(
    pair: tuple[TinyCsms, ChargerFleet],
) -> None:
    csms, fleet = pair
    version = fleet.version
    await fleet.wait_idle()
    assert (
        await csms.call(STATION, "SetChargingProfile", **_profile(version, 1, 1, 5_000))
    ).status == "Accepted"
    reset = {"type": "Hard"} if version == "1.6" else {"type": "Immediate"}
    assert (await csms.call(STATION, "Reset", **reset)).status == "Accepted"
    boots = await csms.wait_for("BootNotification", 2)
    if version != "1.6":
        assert boots[-1]["reason"] == "RemoteReset"
        await csms.wait_for("TransactionEvent", 6)  # 2 started, 2 ended, 2 started again
        kinds = [e["event_type"] for e in csms.messages("TransactionEvent")]
        assert kinds.count("Ended") == 2
        assert kinds.count("Started") == 4
    else:
        await csms.wait_for("StopTransaction", 2)
        await csms.wait_for("StartTransaction", 4)
    assert len(fleet.stations[STATION].store) == 0
    assert fleet.sim.evse_state(EVSE).controls == ()


async def test_a_power_cut_ends_transactions_and_forgets_profiles(
    pair: tuple[TinyCsms, ChargerFleet],
) -> None:
    csms, fleet = pair
    version = fleet.version
    await fleet.wait_idle()
    first = await csms.call(STATION, "SetChargingProfile", **_profile(version, 1, 1, 5_000))
    assert first.status == "Accepted"
    fleet.power_cycle(STATION)
    boots = await csms.wait_for("BootNotification", 2)
    assert len(fleet.stations[STATION].store) == 0
    if version == "1.6":
        stops = await csms.wait_for("StopTransaction", 2)
        assert {s["reason"] for s in stops} == {"PowerLoss"}
    else:
        assert boots[-1]["reason"] == "PowerUp"
        await csms.wait_for("TransactionEvent", 6)
        ended = [e for e in csms.messages("TransactionEvent") if e["event_type"] == "Ended"]
        assert {e["transaction_info"]["stopped_reason"] for e in ended} == {"PowerLoss"}


async def test_a_dropped_connection_reconnects_and_delivers_what_was_queued(
    pair: tuple[TinyCsms, ChargerFleet],
) -> None:
    csms, fleet = pair
    await fleet.wait_idle()
    await csms.drop(STATION)
    link = fleet.links[STATION]
    await eventually(lambda: not link.connected.is_set())
    fleet.clock.advance(20)  # type: ignore[attr-defined]
    fleet.tick()  # meter values while offline are kept
    await csms.wait_for("BootNotification", 2)
    await fleet.wait_connected()
    values = await csms.wait_for("MeterValues", 2)
    assert len(values) >= 2
    assert link.connections == 2


async def test_basic_auth_and_a_refused_handshake() -> None:
    async with TinyCsms("2.1", passwords={STATION: "s3cret"}) as csms:
        fleet = await _started(csms, "2.1", passwords={STATION: "s3cret"})
        await fleet.stop()
        assert csms.refused == 0
        wrong = ChargerFleet(
            uc_1_7_onboard_inverter(), csms.url, password="nope", max_backoff_s=0.05
        )
        await wrong.start()
        link = wrong.links[STATION]
        await eventually(lambda: sum(link.refusals.values()) >= 2)
        await wrong.stop()
        assert link.refusals[401] >= 2
        assert not link.connected.is_set()


async def test_2_1_capabilities_setpoints_der_control_and_alarms() -> None:
    async with TinyCsms("2.1") as csms:
        fleet = await _started(csms, "2.1")
        try:
            await fleet.wait_idle()
            asked = [
                {"component": {"name": "SmartChargingCtrlr"}, "variable": {"name": name}}
                for name in ("Entries", "ProfileStackLevel", "RateUnit", "Nope")
            ] + [
                {"component": {"name": "V2XChargingCtrlr"}, "variable": {"name": "Enabled"}},
                {"component": {"name": "Unknown"}, "variable": {"name": "Enabled"}},
            ]
            answer = await csms.call(STATION, "GetVariables", get_variable_data=asked)
            got = [
                (r["attribute_status"], r.get("attribute_value"))
                for r in answer.get_variable_result
            ]
            assert got == [
                ("Accepted", "20"),
                ("Accepted", "8"),
                ("Accepted", "A,W"),
                ("UnknownVariable", None),
                ("Accepted", "true"),
                ("UnknownComponent", None),
            ]
            needs = csms.messages("NotifyEVChargingNeeds")
            modes = {n["charging_needs"]["requested_energy_transfer"] for n in needs}
            assert modes == {"AC_BPT_DER", "AC_three_phase"}  # uc-1.7: one EV with an inverter
            setpoint = {
                "start_period": 0,
                "operation_mode": "CentralSetpoint",
                "setpoint": -4_000.0,
                "limit": 11_000.0,
                "discharge_limit": -11_000.0,
            }
            payload = _profile("2.1", 9, 0, 0)
            payload["charging_profile"]["charging_schedule"][0]["charging_schedule_period"] = [
                setpoint
            ]
            assert (await csms.call(STATION, "SetChargingProfile", **payload)).status == "Accepted"
            assert SetpointControl(p_w=-4_000.0) in fleet.sim.evse_state(EVSE).controls
            droop = {
                "priority": 1,
                "over_freq": 50.2,
                "under_freq": 49.8,
                "over_droop": 0.05,  # per unit: a 5 % droop
                "under_droop": 0.05,
                "response_time": 1.0,
            }
            answer = await csms.call(
                STATION,
                "SetDERControl",
                is_default=False,
                control_id="droop-1",
                control_type="FreqDroop",
                freq_droop=droop,
            )
            assert answer.status == "Accepted"
            assert any(isinstance(c, DroopControl) for c in fleet.sim.evse_state(EVSE).controls)
            cleared = await csms.call(
                STATION, "ClearDERControl", is_default=False, control_id="droop-1"
            )
            assert cleared.status == "Accepted"
            assert not any(isinstance(c, DroopControl) for c in fleet.sim.evse_state(EVSE).controls)
            fleet.sim.raise_der_alarm("SITE-AC-V2G", "OverVoltage", evse_id=EVSE)
            fleet.tick()
            (alarm,) = await csms.wait_for("NotifyDERAlarm")
            assert alarm["grid_event_fault"] == "OverVoltage"
            assert alarm["alarm_ended"] is False
            trigger = await csms.call(
                STATION, "TriggerMessage", requested_message="StatusNotification"
            )
            assert trigger.status == "Accepted"
            await csms.wait_for("StatusNotification", 4)
        finally:
            await fleet.stop()
