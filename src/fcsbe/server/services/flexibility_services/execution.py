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

from sqlalchemy.ext.asyncio import AsyncSession

from fcsbe.model import FlexibilityServiceRequest, FsState, FsType
from fcsbe.server.adapters.base import Command, SetpointCommand, StationAdapter
from fcsbe.server.planning import EvseState, Plan, plan_fs
from fcsbe.server.services.event_log.log import append_event
from fcsbe.server.services.flexibility_services.decision_rules import power_need, scale_request
from fcsbe.server.services.flexibility_services.deviation import (
    DeviationPolicy,
    note_command_results,
    ordered_w,
)
from fcsbe.server.services.flexibility_services.dispatch import (
    lock_fs_sites,
    release_fs,
    set_fs_layers,
)
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
    note_site_loads,
    record_inputs,
)
from fcsbe.server.services.records.records import record_fs
from fcsbe.server.storage.flexibility_services import (
    FlexibilityServiceRow,
    due_fs,
    fs_evse_shares,
    undated_accepted_fs,
)

__all__ = [
    "RECORD_DELAY_S",
    "REPLAN_S",
    "clear_fs",
    "committed_request",
    "execute_step",
    "fs_evses",
    "next_due",
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
ACCEPTED_STATES = frozenset({FsState.ACCEPTED.value, FsState.PARTIALLY_ACCEPTED.value})
DEFAULT_DEVIATION = DeviationPolicy()
"""Tolerance of a running FS when the settings give none (`fs_deviation_*`)."""


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
    now: datetime,
    *,
    for_record: bool = False,
) -> None:
    """Remove the FS's layers from its EVSEs (the other FS's stay in force). An FS that gets a
    record keeps what the record needs from its execution document (marked `cleared`) until it
    is made."""
    await release_fs(session, adapter, fs, now)
    if for_record:
        execution = fs.execution or {}
        fs.execution = {key: execution[key] for key in RECORD_KEYS if key in execution}
        fs.execution["cleared"] = True
    else:
        fs.execution = None


async def _plan(
    session: AsyncSession, adapter: StationAdapter, fs: FlexibilityServiceRow, now: datetime
) -> tuple[Plan, list[Command], list[EvseState]]:
    request = committed_request(fs)
    sites, minimums = await fs_evses(session, fs)
    states = await evse_states(adapter, sites)
    plan = plan_fs(request, states, now)
    rooms = {state.evse_id: state.import_room_w for state in states}
    return plan, respect_minimums(commands_at(plan, now, fs.fs_id), minimums, rooms), states


async def plan_now(
    session: AsyncSession, adapter: StationAdapter, fs: FlexibilityServiceRow, now: datetime
) -> tuple[Plan, list[Command]]:
    """The plan of `fs` computed now from live state, and its commands in force now."""
    plan, commands, _ = await _plan(session, adapter, fs, now)
    return plan, commands


def _site_loads(states: list[EvseState]) -> dict[str, float]:
    """The non-EV power of each site the stations reported (sites they know nothing of are
    left out: the record must not present an assumed 0 W as a measurement)."""
    return {s.site_id: s.site_other_w for s in states if s.site_other_known}


async def start_or_replan(
    session: AsyncSession,
    adapter: StationAdapter,
    fs: FlexibilityServiceRow,
    now: datetime,
    *,
    deviation: DeviationPolicy = DEFAULT_DEVIATION,
) -> int:
    """Compute the plan in force now from live state and hand its commands to the adapter; a
    command the stations refuse starts a `COMMAND_REJECTED` deviation episode (FS_DEVIATION)."""
    request = committed_request(fs)
    plan, commands, states = await _plan(session, adapter, fs, now)
    delivery = await set_fs_layers(session, adapter, fs, commands, now)
    if delivery.commands:
        ordered = ordered_w(request, fs.execution, fs.committed_w, now)
        await note_command_results(
            session, adapter, fs, delivery.commands, delivery.results, ordered, now, deviation
        )
    horizon = min(now + timedelta(seconds=REPLAN_S), request.window.end)
    execution: dict[str, Any] = dict(fs.execution or {})
    if execution.pop("note_schedule", False):
        # control resumed from a dynamic setpoint: the record follows the schedule from now on
        total = sum(c.control.p_w for c in commands if isinstance(c.control, SetpointCommand))
        note_setpoint(execution, now, total)
    note_declared_baseline(execution, sum(r.baseline_w for r in plan.reservations))
    if request.fs_type is FsType.CONGESTION:
        # judged at the connection points: the record's estimate for a site without a meter
        note_site_loads(execution, now, _site_loads(states))
    execution.update(
        applied=len(commands),
        next_at=_iso(next_change(plan, now, horizon)),
        reservations=[[r.evse_id, r.baseline_w, r.up_w, r.down_w] for r in plan.reservations],
    )
    fs.execution = execution
    return len(commands)


