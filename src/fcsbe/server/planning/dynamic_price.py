"""DYNAMIC_PRICE (UC 2.6): charge when import is cheap, discharge (V2H/V2G) when it pays.

Per EV, in two passes over the intervals before its departure:

1. Charging: the energy the EV wants goes into the cheapest import intervals
   (`charging.fill_cheapest`), so the minimum SoC at departure is met when time and power allow.
2. Discharging, only when the signal allows V2X, the EV user allows V2G and there is discharge
   headroom. A discharged kWh is worth, in interval j:
   - **V2H**: the import price of j, for the part that covers the site's own load (household
     load minus PV, `site_other_w`): the home does not buy it;
   - **V2G**: the export price of j, for the part the connection may export
     (`site_export_limit_w`, less what PV already exports); a connection with a zero-export
     rule (a home's export limit of 0) gets none, so a V2H home never exports.
   With several EVs at one site the two parts are shared equally between them. Opportunities
   are taken by value, highest first; each is paired with the cheapest interval i that can buy
   the energy back, and energy moves while

       value(j) > import_price(i) / round_trip_efficiency + battery_wear_cost_per_kwh

   (both from the signal, defaults `ROUND_TRIP_EFFICIENCY`, `BATTERY_WEAR_COST_PER_KWH`): the
   battery gets back what it gave, so the grid side buys `1 / efficiency` of it, and each
   discharged kWh wears the battery. That is what keeps V2H from being V2G arbitrage: cheap
   night power is not cycled through the battery for a few cents. An amount is cut to what
   keeps the SoC between the EV user's floor and a full battery over the whole span between the
   two intervals, and to the energy the EV user still allows to give back.

An interval is never both charging and discharging. EVs that discharge get setpoints; the others
get charging limits, as in demand response. Every rise of an EVSE's power comes after its own
seeded delay (`charging.hold_rises`, `randomize_start_s`). No firm commitment: the committed
schedule is the planned net aggregate power per interval.

Worked example (V2H): a home draws 1.2 kW, its connection may not export, the EV may give 10 kW;
the evening costs 0.40/kWh, the night 0.05. A kWh discharged in the evening saves 0.40, buying
it back costs 0.05 / 0.9 + 0.05 wear = 0.106: the EV discharges 1.2 kW (not 10) in the evening
and charges 1.2 / 0.9 = 1.33 kW more at night.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from fcsbe.model import DynamicPriceSignal, FlexibilityServiceRequest, FsType
from fcsbe.server.planning.charging import (
    SignalTimeline,
    fill_cheapest,
    min_soc_shortfall,
    present_slots,
    signal_feasibility,
)
from fcsbe.server.planning.timeline import Slot, merge_steps
from fcsbe.server.planning.types import EvsePlan, EvseState, Plan, PlanStep, Shortfall

__all__ = ["BATTERY_WEAR_COST_PER_KWH", "ROUND_TRIP_EFFICIENCY", "plan_dynamic_price"]

ROUND_TRIP_EFFICIENCY = 0.9
"""Default share of the energy bought back that the battery gives again (charger and battery
losses, both ways)."""

BATTERY_WEAR_COST_PER_KWH = 0.05
"""Default cost of battery wear per kWh discharged, in the signal's currency."""

_EPSILON_WH = 1e-6


def plan_dynamic_price(
    request: FlexibilityServiceRequest, evses: Sequence[EvseState], now: datetime
) -> Plan:
    """Per-EVSE charging and discharging per interval from import and export prices."""
    params = request.parameters
    if not isinstance(params, DynamicPriceSignal):
        raise TypeError(f"plan_dynamic_price needs a DynamicPriceSignal, not {params.fs_type}")
    timeline = SignalTimeline.of(request, params.intervals, params.randomize_start_s, now)
    aggregate = [0.0] * len(params.intervals)
    economics = _Economics(
        params.round_trip_efficiency or ROUND_TRIP_EFFICIENCY,
        BATTERY_WEAR_COST_PER_KWH
        if params.battery_wear_cost_per_kwh is None
        else float(params.battery_wear_cost_per_kwh),
    )
    budgets = _discharge_budgets(evses)
    plans: list[EvsePlan] = []
    shortfalls: list[Shortfall] = []
    excluded: list[str] = []
    for evse in evses:
        present = present_slots(timeline.slots, evse, now)
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
                economics,
                budgets.get(evse.site_id, (0.0, 0.0)),
            )
        net = [c - d for c, d in zip(charge, discharge, strict=True)]
        steps = _steps(present, net, any(discharge), evse)
        plans.append(EvsePlan(evse.evse_id, timeline.hold(request, evse, steps, now, evse.p_w)))
        for s, p in zip(present, net, strict=True):
            aggregate[s.index] += p * s.seconds / params.intervals[s.index].duration_s
        short = min_soc_shortfall(evse, fill.missing_min_wh, request.window.end)
        if short is not None:
            shortfalls.append(short)
    feasibility = signal_feasibility(
        params.intervals,
        timeline.slots,
        aggregate,
        shortfalls,
        taken=bool(plans),
        nobody="no connected EV can take part",
    )
    return Plan(FsType.DYNAMIC_PRICE, tuple(plans), feasibility, excluded=tuple(excluded))


