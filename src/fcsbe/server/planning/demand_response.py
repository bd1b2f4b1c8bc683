"""DEMAND_RESPONSE (UC 2.2): shift charging to cheap or low-incentive intervals.

Each connected EV places the energy it wants (never less than its minimum-SoC need) in the
intervals before its departure, cheapest first (`charging.fill_cheapest`). Intervals are ranked
by incentive level first (OpenADR 3 SIMPLE: 0 normal ... 3 maximum shed; a priced interval counts
as level 0) and by price second. The result is a charging limit per interval: the EVSE may charge
up to it, and 0 sheds the interval entirely.

Every rise of an EVSE's limit comes after its own seeded delay (randomised start, see
`charging.hold_rises`; window `randomize_start_s`, default 300 s), so that the end of a dear
interval does not start every EV in the same second.

There is no firm commitment (the FO asks for a response, not for an amount): the FS is taken
whenever at least one EV can shift; the committed schedule reports the planned aggregate import
per interval so that delivered energy can be compared with it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from fcsbe.model import DemandResponseSignal, FlexibilityServiceRequest, FsType
from fcsbe.server.planning.charging import (
    SignalTimeline,
    fill_cheapest,
    min_soc_shortfall,
    present_slots,
    signal_feasibility,
)
from fcsbe.server.planning.timeline import merge_steps
from fcsbe.server.planning.types import EvsePlan, EvseState, Plan, PlanStep, Shortfall

__all__ = ["plan_demand_response"]


def plan_demand_response(
    request: FlexibilityServiceRequest, evses: Sequence[EvseState], now: datetime
) -> Plan:
    """Per-EVSE charging limits per interval, cheapest intervals first."""
    params = request.parameters
    if not isinstance(params, DemandResponseSignal):
        raise TypeError(f"plan_demand_response needs a DemandResponseSignal, not {params.fs_type}")
    timeline = SignalTimeline.of(request, params.intervals, params.randomize_start_s, now)
    aggregate = [0.0] * len(params.intervals)
    plans: list[EvsePlan] = []
    shortfalls: list[Shortfall] = []
    excluded: list[str] = []
    for evse in evses:
        present = present_slots(timeline.slots, evse, now)
        if not present or evse.import_room_w <= 0:
            excluded.append(evse.evse_id)
            continue
        costs = [_cost(params, s.index) for s in present]
        fill = fill_cheapest(present, costs, evse)
        steps = [
            PlanStep(start=s.start, end=s.end, max_import_w=p, max_export_w=0.0)
            for s, p in zip(present, fill.power_w, strict=True)
        ]
        for s, p in zip(present, fill.power_w, strict=True):
            aggregate[s.index] += p * s.seconds / params.intervals[s.index].duration_s
        held = timeline.hold(request, evse, merge_steps(steps), now, max(evse.p_w, 0.0))
        plans.append(EvsePlan(evse.evse_id, held))
        short = min_soc_shortfall(evse, fill.missing_min_wh, request.window.end)
        if short is not None:
            shortfalls.append(short)
    feasibility = signal_feasibility(
        params.intervals,
        timeline.slots,
        aggregate,
        shortfalls,
        taken=bool(plans),
        nobody="no connected EV can shift charging",
    )
    return Plan(
        fs_type=FsType.DEMAND_RESPONSE,
        evse_plans=tuple(plans),
        feasibility=feasibility,
        excluded=tuple(excluded),
    )


def _cost(params: DemandResponseSignal, index: int) -> tuple[float, float]:
    """(incentive level, price) of an interval; a priced interval is level 0."""
    interval = params.intervals[index]
    level = float(interval.incentive_level) if interval.incentive_level is not None else 0.0
    price = float(interval.price_per_kwh) if interval.price_per_kwh is not None else 0.0
    return (level, price)
