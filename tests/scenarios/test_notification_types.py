"""Scenario: every kind of notification is sent when its event happens, to the FOs whose
contracts cover the object, at their data-sharing level, and decodes typed in the client.

A real server over the simulated demo fleet (tests/scenarios/harness.py); the FOs read their
feed through the client. FO-A holds an EVSE-level contract over the depot, FO-S a SITE-level
one, FO-X one over another site only.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta

import httpx
import pytest

from fcsbe.client import FcsbeClient, RetryPolicy
from fcsbe.model import (
    AvailabilityUpdatedNotification,
    CapabilityChangedNotification,
    DerAlarmNotification,
    DeviationCause,
    FlexibilityServiceRequest,
    FsDeviationNotification,
    FsState,
    FsType,
    Notification,
    NotificationType,
    Severity,
    TargetStatus,
)
from fcsbe.server.adapters.scenario_registry import registry_of
from fcsbe.server.notifications.sequencer import assign_sequence
from fcsbe.server.settings import Settings
from tests.scenarios.harness import Harness, harness, without_arrivals
from tests.support.factories import make_fo, make_operator
from tests.support.fs_fixtures import make_contract, request_body

DEPOT = "SITE-DEPOT"


@dataclass
class Fleet:
    """The harness and the FOs' clients."""

    h: Harness
    site_fo: FcsbeClient
    other_fo: FcsbeClient

    async def feed(self, client: FcsbeClient, *types: NotificationType) -> list[Notification]:
        """The FO's feed (sequenced first, as the delivery worker does), of these types."""
        async with self.h.app.state.session_factory() as db:
            await assign_sequence(db)
            await db.commit()
        items = await client.notifications.feed().to_list()
        return [n for n in items if not types or n.type in types]


async def _client(h: Harness, token: str) -> FcsbeClient:
    transport = httpx.ASGITransport(app=h.app, raise_app_exceptions=False)
    return FcsbeClient("http://fcsbe.test", token=token, transport=transport, retry=RetryPolicy())


@asynccontextmanager
async def fleet(settings: Settings) -> AsyncIterator[Fleet]:
    async with harness(settings, contract_sites=[DEPOT], level="EVSE", fleet=without_arrivals) as h:
        factory = h.app.state.session_factory
        site_token = await make_fo(factory, "FO-S")
        await make_contract(
            factory, "FO-S", "fsc-s", targets=[("SITE", DEPOT)], level="SITE", fs_types=["DROOP"]
        )
        other_token = await make_fo(factory, "FO-X")
        await make_contract(factory, "FO-X", "fsc-x", targets=[("SITE", "SITE-HOME-1")])
        async with (
            await _client(h, site_token) as site_fo,
            await _client(h, other_token) as other_fo,
        ):
            yield Fleet(h, site_fo, other_fo)


async def test_evse_status_and_ev_departure_update_availability(settings: Settings) -> None:
    async with fleet(settings) as f:
        h = f.h
        faulted, occupied = h.evses_of(DEPOT)[0], h.evses_of(DEPOT)[1]
        kind = NotificationType.AVAILABILITY_UPDATED
        before = await f.feed(h.fo, kind)
        site_before = await f.feed(f.site_fo, kind)
        h.stations.set_evse_status(faulted, "FAULTED")
        h.stations.simulator.disconnect(occupied)
        await h.steps()
        assert await h.power_w([faulted]) == 0.0, "out of service, its EV no longer charges"

        evse_level = (await f.feed(h.fo, kind))[len(before) :]
        assert all(isinstance(n, AvailabilityUpdatedNotification) for n in evse_level)
        shown = {
            (n.target.level.value, n.target.id): n.typed_data().model_dump()["status"]
            for n in evse_level
            if n.target is not None
        }
        assert shown == {("EVSE", faulted): TargetStatus.FAULTED, ("EVSE", occupied): "AVAILABLE"}
        first = evse_level[0]
        assert isinstance(first, AvailabilityUpdatedNotification)
        assert first.data.end > first.data.start

        site_level = (await f.feed(f.site_fo, kind))[len(site_before) :]
        assert len(site_level) == 2, "once per change, at the FO's level"
        for n in site_level:
            assert n.target is not None
            assert (n.target.level.value, n.target.id) == ("SITE", DEPOT)
            assert isinstance(n, AvailabilityUpdatedNotification)
            assert n.data.status is None, "an EVSE's status is finer than a SITE contract"
        assert await f.feed(f.other_fo, kind) == [], "FO-X covers another site only"

        # Reported again unchanged: nothing new.
        h.stations.set_evse_status(faulted, "FAULTED")
        await h.steps()
        assert len(await f.feed(h.fo, kind)) == len(before) + 2


async def test_der_alarm_reaches_the_covering_fos(settings: Settings) -> None:
    async with fleet(settings) as f:
        h = f.h
        evse = h.evses_of(DEPOT)[2]
        h.stations.raise_der_alarm(
            DEPOT, "OverVoltage", evse_id=evse, severity="ERROR", detail="U > 253 V for 10 s"
        )
        await h.steps()

        (alarm,) = await f.feed(h.fo, NotificationType.DER_ALARM)
        assert isinstance(alarm, DerAlarmNotification)
        assert alarm.target is not None
        assert (alarm.target.level.value, alarm.target.id) == ("EVSE", evse)
        assert (alarm.data.code, alarm.data.severity) == ("OverVoltage", Severity.ERROR)
        assert alarm.data.detail == "U > 253 V for 10 s"
        assert alarm.data.alarm_ended is False
        (site_alarm,) = await f.feed(f.site_fo, NotificationType.DER_ALARM)
        assert site_alarm.target is not None
        assert (site_alarm.target.level.value, site_alarm.target.id) == ("SITE", DEPOT)
        assert await f.feed(f.other_fo, NotificationType.DER_ALARM) == []

        h.stations.raise_der_alarm(DEPOT, "OverVoltage", evse_id=evse, ended=True)
        await h.steps()
        alarms = await f.feed(h.fo, NotificationType.DER_ALARM)
        assert [a.typed_data().model_dump()["alarm_ended"] for a in alarms] == [False, True]