@dataclass(frozen=True, slots=True)
class _Economics:
    """What a discharged kWh costs: the grid buys `1 / efficiency` of it back, and it wears
    the battery by `wear_per_kwh`."""

    efficiency: float
    wear_per_kwh: float

    def buy_back(self, import_price: float) -> float:
        """Cost per discharged kWh of replacing it at `import_price`."""
        return import_price / self.efficiency + self.wear_per_kwh


def _discharge_budgets(evses: Sequence[EvseState]) -> dict[str, tuple[float, float]]:
    """Per site, what each EV that may discharge there can give (W): to the site's own load
    (V2H), and to the grid (V2G, within the connection's export limit less PV's export)."""
    count: dict[str, int] = {}
    sites: dict[str, EvseState] = {}
    for evse in evses:
        if evse.export_room_w > 0:
            count[evse.site_id] = count.get(evse.site_id, 0) + 1
            sites.setdefault(evse.site_id, evse)
    budgets = {}
    for site_id, evse in sites.items():
        own = max(0.0, evse.site_other_w)
        grid = max(0.0, evse.site_export_limit_w + min(0.0, evse.site_other_w))
        budgets[site_id] = (own / count[site_id], grid / count[site_id])
    return budgets


def _arbitrage(
    slots: Sequence[Slot],
    imports: Sequence[float],
    exports: Sequence[float | None],
    charge: list[float],
    discharge: list[float],
    evse: EvseState,
    economics: _Economics,
    budget: tuple[float, float],
) -> None:
    """Move energy from cheap import intervals to V2H and V2G opportunities, in place.

    `charge` is grid-side power; the battery gets `stored` (the fill 1:1, buy-backs times the
    efficiency), which is what bounds the SoC.
    """
    allowance = evse.export_energy_left_wh
    floor = -evse.energy_above_floor_wh
    full = evse.energy_to_full_wh
    stored = list(charge)
    own_w, grid_w = budget
    # (value per kWh, interval, kind: 0 own load / 1 grid, power budget W)
    chances = [(imports[j], j, 0, own_w) for j in range(len(slots)) if own_w > 0] + [
        (x, j, 1, grid_w) for j, x in enumerate(exports) if x is not None and grid_w > 0
    ]
    chances.sort(key=lambda c: (-c[0], c[1], c[2]))
    used = [[0.0] * len(slots), [0.0] * len(slots)]
    for value, j, kind, cap_w in chances:
        if charge[j] > 0:
            continue
        buyers = sorted(
            (
                i
                for i in range(len(slots))
                if i != j and discharge[i] == 0 and economics.buy_back(imports[i]) < value
            ),
            key=lambda i: (imports[i], slots[i].start),
        )
        for i in buyers:
            room_w = min(evse.export_room_w - discharge[j], cap_w - used[kind][j])
            room_j = room_w * slots[j].hours
            if room_j <= _EPSILON_WH or allowance <= _EPSILON_WH:
                break
            spare_i = (evse.import_room_w - charge[i]) * slots[i].hours * economics.efficiency
            levels = _levels(slots, stored, discharge)
            # charging first raises the SoC until the discharge; discharging first lowers it
            # until the charge
            margin = (
                full - max(levels[i + 1 : j + 1]) if i < j else min(levels[j + 1 : i + 1]) - floor
            )
            amount = min(room_j, spare_i, allowance, margin)
            if amount <= _EPSILON_WH:
                continue
            discharge[j] += amount / slots[j].hours
            used[kind][j] += amount / slots[j].hours
            stored[i] += amount / slots[i].hours
            charge[i] += amount / economics.efficiency / slots[i].hours
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
