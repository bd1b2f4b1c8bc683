"""SETPOINT (UC 2.1): follow an aggregate active-power schedule, and its dynamic updates.

Each period's setpoint is split over the EVSEs present for the whole period by the rule of
`allocation` (proportional to headroom in the direction asked, from each EV's must-charge power,
which it always keeps). An EV leaving during a period takes no part in it, so no share is given
to an EV that will not be there. A period with `ramp_w_per_s` moves from the previous aggregate
(the present aggregate power for the first period) to its setpoint in at most five steps, each
split the same way. Gaps between periods are "no setpoint": the EVSE plans have no step there.

Feasibility: per period the committed power is the setpoint clamped into what the present EVSEs
can reach; the committed share is 100 % minus the worst deviation relative to the largest
requested magnitude. Dynamic updates reuse `SplitBasis.for_setpoint` + `split_setpoint`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from fcsbe.model import FlexibilityServiceRequest, FsType, ReasonCode, SetpointSchedule
from fcsbe.server.planning.allocation import SplitBasis, split_setpoint
from fcsbe.server.planning.timeline import Slot, clip_slots, merge_steps, ramp_points, slot_of
from fcsbe.server.planning.types import (
    EvsePlan,
    EvseState,
    Feasibility,
    Plan,
    PlanStep,
    Shortfall,
    share_pct,
)

__all__ = ["plan_setpoint"]

_EPSILON_W = 1e-6


def plan_setpoint(
    request: FlexibilityServiceRequest, evses: Sequence[EvseState], now: datetime
) -> Plan:
    """Per-EVSE setpoint steps for a SETPOINT schedule, and how much of it can be committed."""
    params = request.parameters
    if not isinstance(params, SetpointSchedule):
        raise TypeError(f"plan_setpoint needs a SetpointSchedule, not {params.fs_type}")
    start = request.window.start
    slots = clip_slots(
        (
            slot_of(i, start, p.start_offset_s, params.resolution_s)
            for i, p in enumerate(params.periods)
        ),
        now,
        request.window.end,
    )
    steps: dict[str, list[PlanStep]] = {e.evse_id: [] for e in evses if e.connected}
    committed: list[tuple[int, int, float]] = []
    worst = (0.0, 0.0, 0.0)  # (deviation, requested, committed) of the worst period
    previous = sum(e.p_w for e in evses if e.connected)
    bases: dict[frozenset[str], SplitBasis] = {}
    for slot in slots:
        period = params.periods[slot.index]
        basis = _basis_for(slot, evses, now, bases)
        reached = basis.feasible(period.p_w)
        committed.append((int((slot.start - start).total_seconds()), int(slot.seconds), reached))
        if abs(reached - period.p_w) > worst[0]:
            worst = (abs(reached - period.p_w), period.p_w, reached)
        ramp_s = 0.0
        if period.ramp_w_per_s is not None:
            ramp_s = min(abs(period.p_w - previous) / period.ramp_w_per_s, slot.seconds)
        points = ramp_points(slot.start, previous, period.p_w, ramp_s, slot.end)
        widths = [h - low for low, h in zip(basis.lo, basis.hi, strict=True)]
        width_sum = sum(widths)
        for k, (at, value) in enumerate(points):
            until = points[k + 1][0] if k + 1 < len(points) else slot.end
            shares = split_setpoint(value, basis)
            for i, evse_id in enumerate(basis.evse_ids):
                q = None
                if period.q_var is not None:
                    q = period.q_var * widths[i] / width_sum if width_sum > 0 else 0.0
                steps[evse_id].append(
                    PlanStep(
                        start=at,
                        end=until,
                        setpoint_w=shares[i],
                        max_import_w=basis.hi[i],
                        max_export_w=max(0.0, -basis.lo[i]),
                        setpoint_var=q,
                    )
                )
        previous = period.p_w
    return Plan(
        fs_type=FsType.SETPOINT,
        evse_plans=tuple(EvsePlan(i, merge_steps(s)) for i, s in steps.items() if s),
        feasibility=_feasibility(committed, params, worst, slots, evses, now),
        excluded=tuple(e.evse_id for e in evses if e.evse_id not in steps or not steps[e.evse_id]),
    )


def _basis_for(
    slot: Slot, evses: Sequence[EvseState], now: datetime, cache: dict[frozenset[str], SplitBasis]
) -> SplitBasis:
    """The basis of the EVSEs whose EV stays for the whole slot (cached per set of EVSEs)."""
    present = [e for e in evses if e.connected and (e.departure is None or e.departure >= slot.end)]
    key = frozenset(e.evse_id for e in present)
    if key not in cache:
        cache[key] = SplitBasis.for_setpoint(present, now)
    return cache[key]


def _feasibility(
    committed: list[tuple[int, int, float]],
    params: SetpointSchedule,
    worst: tuple[float, float, float],
    slots: list[Slot],
    evses: Sequence[EvseState],
    now: datetime,
) -> Feasibility:
    requested = max((abs(params.periods[s.index].p_w) for s in slots), default=0.0)
    deviation, asked, reached = worst
    shortfalls: list[Shortfall] = []
    if not slots:
        shortfalls.append(Shortfall(ReasonCode.TOO_LATE, "every setpoint period has passed"))
    elif deviation > _EPSILON_W:
        must = sum(e.must_charge_w(now) for e in evses)
        code = (
            ReasonCode.EVU_LIMIT
            if reached > asked and must > _EPSILON_W and asked < must
            else ReasonCode.INSUFFICIENT_AVAILABILITY
        )
        shortfalls.append(Shortfall(code, f"setpoint {asked:g} W reachable only as {reached:g} W"))
    if not slots or (requested <= _EPSILON_W and deviation > _EPSILON_W):
        share = 0.0
    else:
        share = share_pct(requested - deviation, requested)
    return Feasibility(
        requested_w=requested,
        committed_w=committed[0][2] if len(committed) == 1 else None,
        share_pct=share,
        committed_schedule=tuple(committed),
        shortfalls=tuple(shortfalls),
    )