async def test_registry_reimport_changing_an_evse_tells_its_fos(settings: Settings) -> None:
    async with fleet(settings) as f:
        h = f.h
        operator = await _client(h, await make_operator(h.app.state.session_factory))
        document = registry_of(h.stations.fleet).model_dump(mode="json", exclude_none=True)
        evse = h.evses_of(DEPOT)[3]
        (entry,) = [
            e for cs in document["charging_stations"] for e in cs["evses"] if e["evse_id"] == evse
        ]
        async with operator:
            # A meter change is no capability change: nobody is told.
            entry["meter"] = {
                "meter_id": f"{evse}-meter",
                "serial_number": "MTR-0001",
                "certified": True,
                "signed_values": False,
            }
            assert (await operator.registry.import_stations(document)).changed
            assert await f.feed(h.fo, NotificationType.CAPABILITY_CHANGED) == []

            entry["max_charge_power_w"] = entry["max_charge_power_w"] / 2
            result = await operator.registry.import_stations(document)
            assert result.evses.updated == 1
            again = await operator.registry.import_stations(document)
            assert not again.changed

        (changed,) = await f.feed(h.fo, NotificationType.CAPABILITY_CHANGED)
        assert isinstance(changed, CapabilityChangedNotification)
        assert changed.target is not None
        assert (changed.target.level.value, changed.target.id) == ("EVSE", evse)
        assert set(changed.data.fs_types) == set(FsType), "the contract's FS types"
        assert changed.data.reason == "REGISTRY_UPDATED"
        (site_changed,) = await f.feed(f.site_fo, NotificationType.CAPABILITY_CHANGED)
        assert site_changed.target is not None
        assert (site_changed.target.level.value, site_changed.target.id) == ("SITE", DEPOT)
        assert site_changed.typed_data().model_dump()["fs_types"] == [FsType.DROOP]
        assert await f.feed(f.other_fo, NotificationType.CAPABILITY_CHANGED) == []


async def test_station_reported_capability_change(settings: Settings) -> None:
    async with fleet(settings) as f:
        h = f.h
        evse = h.evses_of(DEPOT)[4]
        h.stations.simulator.report_capability_change(evse, "V2G switched off at the station")
        await h.steps()
        (changed,) = await f.feed(h.fo, NotificationType.CAPABILITY_CHANGED)
        assert isinstance(changed, CapabilityChangedNotification)
        assert changed.data.reason == "STATION_REPORTED"


async def test_setpoint_fs_out_of_tolerance_is_told_once_per_episode(settings: Settings) -> None:
    async with fleet(settings) as f:
        h = f.h
        depot = h.evses_of(DEPOT)
        body = request_body(
            "fs-dev",
            targets=[("SITE", DEPOT)],
            p_w=20_000,
            start_in=timedelta(seconds=30),
            now=h.now,
            duration=timedelta(minutes=30),
        )
        await h.fo.flexibility_services.create(FlexibilityServiceRequest.model_validate(body))
        await h.run(90)
        assert (await h.fo.flexibility_services.get("fs-dev")).state is FsState.ACTIVE
        await h.run(120)  # followed: in tolerance, nothing to tell
        assert await f.feed(h.fo, NotificationType.FS_DEVIATION) == []

        for evse in depot:  # the depot's chargers trip: no power flows, commands are refused
            h.stations.set_evse_status(evse, "FAULTED")
        await h.run(300)
        deviations = await f.feed(h.fo, NotificationType.FS_DEVIATION)
        assert all(isinstance(n, FsDeviationNotification) for n in deviations)
        by_cause = {n.typed_data().model_dump()["cause"]: n for n in deviations}
        assert len(deviations) == 2, "one per episode and cause, not one per tick"
        measured = by_cause[DeviationCause.MEASURED]
        assert isinstance(measured, FsDeviationNotification)
        assert measured.fs_id == "fs-dev"
        assert measured.data.requested_w == pytest.approx(20_000)
        assert measured.data.measured_w == pytest.approx(0.0, abs=1.0)
        assert measured.data.deviation_pct == pytest.approx(100.0, abs=0.1)
        assert measured.data.tolerance_pct == settings.fs_deviation_tolerance_pct
        assert measured.occurred_at - measured.data.interval_start >= timedelta(
            seconds=settings.fs_deviation_sustain_s
        )
        rejected = by_cause[DeviationCause.COMMAND_REJECTED]
        assert isinstance(rejected, FsDeviationNotification)
        assert "EVSE is FAULTED" in str(rejected.data.detail)

        for evse in depot:  # repaired: back in tolerance (no notification), then a new episode
            h.stations.set_evse_status(evse, "AVAILABLE")
        await h.run(180)
        assert await h.power_w(depot) == pytest.approx(20_000, rel=0.05)
        assert len(await f.feed(h.fo, NotificationType.FS_DEVIATION)) == 2
        for evse in depot:
            h.stations.set_evse_status(evse, "FAULTED")
        await h.run(180)
        again = await f.feed(h.fo, NotificationType.FS_DEVIATION)
        causes = [n.typed_data().model_dump()["cause"] for n in again[2:]]
        assert sorted(causes) == [DeviationCause.COMMAND_REJECTED, DeviationCause.MEASURED]
        assert await f.feed(f.site_fo, NotificationType.FS_DEVIATION) == [], "FO-A's FS only"
