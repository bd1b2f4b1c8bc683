"""RESERVE (UC 2.5): capacity held up and down over the window, then activated by the FO.

Reservation: each connected EVSE's baseline is its present power clamped into its range; its
upward room is baseline - lo (less import, more export down to its export headroom, or to the
power its EV must charge), its downward room hi - baseline. The offer's `up_w` and `down_w` are
shared over those rooms in proportion to them (`allocation.split_total`). Nothing is sent to the
stations until an activation.

Activation (`plan_reserve_activation`): the activation's ΔP is shared over the EVSEs in
proportion to what each reserved in that direction, never above it; each EVSE ramps from its
baseline to baseline -/+ its share in at most five steps over the full-activation time, holds for
the activation's duration, and then its plan ends (the station returns to its normal profile).
More than the reservation is not committed, and neither is time past the window.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from fcsbe.model import (
    ActivationDirection,
    FlexibilityServiceRequest,
    FsType,
    ReasonCode,
    ReserveActivation,
    ReserveOffer,
)
from fcsbe.server.planning.allocation import SplitBasis, split_total
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

__all__ = ["plan_reserve", "plan_reserve_activation"]

_EPSILON_W = 1e-6


def plan_reserve(
    request: FlexibilityServiceRequest, evses: Sequence[EvseState], now: datetime
) -> Plan:
    """Per-EVSE reserved up/down capacity for the window, and how much of the offer holds."""
    params = request.parameters
    if not isinstance(params, ReserveOffer):
        raise TypeError(f"plan_reserve needs a ReserveOffer, not {params.fs_type}")
    basis = SplitBasis.for_setpoint(evses, now)
    power = {e.evse_id: e.p_w for e in evses}
    baselines = [
        min(max(power[i], low), high)
        for i, low, high in zip(basis.evse_ids, basis.lo, basis.hi, strict=True)
    ]
    rooms_up = [b - low for b, low in zip(baselines, basis.lo, strict=True)]
    rooms_down = [high - b for b, high in zip(baselines, basis.hi, strict=True)]
    ups = split_total(params.up_w, rooms_up)
    downs = split_total(params.down_w, rooms_down)
    reservations = tuple(
        Reservation(evse_id, baselines[i], ups[i], downs[i])
        for i, evse_id in enumerate(basis.evse_ids)
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
                    f"{name}ward reserve {got:g} W of {asked:g} W available",
                )
            )
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
