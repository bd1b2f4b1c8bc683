"""The OCPP-J endpoint over a real WebSocket: handshake refusals, bad frames, and what each
version's station reports reaching the adapter."""

from __future__ import annotations

import json
import logging

import pytest
from ocpp.v16 import call as call16
from ocpp.v21 import call as call21
from ocpp.v201 import call as call201
from websockets.exceptions import InvalidStatus

from fcsbe.server.adapters.base import (
    Command,
    ControlLevel,
    ControlTarget,
    LimitCommand,
    SessionPreferences,
)
from fcsbe.server.adapters.ocpp.provisioning import issue_passwords
from tests.server.adapters.ocpp.conftest import (
    CS_ID,
    EVSE_ID,
    Served,
    now_text,
    settle,
    station,
)


async def _status_of(served: Served, **options: object) -> int:
    with pytest.raises(InvalidStatus) as refused:
        await served.open(**options)  # type: ignore[arg-type]
    return int(refused.value.response.status_code)


async def test_the_handshake_refuses_what_it_must(served: Served) -> None:
    assert await _status_of(served, password="") == 401
    assert await _status_of(served, password="wrong-password-123") == 401
    # an unknown station gets the same answer as a wrong password
    assert await _status_of(served, cs_id="CS-NOBODY", password="whatever-it-is-1") == 401
    assert await _status_of(served, subprotocols=["ocpp0.9"]) == 403
    ws = await served.open(subprotocols=["ocpp1.6", "ocpp2.1", "ocpp2.0.1"])
    assert ws.subprotocol == "ocpp2.1"  # the best offered
    await ws.close()

    # a station with a password that the registry does not name: refused, or Pending
    async with served.factory() as db:
        (password,) = (await issue_passwords(db, ["CS-NEW"])).values()
        await db.commit()
    assert await _status_of(served, cs_id="CS-NEW", password=password) == 401
    served.adapter.admit_unknown = True  # FCSBE_OCPP_UNKNOWN_STATIONS=pending
    ws = await served.open(cs_id="CS-NEW", password=password)
    boot = {"chargingStation": {"model": "M", "vendorName": "V"}, "reason": "PowerUp"}
    await ws.send(json.dumps([2, "b1", "BootNotification", boot]))
    answer = json.loads(await ws.recv())
    assert (answer[0], answer[2]["status"]) == (3, "Pending")
    await ws.close()


async def test_bad_frames_get_callerrors_and_the_connection_lives_on(served: Served) -> None:
    ws = await served.open()

    async def answer(frame: str) -> list[object]:
        await ws.send(frame)
        return list(json.loads(await ws.recv()))

    assert (await answer("not json"))[:3] == [4, "-1", "FormatViolation"]
    assert (await answer('{"a": 1}'))[2] == "ProtocolError"
    assert (await answer('[2, "m1", "NoSuchAction", {}]'))[:3] == [4, "m1", "NotImplemented"]
    assert (await answer('[2, "m2", "Heartbeat", {"extra": 1}]'))[:3] == [
        4,
        "m2",
        "FormatViolation",
    ]
    bad_type = '[2, "m3", "StatusNotification", {"timestamp": "%s", "connectorStatus": "Available", "evseId": "one", "connectorId": 1}]'  # noqa: E501
    assert (await answer(bad_type % now_text()))[:3] == [4, "m3", "TypeConstraintViolation"]
    assert (await answer('[2, "m4", "Heartbeat", {}]'))[:2] == [3, "m4"]
    await ws.close()

    # OCPP 1.6 names it FormationViolation
    old = await served.open(subprotocols=["ocpp1.6"])
    await old.send('[2, "m1", "Heartbeat", {"extra": 1}]')
    assert json.loads(await old.recv())[:3] == [4, "m1", "FormationViolation"]
    await old.close()

    # a frame over FCSBE_OCPP_MAX_FRAME_BYTES closes the connection (1009)
    big = await served.open()
    await big.send('[2, "m1", "Heartbeat", {"x": "' + "a" * 70_000 + '"}]')
    await big.wait_closed()
    assert big.close_code == 1009


