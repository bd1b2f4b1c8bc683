"""Controlling a running FS: dynamic setpoints (UC 2.1, aFRR-like) and reserve activations.

A setpoint update is split over the FS's EVSEs within their live headroom and the power
committed to each (planning.split), recorded (the latest aggregate setpoint and its sequence
number on the FS, and an event-log entry) and then sent through the station-command queue: split
where the stations are, as it needs their live state, and composed there with the other FS's
layers (dispatch.send_intent). A stale or repeated sequence number is refused (409), so a delayed
update can never undo a newer one.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from fcsbe.model import (
    FlexibilityServiceRequest,
    FsState,
    FsType,
    ReserveActivation,
    SetpointUpdate,
)
from fcsbe.server.adapters.base import (
    Command,
    ControlLevel,
    ControlTarget,
    SetpointCommand,
    StationAdapter,
)
from fcsbe.server.errors import Conflict
from fcsbe.server.notifications.outbox import enqueue_notification
from fcsbe.server.planning import Reservation, SplitBasis, plan_reserve_activation, split_setpoint
from fcsbe.server.services.event_log.log import append_event
from fcsbe.server.services.flexibility_services.commands import enqueue, expander
from fcsbe.server.services.flexibility_services.dispatch import (
    Delivery,
    send_intent,
    set_fs_layers,
)
from fcsbe.server.services.flexibility_services.execution import fs_evses
from fcsbe.server.services.flexibility_services.lifecycle import move
from fcsbe.server.services.flexibility_services.station_plans import evse_states, respect_minimums
from fcsbe.server.services.records.inputs import note_activation, note_setpoint
from fcsbe.server.storage.flexibility_services import FlexibilityServiceRow
from fcsbe.server.storage.station_commands import StationCommandRow

__all__ = ["activate_reserve", "setpoint_commands", "update_setpoint"]

DEAD_MAN_S = 60
"""A dynamic setpoint expires at the stations this long after it was sent unless renewed."""
SETPOINT = "SETPOINT"
"""The station-command kind of a dynamic setpoint, split over the EVSEs where it is applied."""


def _check_not_in_fallback(execution: dict[str, Any]) -> None:
    """While the FO is offline the contract's fallback holds the stations; only a heartbeat
    hands control back (a late command must not undo the fallback half-way)."""
    if execution.get("fallback"):
        raise Conflict(
            "The FO is offline for this FS and the fallback policy is in force; "
            "send a heartbeat to resume control, then repeat the request.",
            slug="fs-in-fallback",
        )


async def _record_then_apply(
    session: AsyncSession,
    adapter: StationAdapter,
    fs: FlexibilityServiceRow,
    commands: list[Command],
    now: datetime,
) -> Delivery:
    """Write what was decided, then command the stations, as the last thing that can fail.

    The FS change and its event-log entry are flushed first: a value the database or the log
    cannot hold fails here, before any station acts. Applied first, such a command reached the
    stations while the request answered 500 and rolled back its record, and a retry applied it
    again. Only the commit at the edge follows the adapter call. The commands become this FS's
    layer of the control stack, composed with every other FS's before anything is sent.
    """
    await session.flush()
    return await set_fs_layers(session, adapter, fs, commands, now)


async def setpoint_commands(
    session: AsyncSession,
    adapter: StationAdapter,
    fs: FlexibilityServiceRow,
    p_w: float,
    q_var: float | None,
    now: datetime,
    until: datetime,
) -> tuple[float, list[Command]]:
    """An aggregate setpoint (capped at the committed power) split over the FS's EVSEs now:
    the total applied and one command per EVSE, valid until `until`."""
    sites, minimums = await fs_evses(session, fs)
    states = await evse_states(adapter, sites)
    basis = SplitBasis.for_setpoint(states, now)
    cap = fs.committed_w if fs.committed_w is not None else abs(p_w)
    total = max(-cap, min(cap, p_w))
    split = split_setpoint(total, basis)
    commands = [
        Command(
            ControlTarget(ControlLevel.EVSE, evse_id),
            SetpointCommand(share_w, q_var),
            fs_id=fs.fs_id,
            valid_until=until,
        )
        for evse_id, share_w in zip(basis.evse_ids, split, strict=True)
    ]
    rooms = {state.evse_id: state.import_room_w for state in states}
    return total, respect_minimums(commands, minimums, rooms)


@expander(SETPOINT)
async def _expand_setpoint(
    session: AsyncSession,
    adapter: StationAdapter,
    fs: FlexibilityServiceRow,
    payload: Mapping[str, Any],
    now: datetime,
) -> list[Command] | str:
    """The split of a queued setpoint over the EVSEs' live headroom, unless it is stale."""
    execution = fs.execution or {}
    until = datetime.fromisoformat(payload["until"])
    if fs.state != FsState.ACTIVE.value or now >= until:
        return f"expired before it reached the stations (FS {fs.state})"
    if execution.get("fallback"):
        return "the fallback policy took over before it reached the stations"
    if int(execution.get("sequence", -1)) != payload["sequence"]:
        return f"superseded by setpoint #{execution.get('sequence')}"
    _, commands = await setpoint_commands(
        session, adapter, fs, payload["p_w"], payload["q_var"], now, until
    )
    return commands


