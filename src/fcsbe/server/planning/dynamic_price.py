"""DYNAMIC_PRICE (UC 2.6): charge when import is cheap, discharge (V2H/V2G) when export pays.

Per EV, in two passes over the intervals before its departure:

1. Charging: the energy the EV wants goes into the cheapest import intervals
   (`charging.fill_cheapest`), so the minimum SoC at departure is met when time and power allow.
2. Discharging, only when the signal allows V2X, the EV user allows V2G and there is export
   headroom: intervals are taken by export price, highest first; each is paired with the
   cheapest interval that can buy the same energy back, and energy moves while the export price
   times `ROUND_TRIP_EFFICIENCY` still beats that import price. Every pair returns to the grid
   exactly what it takes, so the energy at departure is unchanged; an amount is cut to what keeps
   the SoC between the EV user's floor and a full battery over the whole span between the two
   intervals, and to the energy the EV user still allows to give back.

An interval is never both charging and discharging. EVs that discharge get setpoints; the others
get charging limits, as in demand response. No firm commitment: the committed schedule is the
planned net aggregate power per interval.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from fcsbe.model import DynamicPriceSignal, FlexibilityServiceRequest, FsType, ReasonCode
from fcsbe.server.planning.charging import fill_cheapest, min_soc_shortfall, present_slots
from fcsbe.server.planning.timeline import Slot, clip_slots, merge_steps, slot_of
from fcsbe.server.planning.types import EvsePlan, EvseState, Feasibility, Plan, PlanStep, Shortfall

__all__ = ["ROUND_TRIP_EFFICIENCY", "plan_dynamic_price"]

ROUND_TRIP_EFFICIENCY = 0.9
"""Share of discharged energy worth buying back: selling must beat buying by this margin."""

_EPSILON_WH = 1e-6


def plan_dynamic_price(
    request: FlexibilityServiceRequest, evses: Sequence[EvseState], now: datetime
) -> Plan:
    """Per-EVSE charging and discharging per interval from import and export prices."""
    params = request.parameters
    if not isinstance(params, DynamicPriceSignal):
        raise TypeError(f"plan_dynamic_price needs a DynamicPriceSignal, not {params.fs_type}")
    start = request.window.start
    slots = clip_slots(
        (slot_of(k, start, i.start_offset_s, i.duration_s) for k, i in enumerate(params.intervals)),
        now,
        request.window.end,
    )
    aggregate = [0.0] * len(params.intervals)
    plans: list[EvsePlan] = []
    shortfalls: list[Shortfall] = []
    excluded: list[str] = []
    for evse in evses:
        present = present_slots(slots, evse, now)
        if not present or (evse.import_room_w <= 0 and evse.export_room_w <= 0):
            excluded.append(evse.evse_id)
            continue
        imports = [float(params.intervals[s.index].import_price_per_kwh) for s in present]
        fill = fill_cheapest(present, [(p, 0.0) for p in imports], evse)
        charge = list(fill.power_w)
        discharge = [0.0] * len(present)
        if params.v2x_allowed and evse.export_room_w > 0:
            exports = [params.intervals[s.index].export_price_per_kwh for s in present]
            _arbitrage(
                present,
                imports,
                [None if x is None else float(x) for x in exports],
                charge,
                discharge,
                evse,
            )
        net = [c - d for c, d in zip(charge, discharge, strict=True)]
        plans.append(EvsePlan(evse.evse_id, _steps(present, net, any(discharge), evse)))
        for s, p in zip(present, net, strict=True):
            aggregate[s.index] += p * s.seconds / params.intervals[s.index].duration_s
        short = min_soc_shortfall(evse, fill.missing_min_wh, request.window.end)
        if short is not None:
            shortfalls.append(short)
    if not slots:
        shortfalls.append(Shortfall(ReasonCode.TOO_LATE, "every interval has passed"))
    elif not plans:
        shortfalls.append(
            Shortfall(ReasonCode.INSUFFICIENT_AVAILABILITY, "no connected EV can take part")
        )
    schedule = tuple(
        (i.start_offset_s, i.duration_s, aggregate[k])
        for k, i in enumerate(params.intervals)
        if any(s.index == k for s in slots)
    )
    feasibility = Feasibility(
        requested_w=0.0,
        committed_w=None,
        share_pct=100.0 if plans else 0.0,
        committed_schedule=schedule,
        shortfalls=tuple(shortfalls),
        firm=False,
    )
    return Plan(FsType.DYNAMIC_PRICE, tuple(plans), feasibility, excluded=tuple(excluded))


def _arbitrage(
    slots: Sequence[Slot],
    imports: Sequence[float],
    exports: Sequence[float | None],
    charge: list[float],
    discharge: list[float],
    evse: EvseState,
) -> None:
    """Move energy from cheap import intervals to high export intervals, in place."""
    allowance = evse.export_energy_left_wh
    floor = -evse.energy_above_floor_wh
    full = evse.energy_to_full_wh
    by_export = sorted(
        (j for j, x in enumerate(exports) if x is not None), key=lambda j: -(exports[j] or 0.0)
    )
    for j in by_export:
        value = (exports[j] or 0.0) * ROUND_TRIP_EFFICIENCY
        if charge[j] > 0:
            continue
        buyers = sorted(
            (i for i in range(len(slots)) if i != j and discharge[i] == 0 and imports[i] < value),
            key=lambda i: (imports[i], slots[i].start),
        )
        for i in buyers:
            room_j = (evse.export_room_w - discharge[j]) * slots[j].hours
            if room_j <= _EPSILON_WH or allowance <= _EPSILON_WH:
                break
            spare_i = (evse.import_room_w - charge[i]) * slots[i].hours
            levels = _levels(slots, charge, discharge)
            # charging first raises the SoC until the discharge; discharging first lowers it
            # until the charge
            margin = (
                full - max(levels[i + 1 : j + 1]) if i < j else min(levels[j + 1 : i + 1]) - floor
            )
            amount = min(room_j, spare_i, allowance, margin)
            if amount <= _EPSILON_WH:
                continue
            discharge[j] += amount / slots[j].hours
            charge[i] += amount / slots[i].hours
            allowance -= amount


def _levels(
    slots: Sequence[Slot], charge: Sequence[float], discharge: Sequence[float]
) -> list[float]:
    """Battery energy relative to now at each slot boundary (index k = start of slot k)."""
    levels = [0.0]
    for s, c, d in zip(slots, charge, discharge, strict=True):
        levels.append(levels[-1] + (c - d) * s.hours)
    return levels


def _steps(
    slots: Sequence[Slot], net: Sequence[float], discharges: bool, evse: EvseState
) -> tuple[PlanStep, ...]:
    """Setpoints for an EV that discharges, charging limits for one that only charges."""
    if discharges:
        return merge_steps(
            [
                PlanStep(s.start, s.end, p, evse.import_room_w, evse.export_room_w)
                for s, p in zip(slots, net, strict=True)
            ]
        )
    return merge_steps(
        [PlanStep(s.start, s.end, None, max(p, 0.0), 0.0) for s, p in zip(slots, net, strict=True)]
    )