async def test_a_2_0_1_station_boots_reports_and_takes_limits(served: Served) -> None:
    adapter = served.adapter
    s = await station(served)
    boot = await s.cp.call(
        call201.BootNotification(
            charging_station={"model": "Wallbox", "vendor_name": "ACME"}, reason="PowerUp"
        )
    )
    assert boot.status == "Accepted"
    await settle(adapter)
    limits = adapter.limits_of(CS_ID)
    assert limits is not None
    assert (limits.rate_units, limits.periods_per_schedule) == (("W",), 12)
    await s.cp.call(
        call201.StatusNotification(
            timestamp=now_text(), connector_status="Occupied", evse_id=1, connector_id=1
        )
    )
    await s.cp.call(
        call201.TransactionEvent(
            event_type="Started",
            timestamp=now_text(),
            trigger_reason="CablePluggedIn",
            seq_no=0,
            transaction_info={"transaction_id": "tx-1"},
            evse={"id": 1, "connector_id": 1},
            id_token={"id_token": "RFID-0001", "type": "ISO14443"},
            meter_value=[
                {
                    "timestamp": now_text(),
                    "sampled_value": [
                        {"value": 1234.0, "measurand": "Energy.Active.Import.Register"},
                        {
                            "value": 7.2,
                            "measurand": "Power.Active.Import",
                            "unit_of_measure": {"unit": "kW"},
                        },
                    ],
                }
            ],
        )
    )
    await s.cp.call(
        call201.NotifyEVChargingNeeds(
            evse_id=1,
            charging_needs={
                "requested_energy_transfer": "AC_three_phase",
                "departure_time": "2030-01-01T18:00:00Z",
                "ac_charging_parameters": {
                    "energy_amount": 20_000,
                    "ev_min_current": 6,
                    "ev_max_current": 16,
                    "ev_max_voltage": 400,
                },
            },
        )
    )
    events = await adapter.drain_events()
    kinds = {(e.kind, e.evse_id) for e in events}
    assert ("CAPABILITY_CHANGED", EVSE_ID) in kinds
    assert ("EVSE_STATUS_CHANGED", EVSE_ID) in kinds
    (session,) = await adapter.sessions()
    assert (session.evse_id, session.id_token, session.target_energy_wh) == (
        EVSE_ID,
        "RFID-0001",
        20_000,
    )
    assert session.departure_time is not None
    assert session.departure_time.year == 2030
    (sample,) = await adapter.drain_measurements()
    assert (sample.meter_id, sample.p_w, sample.e_import_wh) == (EVSE_ID, 7200.0, 1234.0)
    (state,) = await adapter.read_state([ControlTarget(ControlLevel.EVSE, EVSE_ID)])
    assert (state.p_w, state.max_import_w, state.connected_evs) == (7200.0, 11_000.0, 1)

    target = ControlTarget(ControlLevel.EVSE, EVSE_ID)
    (result,) = await adapter.apply_many([Command(target, LimitCommand(max_import_w=4000))])
    assert result.accepted
    (profile,) = s.seen.of("SetChargingProfile")
    schedule = profile["charging_profile"]["charging_schedule"][0]
    assert schedule["charging_rate_unit"] == "W"
    assert schedule["charging_schedule_period"][0]["limit"] == 4000
    await s.close()
    await settle(adapter)
    events = await adapter.drain_events()
    assert [(e.kind, e.data.get("status")) for e in events] == [
        ("EVSE_STATUS_CHANGED", "UNAVAILABLE")
    ]
    assert await adapter.sessions() == []


async def test_a_1_6_station_gets_limits_in_amperes(served: Served) -> None:
    adapter = served.adapter
    s = await station(served, "ocpp1.6")
    boot = await s.cp.call(
        call16.BootNotification(charge_point_vendor="ACME", charge_point_model="Old")
    )
    assert boot.status == "Accepted"
    await settle(adapter)
    limits = adapter.limits_of(CS_ID)
    assert limits is not None
    assert (limits.version, limits.rate_units) == ("1.6", ("A",))
    await s.cp.call(
        call16.StatusNotification(connector_id=1, error_code="NoError", status="Charging")
    )
    started = await s.cp.call(
        call16.StartTransaction(
            connector_id=1, id_tag="TAG-16", meter_start=500, timestamp=now_text()
        )
    )
    await s.cp.call(
        call16.MeterValues(
            connector_id=1,
            transaction_id=started.transaction_id,
            meter_value=[
                {
                    "timestamp": now_text(),
                    "sampled_value": [
                        {
                            "value": "2.5",
                            "measurand": "Energy.Active.Import.Register",
                            "unit": "kWh",
                        },
                    ],
                }
            ],
        )
    )
    (session,) = await adapter.sessions()
    assert session.id_token == "TAG-16"
    samples = await adapter.drain_measurements()
    assert samples[-1].e_import_wh == 2500.0
    target = ControlTarget(ControlLevel.EVSE, EVSE_ID)
    (result,) = await adapter.apply_many([Command(target, LimitCommand(max_import_w=6900))])
    assert result.accepted
    (profile,) = s.seen.of("SetChargingProfile")
    schedule = profile["cs_charging_profiles"]["charging_schedule"]
    assert schedule["charging_rate_unit"] == "A"
    assert schedule["charging_schedule_period"][0]["limit"] == 10.0  # 6900 W / (3 x 230 V)
    await s.cp.call(
        call16.StopTransaction(
            meter_stop=2600, timestamp=now_text(), transaction_id=started.transaction_id
        )
    )
    assert await adapter.sessions() == []
    await s.close()