async def update_setpoint(
    session: AsyncSession,
    adapter: StationAdapter,
    fs: FlexibilityServiceRow,
    update: SetpointUpdate,
    now: datetime,
) -> StationCommandRow:
    """Record a new aggregate setpoint and send it to the stations (split there over the EVSEs'
    live headroom); returns its station command, applied already where this replica holds the
    stations, else PENDING."""
    if fs.fs_type != FsType.SETPOINT.value or fs.state != FsState.ACTIVE.value:
        raise Conflict(
            f"Setpoints go to an ACTIVE SETPOINT FS; this one is {fs.fs_type} {fs.state}.",
            slug="fs-not-active",
        )
    execution: dict[str, Any] = dict(fs.execution or {})
    _check_not_in_fallback(execution)
    if update.sequence <= int(execution.get("sequence", -1)):
        raise Conflict(
            f"Sequence {update.sequence} is not newer than {execution['sequence']}.",
            slug="stale-setpoint",
        )
    until = min(fs.window_end, now + timedelta(seconds=DEAD_MAN_S))
    cap = fs.committed_w if fs.committed_w is not None else abs(update.p_w)
    total = max(-cap, min(cap, update.p_w))
    execution.update(
        dynamic=True, sequence=update.sequence, setpoint_w=update.p_w, at=now.isoformat()
    )
    note_setpoint(execution, now, total)
    fs.execution = execution
    fs.updated_at = now
    await append_event(
        session,
        type="FS_SETPOINT_UPDATED",
        object_ref=f"fs/{fs.fs_id}/{fs.revision}",
        summary=f"setpoint {update.p_w:.0f} W (#{update.sequence}) sent to the stations",
        party_id=fs.fo_party_id,
        fs_id=fs.fs_id,
        payload={"p_w": update.p_w, "sequence": update.sequence, "applied_w": total},
    )
    payload = {"p_w": update.p_w, "q_var": update.q_var, "until": until.isoformat()}
    return await send_intent(
        session, adapter, fs, now, SETPOINT, {**payload, "sequence": update.sequence}
    )


async def activate_reserve(
    session: AsyncSession,
    adapter: StationAdapter,
    fs: FlexibilityServiceRow,
    activation: ReserveActivation,
    now: datetime,
) -> StationCommandRow:
    """Deliver a reserve activation out of the reserved capacity (ARMED/ACTIVE RESERVE FS);
    returns its station command (PENDING where this replica holds no stations)."""
    if fs.fs_type != FsType.RESERVE.value or fs.state not in ("ARMED", "ACTIVE"):
        raise Conflict(
            f"Activations go to a running RESERVE FS; this one is {fs.fs_type} {fs.state}.",
            slug="fs-not-active",
        )
    request = FlexibilityServiceRequest.model_validate(fs.request)
    execution: dict[str, Any] = dict(fs.execution or {})
    _check_not_in_fallback(execution)
    reservations = [Reservation(*r) for r in execution.get("reservations", [])]
    plan = plan_reserve_activation(request, activation, reservations, now)
    end = max((s.end for p in plan.evse_plans for s in p.steps), default=now)
    # The stations ramp to the full activation on their own within the full-activation time:
    # each EVSE gets its final setpoint once, valid until the activation ends.
    commands = [
        Command(
            ControlTarget(ControlLevel.EVSE, p.evse_id),
            SetpointCommand(p.steps[-1].setpoint_w or 0.0, None),
            fs_id=fs.fs_id,
            valid_until=end,
        )
        for p in plan.evse_plans
        if p.steps and p.steps[-1].setpoint_w is not None
    ]
    fs.due_at = min(fs.due_at or end, end)  # the plan comes back when the activation ends
    up = activation.direction.value == "UP"
    execution.update(activation_until=end.isoformat(), activation_id=activation.activation_id)
    # UP means less import or more export: a negative change in our sign convention.
    delta_w = -activation.delta_p_w if up else activation.delta_p_w
    note_activation(execution, now, (end - now).total_seconds(), delta_w)
    fs.execution = execution
    if fs.state == FsState.ARMED.value:
        await move(
            session, fs, FsState.ACTIVE, f"reserve activation {activation.activation_id}", at=now
        )
    await enqueue_notification(
        session,
        fo_party_id=fs.fo_party_id,
        type="FS_ACTIVATED",
        fs_id=fs.fs_id,
        data={
            "activation_id": activation.activation_id,
            "delta_p_w": delta_w,
            "activated_at": now.isoformat(),
        },
        occurred_at=now,
    )
    delivery = await _record_then_apply(session, adapter, fs, commands, now)
    if delivery.command is not None:
        return delivery.command
    row, _ = await enqueue(session, adapter, fs, now)  # nothing changed: an empty command
    return row
