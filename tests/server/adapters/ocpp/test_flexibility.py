"""Flexibility services reach OCPP stations: an FS accepted through the real client becomes a
SetChargingProfile at the charge point; a station's refusal becomes an FS deviation the
aggregator sees; a reconnected station gets its profiles again; a silent one times out."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import httpx
import pytest
from ocpp.v201 import call as call201

from fcsbe.client import FcsbeClient, RetryPolicy
from fcsbe.model import FlexibilityServiceRequest, FsState, Quantity
from fcsbe.server.adapters.base import Command, ControlLevel, ControlTarget, LimitCommand
from fcsbe.server.notifications.sequencer import assign_sequence
from fcsbe.server.services.flexibility_services.decision_batch import decide_pending
from fcsbe.server.services.flexibility_services.execution import execute_step
from fcsbe.server.services.flexibility_services.telemetry import telemetry_step
from fcsbe.server.storage.base import utcnow
from tests.server.adapters.ocpp.conftest import (
    EVSE_ID,
    SITE_ID,
    Received,
    Served,
    Station,
    now_text,
    settle,
    station,
)
from tests.support.factories import make_contract, make_fo
from tests.support.fs_fixtures import request_body


async def _no_sleep(_seconds: float) -> None:
    return None


@dataclass
class Plugged:
    """A booted 2.0.1 station with an EV charging, and an FO with a contract on its site."""

    served: Served
    station: Station
    fo: FcsbeClient


async def _start_transaction(s: Station, tx_id: str, token: str) -> None:
    """An EV plugged in at EVSE 1: TransactionEvent Started with its ID token."""
    await s.cp.call(
        call201.TransactionEvent(
            event_type="Started",
            timestamp=now_text(),
            trigger_reason="CablePluggedIn",
            seq_no=0,
            transaction_info={"transaction_id": tx_id},
            evse={"id": 1, "connector_id": 1},
            id_token={"id_token": token, "type": "ISO14443"},
        )
    )


async def _boot_and_plug(served: Served, seen: Received | None = None) -> Station:
    s = await station(served, seen=seen)
    await s.cp.call(
        call201.BootNotification(
            charging_station={"model": "Wallbox", "vendor_name": "ACME"}, reason="PowerUp"
        )
    )
    await s.cp.call(
        call201.StatusNotification(
            timestamp=now_text(), connector_status="Occupied", evse_id=1, connector_id=1
        )
    )
    await _start_transaction(s, "tx-7", "RFID-7")
    await s.cp.call(
        call201.NotifyEVChargingNeeds(
            evse_id=1,
            charging_needs={
                "requested_energy_transfer": "AC_three_phase",
                "ac_charging_parameters": {
                    "energy_amount": 30_000,
                    "ev_min_current": 6,
                    "ev_max_current": 16,
                    "ev_max_voltage": 400,
                },
            },
        )
    )
    await settle(served.adapter)
    await served.app.state.stations.sync(served.factory)
    return s


@pytest.fixture
async def plugged(served: Served) -> AsyncIterator[Plugged]:
    token = await make_fo(served.factory, "FO-OCPP")
    await make_contract(served.factory, "FO-OCPP", "fsc-ocpp", [("SITE", SITE_ID)], level="SESSION")
    s = await _boot_and_plug(served)
    transport = httpx.ASGITransport(app=served.app, raise_app_exceptions=False)
    async with FcsbeClient(
        "http://fcsbe.test", token=token, transport=transport, retry=RetryPolicy(), sleep=_no_sleep
    ) as fo:
        yield Plugged(served, s, fo)
    await s.close()


async def _start_fs(p: Plugged, fs_id: str, p_w: float) -> FsState:
    now = utcnow()
    body = request_body(
        fs_id,
        fsc_id="fsc-ocpp",
        p_w=p_w,
        targets=[("SITE", SITE_ID)],
        start_in=timedelta(seconds=60),
        duration=timedelta(minutes=10),
        minimum_acceptance_pct=1,
        now=now,
    )
    await p.fo.flexibility_services.create(FlexibilityServiceRequest.model_validate(body))
    factory, app = p.served.factory, p.served.app
    async with factory() as db:
        assert await decide_pending(db, now, app.state.keys.sign)
        await db.commit()
    async with factory() as db:
        await execute_step(db, p.served.adapter, now + timedelta(seconds=61))
        await db.commit()
    return (await p.fo.flexibility_services.get(fs_id)).state


async def test_an_fs_becomes_a_charging_profile_and_comes_back_on_reconnect(
    plugged: Plugged,
) -> None:
    sessions = [s async for s in plugged.fo.sessions.list()]
    assert [s.evse_id for s in sessions] == [EVSE_ID]
    assert await _start_fs(plugged, "fs-ocpp-1", 5_000) is FsState.ACTIVE
    (profile,) = plugged.station.seen.of("SetChargingProfile")
    assert profile["evse_id"] == 1
    schedule = profile["charging_profile"]["charging_schedule"][0]
    assert schedule["charging_schedule_period"][0]["limit"] == pytest.approx(5_000)
    assert profile["charging_profile"]["valid_to"]  # the station drops it on its own

    # the station meters what it does; the aggregator reads it (the window started at +60 s)
    at = utcnow() + timedelta(seconds=62)
    await plugged.station.cp.call(
        call201.MeterValues(
            evse_id=1,
            meter_value=[
                {
                    "timestamp": at.isoformat().replace("+00:00", "Z"),
                    "sampled_value": [
                        {"value": 4_980.0, "measurand": "Power.Active.Import"},
                        {"value": 2_500.0, "measurand": "Energy.Active.Import.Register"},
                    ],
                }
            ],
        )
    )
    async with plugged.served.factory() as db:
        await telemetry_step(db, plugged.served.adapter, at + timedelta(seconds=1))
        await db.commit()
    (series,) = await plugged.fo.flexibility_services.measurements("fs-ocpp-1", [Quantity.P_W])
    assert [p.value for p in series.points][-1] == pytest.approx(4_980.0)

    # the station goes away and comes back (no reboot): what is in force is sent again
    await plugged.station.close()
    again = await station(plugged.served)
    await again.cp.call(call201.Heartbeat())
    await settle(plugged.served.adapter)
    (resent,) = again.seen.of("SetChargingProfile")
    first, again_sent = profile["charging_profile"], resent["charging_profile"]
    # the same profile (id, stack level, end), recomposed from the time it is sent again
    for key in ("id", "stack_level", "charging_profile_purpose", "valid_to"):
        assert again_sent[key] == first[key]
    period = again_sent["charging_schedule"][0]["charging_schedule_period"][0]
    assert period["limit"] == pytest.approx(5_000)
    await again.close()


async def test_a_refused_profile_is_an_fs_deviation_the_aggregator_sees(
    plugged: Plugged,
) -> None:
    plugged.station.seen.answer = "Rejected"
    await _start_fs(plugged, "fs-ocpp-2", 6_000)
    async with plugged.served.factory() as db:
        await assign_sequence(db)
        await db.commit()
    feed = await plugged.fo.notifications.feed().to_list()
    # the plugged-in EV and the EVSE's status reached the aggregator too
    assert {"EV_CONNECTED", "AVAILABILITY_UPDATED"} <= {n.type for n in feed}
    (deviation,) = [n for n in feed if n.type == "FS_DEVIATION"]
    assert deviation.fs_id == "fs-ocpp-2"
    detail = deviation.model_dump(mode="json")["data"]["detail"]
    assert "Rejected" in detail
    assert "NoCapacity" in detail
    (refused,) = plugged.station.seen.of("SetChargingProfile")
    period = refused["charging_profile"]["charging_schedule"][0]["charging_schedule_period"][0]
    assert period["limit"] == pytest.approx(6_000)


async def test_a_station_that_does_not_answer_times_out(plugged: Plugged) -> None:
    plugged.station.seen.silent = True
    target = ControlTarget(ControlLevel.EVSE, EVSE_ID)
    (result,) = await plugged.served.adapter.apply_many(
        [Command(target, LimitCommand(max_import_w=3000))]
    )
    assert not result.accepted
    assert result.reason is not None
    assert "no answer to SetChargingProfile within 1 s" in result.reason


async def test_a_station_without_v2x_is_not_capable_of_droop(plugged: Plugged) -> None:
    await plugged.served.adapter.flush()  # what the 2.0.1 station reported is stored
    now = utcnow()
    droop = {
        "fs_type": "DROOP",
        "f_ref_hz": 50.0,
        "deadband_over_hz": 0.02,
        "deadband_under_hz": 0.02,
        "droop_over_pct": 5.0,
        "droop_under_pct": 5.0,
        "response_time_s": 1.0,
        "p_min_w": -5_000.0,
        "p_max_w": 5_000.0,
    }
    body = request_body(
        "fs-droop",
        fsc_id="fsc-ocpp",
        fs_type="DROOP",
        parameters=droop,
        targets=[("SITE", SITE_ID)],
        start_in=timedelta(seconds=60),
        minimum_acceptance_pct=1,
        now=now,
    )
    await plugged.fo.flexibility_services.create(FlexibilityServiceRequest.model_validate(body))
    async with plugged.served.factory() as db:
        assert await decide_pending(db, now, plugged.served.app.state.keys.sign)
        await db.commit()
    fs = await plugged.fo.flexibility_services.get("fs-droop")
    assert fs.state is FsState.REJECTED
    assert fs.response is not None
    reasons = {(r.code.value, r.detail) for r in fs.response.reasons}
    assert (
        "NOT_CAPABLE",
        "the station speaks OCPP 2.0.1 (and no DER control): no local droop",
    ) in (reasons)


async def test_a_new_transaction_on_an_evse_replaces_the_older_one(served: Served) -> None:
    """One transaction per EVSE: a station that starts another one (its Ended was lost, or it
    started the EV's transaction twice) leaves one session, and the charging needs it sends
    next belong to the new transaction."""
    s = await _boot_and_plug(served)
    await _start_transaction(s, "tx-8", "RFID-8")
    await s.cp.call(
        call201.NotifyEVChargingNeeds(
            evse_id=1,
            charging_needs={
                "requested_energy_transfer": "AC_single_phase",
                "departure_time": "2030-01-01T00:00:00Z",
            },
        )
    )
    await settle(served.adapter)
    sessions = await served.adapter.sessions()
    assert [(x.session_key.split(":")[-1], x.id_token) for x in sessions] == [("tx-8", "RFID-8")]
    assert sessions[0].departure_time is not None
    assert sessions[0].departure_time.year == 2030
    await s.close()
