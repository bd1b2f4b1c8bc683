"""Executing accepted FS on the stations, through the station-command queue only (commands.py).

The step (run by a worker; tests call it directly with a simulated fleet on a virtual clock):
ACCEPTED → SCHEDULED; at the window start SCHEDULED → ACTIVE (ARMED for DROOP, FFR and
RESERVE, whose power moves only on a local trigger or an activation); while running, the plan in
force is (re)applied at each step boundary and at least every `REPLAN_S`; at the window end
→ COMPLETED. Whatever leaves ARMED/ACTIVE (cancel, supersede, abort, end) has its commands
cleared at once. Commands carry `valid_until`, so stations drop them even if the server is gone.

An FS that has ended (COMPLETED, CANCELLED, ABORTED) gets its detailed service record once
`record_delay_s` has passed (late meter readings still count): the executor builds the record's
inputs from the stored readings (`record_inputs`) and calls `records.record_fs`, which moves it
to RECORDED. It happens once: the FS row is locked (`SKIP LOCKED` on PostgreSQL, so a racing
replica passes it by), a recorded FS is no longer selected, and the record is unique per FS
revision. The proof of work follows from the proofs-of-work step as soon as the FS's log
entries, RECORDED included, are chained under a signed tree head.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from fcsbe.model import FlexibilityServiceRequest, FsState, FsType
from fcsbe.server.adapters.base import (
    ClearCommand,
    Command,
    ControlLevel,
    ControlTarget,
    SetpointCommand,
    StationAdapter,
)
from fcsbe.server.planning import Plan, plan_fs
from fcsbe.server.services.event_log.log import append_event
from fcsbe.server.services.flexibility_services.commands import enqueue
from fcsbe.server.services.flexibility_services.decision_rules import power_need, scale_request
from fcsbe.server.services.flexibility_services.lifecycle import (
    FINAL_EXECUTION_STATES,
    LIVE_STATES,
    move,
)
from fcsbe.server.services.flexibility_services.station_plans import (
    commands_at,
    evse_states,
    next_change,
    respect_minimums,
)
from fcsbe.server.services.records.inputs import (
    RECORD_KEYS,
    note_declared_baseline,
    note_setpoint,
    record_inputs,
)
from fcsbe.server.services.records.records import record_fs
from fcsbe.server.storage.flexibility_services import FlexibilityServiceRow, fs_evse_shares

__all__ = [
    "RECORD_DELAY_S",
    "REPLAN_S",
    "clear_fs",
    "committed_request",
    "execute_step",
    "fs_evses",
    "plan_now",
    "start_or_replan",
]

log = logging.getLogger(__name__)

REPLAN_S = 60
"""Longest time a running plan goes without being recomputed from the stations' state."""
ARMED_TYPES = frozenset({FsType.DROOP, FsType.FFR, FsType.RESERVE})
RUNNING = frozenset({FsState.ARMED.value, FsState.ACTIVE.value})
RECORD_DELAY_S = 30.0
"""Default wait after an FS ends before its record is made (settings: `record_delay_s`)."""
SELECTED = sorted(s.value for s in LIVE_STATES | FINAL_EXECUTION_STATES)


def _iso(value: datetime) -> str:
    return value.isoformat()


async def fs_evses(
    session: AsyncSession, fs: FlexibilityServiceRow
) -> tuple[dict[str, str], dict[str, float]]:
    """The FS's EVSEs: evse id → site id, and evse id → minimum charge power (W)."""
    rows = await fs_evse_shares(session, fs.id)
    return {row[0]: row[1] for row in rows}, {row[0]: row[4] for row in rows}


def committed_request(fs: FlexibilityServiceRow) -> FlexibilityServiceRequest:
    """The request as committed: a partially accepted FS runs at its committed share."""
    request = FlexibilityServiceRequest.model_validate(fs.request)
    need = power_need(request).magnitude_w
    if fs.committed_w is None or need <= 0 or fs.committed_w >= need:
        return request
    return scale_request(request, fs.committed_w / need)


async def clear_fs(
    session: AsyncSession,
    adapter: StationAdapter,
    fs: FlexibilityServiceRow,
    evse_ids: list[str],
    now: datetime,
    *,
    for_record: bool = False,
) -> None:
    """Release the FS's EVSEs: back to unmanaged charging. An FS that gets a record keeps
    what the record needs from its execution document (marked `cleared`) until it is made."""
    clear = [
        Command(ControlTarget(ControlLevel.EVSE, evse_id), ClearCommand(), fs_id=fs.fs_id)
        for evse_id in evse_ids
    ]
    if clear:
        await enqueue(session, adapter, fs, now, commands=clear)
    if for_record:
        execution = fs.execution or {}
        fs.execution = {key: execution[key] for key in RECORD_KEYS if key in execution}
        fs.execution["cleared"] = True
    else:
        fs.execution = None


async def plan_now(
    session: AsyncSession, adapter: StationAdapter, fs: FlexibilityServiceRow, now: datetime
) -> tuple[Plan, list[Command]]:
    """The plan of `fs` computed now from live state, and its commands in force now."""
    request = committed_request(fs)
    sites, minimums = await fs_evses(session, fs)
    states = await evse_states(adapter, sites)
    plan = plan_fs(request, states, now)
    rooms = {state.evse_id: state.import_room_w for state in states}
    return plan, respect_minimums(commands_at(plan, now, fs.fs_id), minimums, rooms)


