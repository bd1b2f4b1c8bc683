"""CONGESTION (UC 2.7): import/export limits at a grid node, shared over the EVSEs behind it.

The EVSEs behind the node are those whose `grid_node` is the payload's node (or unknown: the
caller passes the targets it resolved to that node). Pass every EVSE behind the node, targeted
or not: the limit is on their sum. Per period:

- import: the limit is split by the rule of `allocation` with each EV anchored at the power it
  must charge to reach its minimum SoC by departure, so must-charge power is served first and the
  rest of the limit goes to the EVSEs in proportion to their remaining import headroom. When the
  limit is below the sum of must-charge powers every EV gets the same fraction of its need (the
  limit wins: it protects the grid) and the EVs left short are reported as EVU_LIMIT;
- export: the limit is split over the discharge headroom in proportion to it.

The shares never sum above the limits, so charging and discharging together respect them.
EVSEs without an EV get 0 until the plan is redone when one connects. A period without an
import limit leaves each EVSE at its own headroom (`max_import_w`); one without an export limit
leaves discharge unbounded by this FS (`max_export_w` None).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from fcsbe.model import (
    CongestionLimits,
    CongestionPeriod,
    FlexibilityServiceRequest,
    FsType,
    ReasonCode,
)
from fcsbe.server.planning.allocation import SplitBasis, split_setpoint, split_total
from fcsbe.server.planning.charging import min_soc_shortfall
from fcsbe.server.planning.timeline import clip_slots, merge_steps, slot_of
from fcsbe.server.planning.types import EvsePlan, EvseState, Feasibility, Plan, PlanStep, Shortfall

__all__ = ["behind_node", "plan_congestion"]


def behind_node(evses: Sequence[EvseState], grid_node: str) -> list[EvseState]:
    """The EVSEs behind `grid_node` (an unknown node counts as behind it)."""
    return [e for e in evses if e.grid_node is None or e.grid_node == grid_node]


def plan_congestion(
    request: FlexibilityServiceRequest, evses: Sequence[EvseState], now: datetime
) -> Plan:
    """Per-EVSE import/export caps per period whose sums never exceed the node's limits."""
    params = request.parameters
    if not isinstance(params, CongestionLimits):
        raise TypeError(f"plan_congestion needs CongestionLimits, not {params.fs_type}")
    behind = behind_node(evses, params.grid_node)
    excluded = [e.evse_id for e in evses if e not in behind]
    slots = clip_slots(
        (
            slot_of(k, request.window.start, p.start_offset_s, p.duration_s)
            for k, p in enumerate(params.periods)
        ),
        now,
        request.window.end,
    )
    must = [e.must_charge_w(now) for e in behind]
    imports = SplitBasis.of_ranges(
        [e.evse_id for e in behind], [0.0] * len(behind), must, [e.import_room_w for e in behind]
    )
    export_rooms = [e.export_room_w for e in behind]
    steps: list[list[PlanStep]] = [[] for _ in behind]
    delivered = [0.0] * len(behind)
    for slot in slots:
        period = params.periods[slot.index]
        caps_in = (
            split_setpoint(period.import_limit_w, imports)
            if period.import_limit_w is not None
            else [max(e.max_import_w, 0.0) for e in behind]
        )
        caps_out: list[float | None] = (
            list(split_total(period.export_limit_w, export_rooms))
            if period.export_limit_w is not None
            else [None] * len(behind)
        )
        for i, evse in enumerate(behind):
            if evse.departure is not None and evse.departure <= slot.start:
                continue
            cap_in = caps_in[i]
            end = slot.end if evse.departure is None else min(slot.end, evse.departure)
            steps[i].append(PlanStep(slot.start, end, None, cap_in, caps_out[i]))
            hours = (end - slot.start).total_seconds() / 3600.0
            delivered[i] += min(cap_in, evse.import_room_w) * hours
    shortfalls: list[Shortfall] = []
    if not slots:
        shortfalls.append(Shortfall(ReasonCode.TOO_LATE, "every congestion period has passed"))
    for i, evse in enumerate(behind):
        short = min_soc_shortfall(
            evse, max(0.0, evse.energy_to_min_soc_wh - delivered[i]), request.window.end
        )
        if short is not None and slots:
            shortfalls.append(short)
    return Plan(
        fs_type=FsType.CONGESTION,
        evse_plans=tuple(
            EvsePlan(e.evse_id, merge_steps(s)) for e, s in zip(behind, steps, strict=True) if s
        ),
        feasibility=Feasibility(
            requested_w=0.0,
            committed_w=None,
            share_pct=100.0 if slots else 0.0,
            committed_schedule=tuple(
                (
                    params.periods[s.index].start_offset_s,
                    params.periods[s.index].duration_s,
                    _committed_limit(params.periods[s.index]),
                )
                for s in slots
            ),
            shortfalls=tuple(shortfalls),
        ),
        excluded=tuple(excluded),
    )


def _committed_limit(period: CongestionPeriod) -> float:
    """The committed limit of a period as one signed power: the import limit, else minus the
    export limit (import positive)."""
    if period.import_limit_w is not None:
        return period.import_limit_w
    return -(period.export_limit_w or 0.0)
