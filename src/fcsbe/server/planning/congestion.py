"""CONGESTION (UC 2.7): import/export limits at a grid node, judged at the connection points.

The DSO's limit is on what the sites behind the node draw from the grid, as their point-of-
connection meters measure it: EV charging *plus* the rest of each site (household or building
load, minus PV). The EVSEs behind the node are those whose `grid_node` is the payload's node
(or unknown: the caller passes the targets it resolved to that node). Per period:

- the EVs' budget is what the limit leaves after the rest of the sites: import
  `limit - sum(other)`, export `limit + sum(other)` (a house's load absorbs a discharging EV's
  export; PV adds to it), where `other` is each site's `site_other_w` at planning time (counted
  once per site). Plans are redone at least every minute from fresh meter values;
- import: the budget is split by the rule of `allocation` with each EV anchored at the power it
  must charge to reach its minimum SoC by departure, so must-charge power is served first and the
  rest goes to the EVSEs in proportion to their remaining import headroom. When the budget is
  below the sum of must-charge powers every EV gets the same fraction of its need (the limit
  wins: it protects the grid) and the EVs left short are reported as EVU_LIMIT;
- **EVSEs without an EV keep a cap too**: the part of the budget the connected EVs cannot use
  is shared equally over them (0 when there is none), so an EV that arrives during the limit is
  capped from its first second, and gets its fair share at the next replan;
- export: the budget is split over the discharge headroom in proportion to it (an EVSE without
  an EV gets 0 until the replan).

The caps never sum above the budgets, so charging and discharging together respect the limits
at the connection points as long as the rest of the sites does not move between two plans. A
period without an import limit leaves import unbounded by this FS (`max_import_w` None); one
without an export limit leaves discharge unbounded (`max_export_w` None). PV surplus beyond an
export limit is not soaked up by charging EVs here: the station curtails PV for that.
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

__all__ = ["behind_node", "other_load_w", "plan_congestion"]


def behind_node(evses: Sequence[EvseState], grid_node: str) -> list[EvseState]:
    """The EVSEs behind `grid_node` (an unknown node counts as behind it)."""
    return [e for e in evses if e.grid_node is None or e.grid_node == grid_node]


def other_load_w(evses: Sequence[EvseState]) -> float:
    """The non-EV power of the sites of `evses` at their connection points, each site once."""
    seen: dict[str, float] = {}
    for evse in evses:
        seen.setdefault(evse.site_id, evse.site_other_w)
    return sum(seen.values())


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
    other = other_load_w(behind)
    connected = [e for e in behind if e.connected]
    empty = [e for e in behind if not e.connected]
    must = [e.must_charge_w(now) for e in connected]
    imports = SplitBasis.of_ranges(
        [e.evse_id for e in connected],
        [0.0] * len(connected),
        must,
        [e.import_room_w for e in connected],
    )
    export_rooms = [e.export_room_w for e in behind]
    steps: dict[str, list[PlanStep]] = {e.evse_id: [] for e in behind}
    delivered = dict.fromkeys(steps, 0.0)
    for slot in slots:
        period = params.periods[slot.index]
        caps_in: dict[str, float | None] = dict.fromkeys(steps)
        if period.import_limit_w is not None:
            budget = max(0.0, period.import_limit_w - other)
            shares = split_setpoint(budget, imports) if connected else []
            caps_in.update(zip((e.evse_id for e in connected), shares, strict=True))
            spare = max(0.0, budget - sum(shares))
            caps_in.update((e.evse_id, spare / len(empty)) for e in empty)
        caps_out: list[float | None] = (
            list(split_total(max(0.0, period.export_limit_w + other), export_rooms))
            if period.export_limit_w is not None
            else [None] * len(behind)
        )
        for i, evse in enumerate(behind):
            # the cap holds for the whole period, whoever is plugged in (a departed EV's EVSE
            # may see another arrive)
            cap_in = caps_in[evse.evse_id]
            steps[evse.evse_id].append(PlanStep(slot.start, slot.end, None, cap_in, caps_out[i]))
            end = slot.end if evse.departure is None else min(slot.end, evse.departure)
            hours = max(0.0, (end - slot.start).total_seconds() / 3600.0)
            room = evse.import_room_w if cap_in is None else min(cap_in, evse.import_room_w)
            delivered[evse.evse_id] += room * hours
    shortfalls: list[Shortfall] = []
    if not slots:
        shortfalls.append(Shortfall(ReasonCode.TOO_LATE, "every congestion period has passed"))
    for evse in connected:
        missing = max(0.0, evse.energy_to_min_soc_wh - delivered[evse.evse_id])
        short = min_soc_shortfall(evse, missing, request.window.end)
        if short is not None and slots:
            shortfalls.append(short)
    return Plan(
        fs_type=FsType.CONGESTION,
        evse_plans=tuple(
            EvsePlan(e.evse_id, merge_steps(steps[e.evse_id])) for e in behind if steps[e.evse_id]
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
