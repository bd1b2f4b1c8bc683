"""Placing an EV's energy in the cheapest time slots, shared by DEMAND_RESPONSE and DYNAMIC_PRICE.

The rule is a greedy fill: the slots the EV is present for are taken cheapest first (earlier
first on equal cost, which is the safer choice for the EV user), each at the EVSE's import
headroom, until the energy the EV wants is placed; the last slot gets only the power that
completes it. Because the fill covers every slot before departure when needed, the EV's minimum
SoC is reached whenever its headroom times the time left allows it; only a lack of time or power
leaves it short, which is then reported.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from fcsbe.model import ReasonCode
from fcsbe.server.planning.timeline import Slot, clip_slots
from fcsbe.server.planning.types import EvseState, Shortfall

__all__ = ["ChargingFill", "fill_cheapest", "min_soc_shortfall", "present_slots"]

_EPSILON_WH = 1e-6


@dataclass(frozen=True, slots=True)
class ChargingFill:
    """The charging power of one EVSE per slot position, and what it could not place."""

    power_w: list[float]
    placed_wh: float
    missing_min_wh: float


def present_slots(slots: Sequence[Slot], evse: EvseState, now: datetime) -> list[Slot]:
    """The slots (or their parts) from now until the EV leaves."""
    return clip_slots(slots, now, evse.departure)


def fill_cheapest(
    slots: Sequence[Slot],
    costs: Sequence[tuple[float, float]],
    evse: EvseState,
    energy_wh: float | None = None,
) -> ChargingFill:
    """Charge `energy_wh` (default: what the EV wants, up to a full battery) in the cheapest slots.

    `costs[k]` is the cost of `slots[k]`; tuples compare element-wise, so a signal can rank by
    incentive level first and price second.
    """
    power = evse.import_room_w
    wanted = evse.wanted_wh if energy_wh is None else energy_wh
    wanted = max(0.0, min(wanted, evse.energy_to_full_wh))
    plan = [0.0] * len(slots)
    order = sorted(range(len(slots)), key=lambda k: (costs[k], slots[k].start))
    # What must be charged inside these slots: the minimum need not reachable after them at
    # full power before departure (latest start). The rest is optional and goes only to the
    # cheaper half of the slots, so a signal over a short window still moves charging away
    # from dear slots.
    need = min(evse.energy_to_min_soc_wh, evse.energy_to_full_wh)
    if slots and evse.departure is not None:
        after_h = max(0.0, (evse.departure - max(s.end for s in slots)).total_seconds() / 3600)
        required = min(wanted, max(0.0, need - power * after_h))
    else:
        required = min(wanted, need) if evse.departure is not None else 0.0
    cheap = set(order[: max(1, len(order) // 2)])  # the cheaper half takes optional energy
    left = wanted
    for k in order:
        if left <= _EPSILON_WH or power <= 0:
            break
        optional_left = left - max(0.0, required - (wanted - left))
        if k not in cheap and left <= optional_left + _EPSILON_WH:
            break
        hours = slots[k].hours
        budget = left if k in cheap else left - optional_left
        take = min(power * hours, budget)
        plan[k] = take / hours
        left -= take
    placed = wanted - max(left, 0.0)
    return ChargingFill(plan, placed, max(0.0, need - placed))


def min_soc_shortfall(
    evse: EvseState, missing_wh: float, horizon_end: datetime
) -> Shortfall | None:
    """A reason when the minimum SoC is not reached inside the plan and the time between the
    plan's end and the departure cannot make up for it (no deadline: no shortfall)."""
    if evse.departure is None:
        return None
    after_h = max(0.0, (evse.departure - horizon_end).total_seconds() / 3600.0)
    missing_wh -= evse.import_room_w * after_h
    if missing_wh <= _EPSILON_WH:
        return None
    return Shortfall(
        ReasonCode.EVU_LIMIT,
        f"{missing_wh:.0f} Wh short of the EV user's minimum SoC at departure",
        evse.evse_id,
    )
