"""From stations to plans and back: live EVSE states for the planners, plans to commands.

The planners (fcsbe.server.planning) are pure; this module feeds them what the adapter reports
(power, headroom, the connected EV and its user's limits) capped by what the FS decision
committed on each EVSE, and turns the plan in force at a given time into adapter commands.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime

from fcsbe.server.adapters.base import (
    Command,
    ControlLevel,
    ControlTarget,
    DroopCommand,
    FfrCommand,
    LimitCommand,
    SetpointCommand,
    StationAdapter,
    StationSession,
    TargetState,
)
from fcsbe.server.planning import ArmedFunction, EvseState, Plan

__all__ = ["commands_at", "evse_states", "next_change", "respect_minimums"]


def _session_state(session: StationSession | None) -> dict[str, object]:
    if session is None:
        return {}
    battery = session.ev.battery_wh or 0.0
    soc = session.soc_pct or 0.0
    needed = max(0.0, (session.min_soc_at_departure_pct - soc) / 100.0 * battery)
    left = math.inf
    if session.max_energy_to_grid_wh is not None:
        left = max(0.0, session.max_energy_to_grid_wh - session.energy_exported_wh)
    return {
        "soc_pct": session.soc_pct,
        "capacity_wh": session.ev.battery_wh,
        "departure": session.departure_time,
        "energy_to_min_soc_wh": needed,
        "v2g_allowed": session.consent_v2g and session.ev.bidirectional,
        "soc_floor_pct": session.soc_floor_pct,
        "export_energy_left_wh": left,
    }


def _connection_state(state: TargetState) -> dict[str, float | bool]:
    """What a site's point-of-connection meter tells the planners (nothing when it has none)."""
    found: dict[str, float | bool] = {}
    if state.other_w is not None:
        found["site_other_w"] = state.other_w
        found["site_other_known"] = True
    if state.import_limit_w is not None:
        found["site_import_limit_w"] = state.import_limit_w
    if state.export_limit_w is not None:
        found["site_export_limit_w"] = state.export_limit_w
    return found


async def evse_states(
    adapter: StationAdapter,
    sites: Mapping[str, str],
    shares: Mapping[str, tuple[float, float]] | None = None,
) -> list[EvseState]:
    """Planner input for the EVSEs in `sites` (evse id → site id), capped by `shares`."""
    targets = [ControlTarget(ControlLevel.EVSE, evse_id) for evse_id in sites]
    states = await adapter.read_state(targets)
    sessions = {s.evse_id: s for s in await adapter.sessions() if s.evse_id in sites}
    site_targets = [
        ControlTarget(ControlLevel.SITE, site_id) for site_id in sorted(set(sites.values()))
    ]
    connection = {s.target.id: _connection_state(s) for s in await adapter.read_state(site_targets)}
    result = []
    for state in states:
        evse_id = state.target.id
        max_import, max_export = state.max_import_w, max(0.0, state.max_export_w)
        if shares is not None and evse_id in shares:
            max_import = min(max_import, shares[evse_id][0] or max_import)
            max_export = min(max_export, shares[evse_id][1] or max_export)
        result.append(
            EvseState(
                evse_id=evse_id,
                site_id=sites[evse_id],
                connected=state.connected_evs > 0,
                p_w=state.p_w,
                max_import_w=max_import,
                max_export_w=max_export,
                **_session_state(sessions.get(evse_id)),  # type: ignore[arg-type]
                **connection.get(sites[evse_id], {}),  # type: ignore[arg-type]
            )
        )
    return result


def _armed_command(armed: ArmedFunction) -> DroopCommand | FfrCommand | None:
    if armed.triggers:
        first = armed.triggers[0]
        return FfrCommand(
            trigger_hz=first.frequency_hz,
            delta_p_w=first.delta_p_w,
            full_activation_time_s=first.full_activation_time_s,
            support_duration_s=float(armed.support_duration_s or 0),
            rearm_s=float(armed.rearm_time_s or 0),
            levels=tuple(
                (t.frequency_hz, t.delta_p_w, t.full_activation_time_s) for t in armed.triggers
            ),
            detection_delay_s=armed.detection_delay_s,
            deactivation_ramp_s=float(armed.deactivation_ramp_s or 0),
            latched=armed.latched,
        )
    if armed.f_ref_hz is not None:
        return DroopCommand(
            f_ref_hz=armed.f_ref_hz,
            deadband_hz=armed.deadband_over_hz or 0.0,
            droop_pct=armed.droop_over_pct or 100.0,
            p_min_w=armed.p_min_w,
            p_max_w=armed.p_max_w,
            p_ref_w=armed.p_ref_w,
            response_time_s=armed.response_time_s,
            deadband_under_hz=armed.deadband_under_hz,
            droop_under_pct=armed.droop_under_pct,
            curve=armed.curve,
            volt_var=armed.volt_var,
            volt_watt=armed.volt_watt,
        )
    return None