async def _running(
    session: AsyncSession,
    adapter: StationAdapter,
    fs: FlexibilityServiceRow,
    now: datetime,
    deviation: DeviationPolicy,
) -> int:
    if now >= fs.window_end:
        await clear_fs(session, adapter, fs, now, for_record=True)
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
            return await start_or_replan(session, adapter, fs, now, deviation=deviation)
        return 0
    next_at = execution.get("next_at")
    if next_at is None or now >= datetime.fromisoformat(next_at):
        await start_or_replan(session, adapter, fs, now, deviation=deviation)
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
        await clear_fs(session, adapter, fs, now, for_record=True)
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


def next_due(fs: FlexibilityServiceRow, now: datetime, record_delay_s: float) -> datetime | None:
    """When the step must look at `fs` again, after it handled it at `now`."""
    state = FsState(fs.state)
    execution = fs.execution or {}
    if state in (FsState.ACCEPTED, FsState.PARTIALLY_ACCEPTED, FsState.SCHEDULED):
        return fs.window_start
    if fs.state in RUNNING:
        if execution.get("fallback"):
            return fs.window_end  # the fallback step holds the stations until control resumes
        due = fs.window_end
        if execution.get("activation_until"):
            due = min(due, datetime.fromisoformat(execution["activation_until"]))
        elif execution.get("next_at") and not execution.get("dynamic"):
            due = min(due, datetime.fromisoformat(execution["next_at"]))
        return due
    if state in FINAL_EXECUTION_STATES:
        # a record that failed (its due time has passed) is tried again on the next pass
        return max(fs.updated_at + timedelta(seconds=record_delay_s), now)
    return now if fs.execution is not None else None


async def _handle(
    session: AsyncSession,
    adapter: StationAdapter,
    fs: FlexibilityServiceRow,
    now: datetime,
    record_delay_s: float,
    deviation: DeviationPolicy,
) -> int:
    """What one FS needs from the stations now; returns 1 per change made."""
    work = 0
    state = FsState(fs.state)
    if state in (FsState.ACCEPTED, FsState.PARTIALLY_ACCEPTED):
        await move(session, fs, FsState.SCHEDULED, "execution planned", at=now)
        state, work = FsState.SCHEDULED, work + 1
    if state is FsState.SCHEDULED and now < fs.window_start:
        if fs.execution is not None:  # a superseded revision's commands: release them now
            await clear_fs(session, adapter, fs, now)
            work += 1
        return work
    if state is FsState.SCHEDULED:
        if now >= fs.window_end:
            await move(session, fs, FsState.ABORTED, "window passed before start", at=now)
            return work + 1
        fs.execution = None  # anything left is a superseded revision's (dynamic, fallback)
        applied = await start_or_replan(session, adapter, fs, now, deviation=deviation)
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
        return work + 1
    if fs.state in RUNNING:
        return work + await _running(session, adapter, fs, now, deviation)
    if state in FINAL_EXECUTION_STATES:
        return work + await _ended(session, adapter, fs, now, record_delay_s)
    if fs.execution is not None and state not in LIVE_STATES:
        await clear_fs(session, adapter, fs, now)
        return work + 1
    return work


async def execute_step(
    session: AsyncSession,
    adapter: StationAdapter,
    now: datetime,
    limit: int = 100,
    *,
    record_delay_s: float = RECORD_DELAY_S,
    deviation: DeviationPolicy = DEFAULT_DEVIATION,
) -> int:
    """One pass over the FS that are due (earliest first), then, with what is left of `limit`,
    accepted FS to schedule (nearest window first); returns how many changed.

    Work is found by each FS's indexed `due_at`, never by id: however many FS wait for later,
    one due now is handled in this pass (quality goal R10).
    """
    work = 0
    handled: set[int] = set()
    due = await due_fs(session, now, limit)
    await lock_fs_sites(session, due)
    for fs in due:
        handled.add(fs.id)
        work += await _handle(session, adapter, fs, now, record_delay_s, deviation)
        fs.due_at = next_due(fs, now, record_delay_s)
    if len(handled) < limit:
        accepted = await undated_accepted_fs(session, ACCEPTED_STATES, limit - len(handled))
        for fs in accepted:
            if fs.id not in handled and FsState(fs.state) in (
                FsState.ACCEPTED,
                FsState.PARTIALLY_ACCEPTED,
            ):
                await move(session, fs, FsState.SCHEDULED, "execution planned", at=now)
                fs.due_at = next_due(fs, now, record_delay_s)
                work += 1
    return work