async def test_a_2_1_station_reports_v2x_and_der_alarms(served: Served) -> None:
    adapter = served.adapter
    s = await station(served, "ocpp2.1")
    await s.cp.call(
        call21.BootNotification(
            charging_station={"model": "BPT", "vendor_name": "ACME"}, reason="PowerUp"
        )
    )
    await settle(adapter)
    limits = adapter.limits_of(CS_ID)
    assert limits is not None
    assert (limits.version, limits.v2x, limits.der) == ("2.1", True, True)
    await adapter.drain_events()
    await s.cp.call(
        call21.NotifyDERAlarm(
            control_type="HVMustTrip",
            timestamp=now_text(),
            grid_event_fault="OverVoltage",
            extra_info="L1 253 V",
        )
    )
    (alarm,) = await adapter.drain_events()
    await s.cp.call(
        call21.TransactionEvent(
            event_type="Started",
            timestamp=now_text(),
            trigger_reason="EVDetected",
            seq_no=0,
            transaction_info={"transaction_id": "tx-21"},
            evse={"id": 1, "connector_id": 1},
        )
    )
    await s.cp.call(
        call21.NotifyEVChargingNeeds(
            evse_id=1,
            charging_needs={
                "requested_energy_transfer": "AC_BPT_DER",
                "der_charging_parameters": {"ev_inverter_model": "onboard-bidi"},
                "v2x_charging_parameters": {
                    "max_charge_power": 11_000,
                    "max_discharge_power": 7_000,
                    "ev_target_energy_request": 30_000,
                    "ev_min_energy_request": 5_000,
                    "ev_max_energy_request": 40_000,
                },
            },
        )
    )
    (session,) = await adapter.sessions()
    assert (session.ev.bidirectional, session.ev.onboard_inverter) == (True, True)
    assert session.ev.model_id == "onboard-bidi"  # the registry's EV model: its evidence
    assert (session.ev.max_discharge_w, session.consent_v2g) == (7_000, True)
    assert (session.min_energy_wh, session.target_energy_wh) == (5_000, 30_000)
    await s.cp.call(
        call21.StatusNotification(
            timestamp=now_text(), connector_status="Occupied", evse_id=1, connector_id=1
        )
    )
    target = ControlTarget(ControlLevel.EVSE, EVSE_ID)
    (state,) = await adapter.read_state([target])
    assert state.max_export_w == 0.0  # the registry's wallbox cannot discharge
    adapter._evses[EVSE_ID].max_discharge_w = 11_000.0
    (state,) = await adapter.read_state([target])
    assert state.max_export_w == 11_000.0
    withdrawn = SessionPreferences(
        consent_v1g=True, consent_v2g=False, min_soc_at_departure_pct=0,
        soc_floor_pct=0, max_energy_to_grid_wh=None,
    )  # fmt: skip
    assert await adapter.update_session(session.session_key, withdrawn)
    (state,) = await adapter.read_state([target])
    assert state.max_export_w == 0.0  # no V2G without the EV user's consent
    assert (alarm.kind, alarm.data["code"], alarm.data["alarm_ended"]) == (
        "DER_ALARM",
        "OverVoltage",
        "false",
    )
    await s.close()


async def test_a_station_the_registry_does_not_name_waits_as_pending(served: Served) -> None:
    async with served.factory() as db:
        (password,) = (await issue_passwords(db, ["CS-NEW"])).values()
        await db.commit()
    assert await _status_of(served, cs_id="CS-NEW", password=password) == 401
    served.adapter.admit_unknown = True  # FCSBE_OCPP_UNKNOWN_STATIONS=pending
    ws = await served.open(cs_id="CS-NEW", password=password)
    boot = {"chargingStation": {"model": "M", "vendorName": "V"}, "reason": "PowerUp"}
    await ws.send(json.dumps([2, "b1", "BootNotification", boot]))
    answer = json.loads(await ws.recv())
    assert (answer[0], answer[2]["status"]) == (3, "Pending")
    await ws.close()


async def test_a_station_gone_mid_call_ends_its_connection_quietly(
    served: Served, caplog: pytest.LogCaptureFixture
) -> None:
    # The answer (and then the CALLERROR the handler falls back to) meets a closed socket: the
    # connection ends as a disconnect, with no error logged and nothing reaching the ASGI server.
    ws = await served.open()
    await ws.send('[2, "m1", "Heartbeat", {}]')
    ws.transport.abort()
    await ws.wait_closed()
    replacement = await served.open()
    await replacement.send('[2, "m2", "Heartbeat", {}]')
    assert json.loads(await replacement.recv())[:2] == [3, "m2"]
    await replacement.close()
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [], [r.getMessage() for r in errors]


async def test_message_types_the_server_does_not_know_are_answered_as_ocpp_j_2_says(
    served: Served,
) -> None:
    ws = await served.open(subprotocols=["ocpp2.1"])
    stream = {"id": 1, "pending": 0, "basetime": now_text(), "data": []}
    await ws.send(json.dumps([6, "s1", "NotifyPeriodicEventStream", stream]))  # 2.1 SEND
    await ws.send('[7, "m1", "Heartbeat", {}]')
    # the SEND is never answered: the first answer is the one to the unknown message type
    assert json.loads(await ws.recv())[:3] == [4, "m1", "MessageTypeNotSupported"]
    await ws.close()
