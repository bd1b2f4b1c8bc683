"""Execution finds its work by due time, and FS on one EVSE compose (quality goals R10, R9).

- Starvation: 10,000 FS accepted for tomorrow and one due now: one execution step starts the
  due one (the step used to take the 100 lowest ids among live FS, so it never came).
- Fallback: 600 running FS whose FO is still within time and one, of another contract, whose
  FO has lapsed: one fallback step applies the lapsed one's fallback (it used to read 500).
- Composition: a DEMAND_RESPONSE limit over a CONGESTION cap on one EVSE keeps the cap, and
  the DR's end leaves it in force (each target used to keep one command per kind).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from fastapi import FastAPI
from sqlalchemy import insert, select

from fcsbe.model import FsState
from fcsbe.server.adapters.base import (
    ApplyResult,
    ClearCommand,
    Command,
    ControlLevel,
    ControlTarget,
    LimitCommand,
)
from fcsbe.server.adapters.unconnected import UnconnectedStations
from fcsbe.server.services.flexibility_services.dispatch import release_fs, set_fs_layers
from fcsbe.server.services.flexibility_services.execution import execute_step
from fcsbe.server.services.flexibility_services.fallback import fallback_step
from fcsbe.server.storage.base import utcnow
from fcsbe.server.storage.contracts import ContractRow
from fcsbe.server.storage.flexibility_services import FlexibilityServiceRow
from tests.support.factories import make_fo
from tests.support.fs_fixtures import make_contract, make_site, request_body


class RecordingStations(UnconnectedStations):
    """A station adapter (a process boundary) that keeps what is in force per target and kind,
    as the adapter contract says: a command replaces the previous one of its kind; a clear
    removes all."""

    holds_stations = True

    def __init__(self) -> None:
        self.in_force: dict[ControlTarget, dict[type, Command]] = {}

    async def apply_many(self, commands: Sequence[Command]) -> list[ApplyResult]:
        for command in commands:
            if isinstance(command.control, ClearCommand):
                self.in_force.pop(command.target, None)
            else:
                self.in_force.setdefault(command.target, {})[type(command.control)] = command
        return [ApplyResult(c.target, accepted=True) for c in commands]

    def limit(self, evse_id: str) -> LimitCommand | None:
        for target, kinds in self.in_force.items():
            if target.id == evse_id and LimitCommand in kinds:
                control = kinds[LimitCommand].control
                assert isinstance(control, LimitCommand)
                return control
        return None


def _fs_row(
    fs_id: str, state: str, start: datetime, now: datetime, contract_pk: int | None
) -> dict[str, Any]:
    body = request_body(fs_id, now=start, start_in=timedelta(0), duration=timedelta(hours=1))
    return {
        "fo_party_id": "FO-A",
        "fs_id": fs_id,
        "revision": 1,
        "contract_id": contract_pk,
        "fs_type": "SETPOINT",
        "state": state,
        "window_start": start,
        "window_end": start + timedelta(hours=1),
        "response_deadline": now,
        "committed_w": 40_000.0,
        "request": body,
        "response": None,
        "execution": None,
        "correlation_id": None,
        "due_at": start if state == "ACCEPTED" else now,
        "created_at": now,
        "updated_at": now,
    }


async def _contract_pk(app: FastAPI, fsc_id: str) -> int:
    async with app.state.session_factory() as session:
        pk = await session.scalar(select(ContractRow.id).where(ContractRow.fsc_id == fsc_id))
    assert pk is not None
    return int(pk)


async def test_one_due_fs_runs_whatever_the_number_waiting(app: FastAPI) -> None:
    await make_fo(app.state.session_factory, "FO-A")
    now = utcnow()
    tomorrow = now + timedelta(days=1)
    rows = [_fs_row(f"fs-later-{n:05d}", "ACCEPTED", tomorrow, now, None) for n in range(10_000)]
    rows.append(_fs_row("fs-now", "ACCEPTED", now - timedelta(seconds=1), now, None))
    async with app.state.session_factory() as session:
        await session.execute(insert(FlexibilityServiceRow), rows)  # one bulk statement
        await session.commit()
    async with app.state.session_factory() as session:
        await execute_step(session, UnconnectedStations(), now, limit=100)
        await session.commit()
    async with app.state.session_factory() as session:
        state = await session.scalar(
            select(FlexibilityServiceRow.state).where(FlexibilityServiceRow.fs_id == "fs-now")
        )
    assert state == FsState.ACTIVE.value


async def test_every_running_fs_is_checked_for_its_fallback(app: FastAPI) -> None:
    await make_fo(app.state.session_factory, "FO-A")
    await make_contract(
        app.state.session_factory,
        "FO-A",
        "fsc-patient",
        fallback={"policy": "REVERT_UNMANAGED", "offline_timeout_s": 86_400},
    )
    await make_contract(
        app.state.session_factory,
        "FO-A",
        "fsc-strict",
        fallback={"policy": "REVERT_UNMANAGED", "offline_timeout_s": 30},
    )
    patient, strict = await _contract_pk(app, "fsc-patient"), await _contract_pk(app, "fsc-strict")
    now = utcnow() + timedelta(minutes=5)  # the FO has been silent since its enrolment
    start = now - timedelta(minutes=1)
    rows = [_fs_row(f"fs-run-{n:04d}", "ACTIVE", start, now, patient) for n in range(600)]
    rows.append(_fs_row("fs-strict", "ACTIVE", start, now, strict))  # the highest id
    async with app.state.session_factory() as session:
        await session.execute(insert(FlexibilityServiceRow), rows)
        await session.commit()
    async with app.state.session_factory() as session:
        assert await fallback_step(session, UnconnectedStations(), now) == 1
        await session.commit()
    async with app.state.session_factory() as session:
        execution = await session.scalar(
            select(FlexibilityServiceRow.execution).where(
                FlexibilityServiceRow.fs_id == "fs-strict"
            )
        )
    assert execution is not None
    assert execution["fallback"]["policy"] == "REVERT_UNMANAGED"


async def test_demand_response_over_congestion_keeps_the_cap(app: FastAPI) -> None:
    """CONGESTION caps the home EVSE at 4.2 kW; a DEMAND_RESPONSE limit of 11 kW comes and
    goes: the station keeps 4.2 kW throughout."""
    await make_fo(app.state.session_factory, "FO-A")
    (evse, _) = await make_site(app.state.session_factory, "s1", charge_w=11_000, discharge_w=0)
    now = utcnow()
    rows = [
        _fs_row("fs-cong", "ACTIVE", now, now, None),
        _fs_row("fs-dr", "ACTIVE", now, now, None),
    ]
    rows[0]["fs_type"], rows[1]["fs_type"] = "CONGESTION", "DEMAND_RESPONSE"
    async with app.state.session_factory() as session:
        await session.execute(insert(FlexibilityServiceRow), rows)
        await session.commit()
    stations = RecordingStations()
    target = ControlTarget(ControlLevel.EVSE, evse)
    until = now + timedelta(hours=1)

    async def step(fs_id: str, limit_w: float | None) -> None:
        async with app.state.session_factory() as session:
            fs = (
                await session.execute(
                    select(FlexibilityServiceRow).where(FlexibilityServiceRow.fs_id == fs_id)
                )
            ).scalar_one()
            if limit_w is None:
                await release_fs(session, stations, fs, now)
            else:
                command = Command(target, LimitCommand(limit_w, None), fs_id, until)
                await set_fs_layers(session, stations, fs, [command], now)
            await session.commit()

    await step("fs-cong", 4_200.0)
    assert stations.limit(evse) == LimitCommand(4_200.0, None)
    await step("fs-dr", 11_000.0)
    assert stations.limit(evse) == LimitCommand(4_200.0, None)
    await step("fs-dr", None)
    assert stations.limit(evse) == LimitCommand(4_200.0, None)
    await step("fs-dr", 2_000.0)  # a stricter DR limit binds while it runs
    assert stations.limit(evse) == LimitCommand(2_000.0, None)
    await step("fs-dr", None)
    assert stations.limit(evse) == LimitCommand(4_200.0, None)
    await step("fs-cong", None)
    assert stations.limit(evse) is None