def commands_at(plan: Plan, at: datetime, fs_id: str) -> list[Command]:
    """The adapter commands of `plan` in force at `at` (each expires with its step)."""
    commands: list[Command] = []
    for evse_plan in plan.evse_plans:
        target = ControlTarget(ControlLevel.EVSE, evse_plan.evse_id)
        step = next((s for s in evse_plan.steps if s.start <= at < s.end), None)
        if step is None:
            continue
        if step.setpoint_w is not None:
            control: SetpointCommand | LimitCommand = SetpointCommand(
                step.setpoint_w, step.setpoint_var
            )
        elif step.max_import_w is not None or step.max_export_w is not None:
            control = LimitCommand(step.max_import_w, step.max_export_w)
        else:
            continue
        commands.append(Command(target, control, fs_id=fs_id, valid_until=step.end))
    for armed in plan.armed:
        armed_control = _armed_command(armed)
        if armed_control is not None and armed.start <= at < armed.end:
            target = ControlTarget(ControlLevel.EVSE, armed.evse_id)
            if isinstance(armed_control, DroopCommand):
                # Droop acts around the power the EVSE holds: hold the baseline as a setpoint.
                baseline = SetpointCommand(armed.baseline_w, None)
                commands.append(Command(target, baseline, fs_id=fs_id, valid_until=armed.end))
            commands.append(Command(target, armed_control, fs_id=fs_id, valid_until=armed.end))
    return commands


def next_change(plan: Plan, at: datetime, horizon: datetime) -> datetime:
    """When the plan changes next after `at` (a step boundary), at the latest `horizon`."""
    boundaries: Sequence[datetime] = [
        edge
        for evse_plan in plan.evse_plans
        for step in evse_plan.steps
        for edge in (step.start, step.end)
        if edge > at
    ] + [edge for armed in plan.armed for edge in (armed.start, armed.end) if edge > at]
    return min([*boundaries, horizon])


def respect_minimums(
    commands: list[Command], minimums: Mapping[str, float], rooms: Mapping[str, float]
) -> list[Command]:
    """Regroup charging setpoints below an EVSE's minimum charge power.

    An AC EVSE cannot charge below 6 A (about 4.1 kW on three phases): a proportional split of a
    small setpoint over many EVSEs would leave every one of them at zero. The small shares are
    pooled and given to as few EVSEs as possible, each at least its minimum and at most its
    headroom, so the sum is kept whenever it is physically reachable.
    """
    small = [
        c
        for c in commands
        if isinstance(c.control, SetpointCommand)
        and 0 < c.control.p_w < minimums.get(c.target.id, 0.0)
    ]
    if not small:
        return commands
    pool = sum(c.control.p_w for c in small if isinstance(c.control, SetpointCommand))
    regrouped: dict[str, float] = {}
    previous: str | None = None
    for command in sorted(small, key=lambda c: -rooms.get(c.target.id, 0.0)):
        evse_id = command.target.id
        minimum, room = minimums.get(evse_id, 0.0), rooms.get(evse_id, 0.0)
        give = min(room, pool)
        if 0 < give < minimum <= room and previous is not None:
            # Borrow from the previous EVSE so that both stay at or above their minimum.
            borrow = minimum - give
            if regrouped[previous] - borrow >= minimums.get(previous, 0.0):
                regrouped[previous] -= borrow
                give, pool = minimum, pool + borrow
        if give >= minimum and give > 0:
            regrouped[evse_id] = give
            pool -= give
            previous = evse_id
        else:
            regrouped[evse_id] = 0.0
    result = []
    for command in commands:
        if command in small:
            control = SetpointCommand(regrouped[command.target.id], None)
            result.append(Command(command.target, control, command.fs_id, command.valid_until))
        else:
            result.append(command)
    return result