async def start_or_replan(
    session: AsyncSession, adapter: StationAdapter, fs: FlexibilityServiceRow, now: datetime
) -> int:
    """Compute the plan in force now from live state and hand its commands to the adapter."""
    request = committed_request(fs)
    plan, commands = await plan_now(session, adapter, fs, now)
    if commands:
        await enqueue(session, adapter, fs, now, commands=commands)
    horizon = min(now + timedelta(seconds=REPLAN_S), request.window.end)
    execution: dict[str, Any] = dict(fs.execution or {})
    if execution.pop("note_schedule", False):
        # control resumed from a dynamic setpoint: the record follows the schedule from now on
        total = sum(c.control.p_w for c in commands if isinstance(c.control, SetpointCommand))
        note_setpoint(execution, now, total)
    note_declared_baseline(execution, sum(r.baseline_w for r in plan.reservations))
    execution.update(
        applied=len(commands),
        next_at=_iso(next_change(plan, now, horizon)),
        reservations=[[r.evse_id, r.baseline_w, r.up_w, r.down_w] for r in plan.reservations],
    )
    fs.execution = execution
    return len(commands)


async def _running(
    session: AsyncSession, adapter: StationAdapter, fs: FlexibilityServiceRow, now: datetime
) -> int:
    if now >= fs.window_end:
        sites, _ = await fs_evses(session, fs)
        await clear_fs(session, adapter, fs, list(sites), now, for_record=True)
        await move(session, fs, FsState.COMPLETED, "window ended", at=now)
        return 1
    execution = fs.execution or {}
    if execution.get("fallback"):
        return 0  # the FO is offline: the fallback policy holds the stations (fallback.py)
    if execution.get("dynamic") or execution.get("activation_until"):
        if execution.get("activation_until") and now >= datetime.fromisoformat(
            execution["activation_until"]
        ):
            execution = {k: v for k, v in execution.items() if k != "activation_until"}
            fs.execution = execution
            return await start_or_replan(session, adapter, fs, now)
        return 0
    next_at = execution.get("next_at")
    if next_at is None or now >= datetime.fromisoformat(next_at):
        await start_or_replan(session, adapter, fs, now)
        return 1
    return 0


async def _ended(
    session: AsyncSession,
    adapter: StationAdapter,
    fs: FlexibilityServiceRow,
    now: datetime,
    record_delay_s: float,
) -> int:
    """Release a cancelled or aborted FS's stations at once; record an ended FS once late
    readings have had `record_delay_s` to arrive."""
    work = 0
    if fs.execution is not None and not fs.execution.get("cleared"):
        sites, _ = await fs_evses(session, fs)
        await clear_fs(session, adapter, fs, list(sites), now, for_record=True)
        work += 1
    if now < fs.updated_at + timedelta(seconds=record_delay_s):
        return work
    try:
        # A savepoint: a record that cannot be made (bad data, a bug) must not roll back what
        # this pass did for the other FS; it is logged and tried again on the next pass.
        async with session.begin_nested():
            await record_fs(session, fs.id, await record_inputs(session, fs), now=now)
    except Exception:
        log.exception("record of FS %s (revision %s) failed", fs.fs_id, fs.revision)
        return work
    fs.execution = None
    return work + 1


async def execute_step(
    session: AsyncSession,
    adapter: StationAdapter,
    now: datetime,
    limit: int = 100,
    *,
    record_delay_s: float = RECORD_DELAY_S,
) -> int:
    """One pass over every FS that needs the stations or its record; returns how many
    changed."""
    statement = (
        select(FlexibilityServiceRow)
        .where(
            or_(
                FlexibilityServiceRow.state.in_(SELECTED),
                FlexibilityServiceRow.execution.is_not(None),
            )
        )
        .order_by(FlexibilityServiceRow.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        statement = statement.with_for_update(skip_locked=True)
    work = 0
    for fs in (await session.execute(statement)).scalars().all():
        state = FsState(fs.state)
        if state in (FsState.ACCEPTED, FsState.PARTIALLY_ACCEPTED):
            await move(session, fs, FsState.SCHEDULED, "execution planned", at=now)
            state, work = FsState.SCHEDULED, work + 1
        if state is FsState.SCHEDULED and now >= fs.window_start:
            if now >= fs.window_end:
                await move(session, fs, FsState.ABORTED, "window passed before start", at=now)
                work += 1
                continue
            fs.execution = None  # anything left is a superseded revision's (dynamic, fallback)
            applied = await start_or_replan(session, adapter, fs, now)
            to = FsState.ARMED if FsType(fs.fs_type) in ARMED_TYPES else FsState.ACTIVE
            await move(session, fs, to, "started on the stations", at=now)
            await append_event(
                session,
                type="FS_EXECUTION_STARTED",
                object_ref=f"fs/{fs.fs_id}/{fs.revision}",
                summary=f"{applied} command(s) applied",
                party_id=fs.fo_party_id,
                fs_id=fs.fs_id,
            )
            work += 1
        elif fs.state in RUNNING:
            work += await _running(session, adapter, fs, now)
        elif state in FINAL_EXECUTION_STATES:
            work += await _ended(session, adapter, fs, now, record_delay_s)
        elif fs.execution is not None and state not in LIVE_STATES:
            sites, _ = await fs_evses(session, fs)
            await clear_fs(session, adapter, fs, list(sites), now)
            work += 1
    return work
