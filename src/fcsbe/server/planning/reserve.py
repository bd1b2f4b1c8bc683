"""RESERVE (UC 2.5): capacity held up and down over the window, then activated by the FO.

Reservation: what each connected EVSE can hold *through the whole window*, not what it could do
at this instant (`window_rooms`): an EV that leaves inside the window holds nothing; its range
is [lo, hi] where hi is its import headroom, lowered to what its battery can still take spread
over the window (an EV that fills up mid-window cannot keep charging, nor absorb more), and lo
the power it must keep charging through the window to reach its user's minimum SoC by
departure, or, without such a floor, minus the export its headroom, SoC floor and the energy
its user allows to give back can sustain over the window. Its baseline is its present power
clamped into [lo, hi]; its upward room is baseline - lo, its downward room hi - baseline. The
offer's `up_w` and `down_w` are shared over those rooms in proportion to them
(`allocation.split_total`). Nothing is sent to the stations until an activation.

Activation (`plan_reserve_activation`): the activation's ΔP is shared over the EVSEs in
proportion to what each reserved in that direction, never above it; each EVSE ramps from its
baseline to baseline -/+ its share in at most five steps over the full-activation time, holds for
the activation's duration, and then its plan ends (the station returns to its normal profile).
More than the reservation is not committed, and neither is time past the window.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from fcsbe.model import (
    ActivationDirection,
    FlexibilityServiceRequest,
    FsType,
    ReasonCode,
    ReserveActivation,
    ReserveOffer,
)
from fcsbe.server.planning.allocation import split_total
from fcsbe.server.planning.timeline import merge_steps, ramp_points
from fcsbe.server.planning.types import (
    EvsePlan,
    EvseState,
    Feasibility,
    Plan,
    PlanStep,
    Reservation,
    Shortfall,
    share_pct,
)

__all__ = ["WindowRoom", "plan_reserve", "plan_reserve_activation", "window_rooms"]

_EPSILON_W = 1e-6


@dataclass(frozen=True, slots=True)
class WindowRoom:
    """The range an EVSE can hold through a whole window (W, + import), or why it holds none."""

    evse_id: str
    lo_w: float
    baseline_w: float
    hi_w: float
    excluded: str | None = None


def window_rooms(
    evses: Sequence[EvseState], start: datetime, end: datetime, now: datetime
) -> list[WindowRoom]:
    """Each connected EVSE's range through [start, end), judged at `now` (see the module).

    The energy an EV takes before the window (at its present power) is counted: it needs that
    much less, and its battery can take that much less.
    """
    hours = max((end - start).total_seconds(), 1.0) / 3600
    lead_h = max((start - now).total_seconds(), 0.0) / 3600
    rooms: list[WindowRoom] = []
    for e in evses:
        if not e.connected:
            continue
        if e.departure is not None and e.departure < end:
            reason = f"its EV leaves at {e.departure.isoformat()}, inside the window"
            rooms.append(WindowRoom(e.evse_id, 0.0, 0.0, 0.0, reason))
            continue
        before_wh = max(e.p_w, 0.0) * lead_h
        hi = max(e.max_import_w, 0.0)
        if math.isfinite(e.energy_to_full_wh):
            hi = min(hi, max(0.0, e.energy_to_full_wh - before_wh) / hours)
        need_wh = max(0.0, e.energy_to_min_soc_wh - before_wh)
        floor = 0.0
        if need_wh > 0 and e.departure is not None:
            after_h = (e.departure - end).total_seconds() / 3600
            floor = min(hi, max(0.0, need_wh - e.import_room_w * after_h) / hours)
        lo = floor
        if floor <= _EPSILON_W and e.export_room_w > 0:
            give_wh = min(e.energy_above_floor_wh, e.export_energy_left_wh)
            lo = -min(e.export_room_w, give_wh / hours)
        rooms.append(WindowRoom(e.evse_id, lo, min(max(e.p_w, lo), hi), hi))
    return rooms


def plan_reserve(
    request: FlexibilityServiceRequest, evses: Sequence[EvseState], now: datetime
) -> Plan:
    """Per-EVSE reserved up/down capacity for the window, and how much of the offer holds."""
    params = request.parameters
    if not isinstance(params, ReserveOffer):
        raise TypeError(f"plan_reserve needs a ReserveOffer, not {params.fs_type}")
    rooms = window_rooms(evses, request.window.start, request.window.end, now)
    held = [r for r in rooms if r.excluded is None]
    ups = split_total(params.up_w, [r.baseline_w - r.lo_w for r in held])
    downs = split_total(params.down_w, [r.hi_w - r.baseline_w for r in held])
    reservations = tuple(
        Reservation(r.evse_id, r.baseline_w, ups[i], downs[i])
        for i, r in enumerate(held)
        if ups[i] > _EPSILON_W or downs[i] > _EPSILON_W
    )
    got_up, got_down = sum(ups), sum(downs)
    shortfalls: list[Shortfall] = []
    late = max(now, request.window.start) >= request.window.end
    if late:
        shortfalls.append(Shortfall(ReasonCode.TOO_LATE, "the reserve window has passed"))
    for name, asked, got in (("up", params.up_w, got_up), ("down", params.down_w, got_down)):
        if got < asked - _EPSILON_W:
            shortfalls.append(
                Shortfall(
                    ReasonCode.INSUFFICIENT_AVAILABILITY,
                    f"{name}ward reserve {got:g} W of {asked:g} W available over the window",
                )
            )
    for room in rooms:
        if room.excluded is not None:
            shortfalls.append(Shortfall(ReasonCode.EVU_LIMIT, room.excluded, evse_id=room.evse_id))
    shares = [
        share_pct(g, a) for g, a in ((got_up, params.up_w), (got_down, params.down_w)) if a > 0
    ]
    return Plan(
        fs_type=FsType.RESERVE,
        evse_plans=(),
        feasibility=Feasibility(
            requested_w=params.up_w + params.down_w,
            committed_w=got_up + got_down,
            share_pct=0.0 if late or not reservations else min(shares),
            shortfalls=tuple(shortfalls),
        ),
        reservations=reservations,
        excluded=tuple(sorted({e.evse_id for e in evses} - {r.evse_id for r in reservations})),
    )


def plan_reserve_activation(
    request: FlexibilityServiceRequest,
    activation: ReserveActivation,
    reservations: Sequence[Reservation],
    now: datetime,
) -> Plan:
    """Per-EVSE setpoint steps that deliver an activation out of the reservations."""
    if not isinstance(request.parameters, ReserveOffer):
        raise TypeError(f"activation of a {request.fs_type} FS")
    start = max(activation.start or now, now, request.window.start)
    end = min(start + timedelta(seconds=activation.duration_s), request.window.end)
    up = activation.direction is ActivationDirection.UP
    rooms = [r.up_w if up else r.down_w for r in reservations]
    shares = split_total(activation.delta_p_w, rooms)
    plans: list[EvsePlan] = []
    if end > start:
        for reservation, share in zip(reservations, shares, strict=True):
            if share <= _EPSILON_W:
                continue
            target = reservation.baseline_w + (-share if up else share)
            points = ramp_points(
                start, reservation.baseline_w, target, activation.full_activation_time_s, end
            )
            steps = [
                PlanStep(
                    at,
                    points[k + 1][0] if k + 1 < len(points) else end,
                    value,
                    max(reservation.baseline_w + reservation.down_w, 0.0),
                    max(reservation.up_w - reservation.baseline_w, 0.0),
                )
                for k, (at, value) in enumerate(points)
            ]
            plans.append(EvsePlan(reservation.evse_id, merge_steps(steps)))
    got = sum(shares) if end > start else 0.0
    shortfalls: list[Shortfall] = []
    if end <= start:
        shortfalls.append(Shortfall(ReasonCode.TOO_LATE, "the activation falls after the window"))
    elif got < activation.delta_p_w - _EPSILON_W:
        shortfalls.append(
            Shortfall(
                ReasonCode.INSUFFICIENT_AVAILABILITY,
                f"{got:g} W of {activation.delta_p_w:g} W reserved in direction "
                f"{activation.direction}",
            )
        )
    offset = int((start - request.window.start).total_seconds())
    sign = -1.0 if up else 1.0
    return Plan(
        fs_type=FsType.RESERVE,
        evse_plans=tuple(plans),
        feasibility=Feasibility(
            requested_w=activation.delta_p_w,
            committed_w=got,
            share_pct=share_pct(got, activation.delta_p_w) if end > start else 0.0,
            committed_schedule=((offset, int((end - start).total_seconds()), sign * got),)
            if end > start
            else (),
            shortfalls=tuple(shortfalls),
        ),
        reservations=tuple(reservations),
    )
