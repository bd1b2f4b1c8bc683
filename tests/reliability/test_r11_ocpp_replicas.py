"""R11 with OCPP stations: two `fcsbe serve` replicas with `FCSBE_STATION_ADAPTER=ocpp` on one
PostgreSQL, each holding one charging station (real OCPP-J 2.0.1 charge points written with
the `ocpp` library).

One FS spans both stations' sites and is sent to one replica only: each station must receive
its SetChargingProfile through the replica it is connected to (the other's share goes through
the station-command queue, bound to the station by its connection lease). Then that replica is
killed with `kill -9`: its station reconnects to the other replica, which must send it its
profile again from the stored ledger; no command is left PENDING.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from ocpp.v201 import call as call201
from sqlalchemy import select
from websockets.asyncio.client import connect

from fcsbe.client import FcsbeClient, RetryPolicy
from fcsbe.model import FlexibilityServiceRequest
from fcsbe.server.adapters.ocpp.provisioning import issue_passwords
from fcsbe.server.adapters.scenario_registry import registry_of, scenario_fleet
from fcsbe.server.services.registry.registry import import_registry
from fcsbe.server.storage.base import utcnow
from fcsbe.server.storage.ocpp_stations import StationOcppStateRow
from fcsbe.server.storage.station_commands import StationCommandRow
from tests.reliability.test_r11_replicas import Replica, until
from tests.server.adapters.ocpp.conftest import Cp201, Received, now_text
from tests.support.factories import make_fo
from tests.support.fs_fixtures import make_contract, request_body

pytestmark = pytest.mark.slow

STATIONS = {"CS-0000001": "SITE-HOME-1", "CS-0000002": "SITE-HOME-2"}
SETPOINT_W = 18_000.0
"""More than one home wallbox takes (11 kW each): both must be steered."""


class ChargePoint:
    """A 2.0.1 charge point that keeps its station id, password and what it was sent."""

    def __init__(self, cs_id: str, password: str) -> None:
        self.cs_id, self.password = cs_id, password
        self.seen = Received()
        self.task: asyncio.Task[None] | None = None
        self.ws: Any = None
        self.cp: Any = None

    async def connect(self, replica: Replica) -> None:
        token = base64.b64encode(f"{self.cs_id}:{self.password}".encode()).decode()
        self.ws = await connect(
            f"ws://127.0.0.1:{replica.port}/ocpp/{self.cs_id}",
            subprotocols=["ocpp2.0.1"],  # type: ignore[list-item]
            additional_headers={"Authorization": f"Basic {token}"},
            open_timeout=5,
        )
        self.cp = Cp201(self.cs_id, self.ws, response_timeout=10)
        self.cp.seen = self.seen
        self.task = asyncio.create_task(self.cp.start())

    async def boot_and_plug(self) -> None:
        await self.cp.call(
            call201.BootNotification(
                charging_station={"model": "Wallbox", "vendor_name": "ACME"}, reason="PowerUp"
            )
        )
        await self.cp.call(
            call201.StatusNotification(
                timestamp=now_text(), connector_status="Occupied", evse_id=1, connector_id=1
            )
        )
        await self.cp.call(
            call201.TransactionEvent(
                event_type="Started",
                timestamp=now_text(),
                trigger_reason="CablePluggedIn",
                seq_no=0,
                transaction_info={"transaction_id": f"tx-{self.cs_id}"},
                evse={"id": 1, "connector_id": 1},
                id_token={"id_token": f"RFID-{self.cs_id}", "type": "ISO14443"},
            )
        )
        await self.cp.call(
            call201.NotifyEVChargingNeeds(
                evse_id=1,
                charging_needs={
                    "requested_energy_transfer": "AC_three_phase",
                    "ac_charging_parameters": {
                        "energy_amount": 40_000,
                        "ev_min_current": 6,
                        "ev_max_current": 16,
                        "ev_max_voltage": 400,
                    },
                },
            )
        )

    def profiles(self) -> list[dict[str, Any]]:
        return self.seen.of("SetChargingProfile")

    async def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.task
        if self.ws is not None:
            with contextlib.suppress(Exception):
                await self.ws.close()


@pytest.fixture
async def ocpp_replicas(
    app: FastAPI, tmp_path: Path
) -> AsyncIterator[tuple[Replica, Replica, dict[str, str]]]:
    if app.state.engine.dialect.name != "postgresql":
        pytest.skip("replicas share one PostgreSQL database")
    url = app.state.settings.database_url
    async with app.state.session_factory() as db:  # the CSO's registry, imported beforehand
        await import_registry(db, registry_of(scenario_fleet("uc-1.1")))
        passwords = await issue_passwords(db, list(STATIONS))
        await db.commit()
    data = tmp_path / "var"
    options = {
        "FCSBE_STATION_ADAPTER": "ocpp",
        "FCSBE_STATION_SYNC_INTERVAL_S": "0.5",
        "FCSBE_OCPP_CALL_TIMEOUT_S": "5",
        "FCSBE_OCPP_LEASE_S": "6",
    }
    running = (Replica("P", url, data, **options), Replica("Q", url, data, **options))
    try:
        await asyncio.gather(*(replica.start() for replica in running))
        yield (*running, passwords)
    finally:
        for replica in running:
            await replica.stop()


async def test_each_station_gets_its_profiles_through_the_replica_holding_it(
    app: FastAPI, ocpp_replicas: tuple[Replica, Replica, dict[str, str]]
) -> None:
    p, q, passwords = ocpp_replicas
    factory = app.state.session_factory
    token = await make_fo(factory, "FO-A")
    await make_contract(factory, "FO-A", targets=[("SITE", site) for site in STATIONS.values()])
    one, two = (ChargePoint(cs_id, passwords[cs_id]) for cs_id in STATIONS)
    try:
        await one.connect(p)
        await two.connect(q)
        await asyncio.gather(one.boot_and_plug(), two.boot_and_plug())

        body = request_body(
            "fs-ocpp-replicas",
            p_w=SETPOINT_W,
            targets=[("SITE", site) for site in STATIONS.values()],
            now=utcnow(),
            start_in=timedelta(seconds=4),
            duration=timedelta(minutes=5),
            minimum_acceptance_pct=1,
        )
        async with FcsbeClient(p.url, token=token, retry=RetryPolicy(max_attempts=4)) as fo:
            await fo.flexibility_services.create(FlexibilityServiceRequest.model_validate(body))

        async def both_profiled() -> bool:
            return bool(one.profiles() and two.profiles())

        await until("each station to receive its profile", both_profiled)
        limits = {station.cs_id: _limit(station.profiles()[-1]) for station in (one, two)}
        assert sum(limits.values()) == pytest.approx(SETPOINT_W, rel=0.05)

        async def ledger_stored() -> bool:
            async with factory() as db:
                row = await db.get(StationOcppStateRow, one.cs_id)
                return row is not None and bool(row.ledger)

        await until("P to store the first station's ledger", ledger_stored)
        before = len(one.profiles())
        await p.kill9()
        await one.close()
        # The station comes back to the surviving replica, without rebooting.
        await one.connect(q)
        await one.cp.call(call201.Heartbeat())

        async def resent() -> bool:
            return len(one.profiles()) > before

        await until("Q to send the first station its profile again", resent)
        assert _limit(one.profiles()[-1]) == pytest.approx(limits[one.cs_id])

        async def queue_settled() -> bool:
            async with factory() as db:
                rows = (
                    await db.execute(
                        select(StationCommandRow.state, StationCommandRow.station_id).where(
                            StationCommandRow.fs_id == "fs-ocpp-replicas"
                        )
                    )
                ).all()
            return bool(rows) and all(state != "PENDING" for state, _ in rows)

        await until("no command of the FS to be left PENDING", queue_settled)
    finally:
        await one.close()
        await two.close()


def _limit(profile: dict[str, Any]) -> float:
    schedule = profile["charging_profile"]["charging_schedule"][0]
    return float(schedule["charging_schedule_period"][0]["limit"])
