"""Placing an EV's energy in the cheapest time slots, shared by DEMAND_RESPONSE and DYNAMIC_PRICE,
and spreading the EVs' starts so that a price edge does not become a synchronised rebound.

The rule is a greedy fill: the slots the EV is present for are taken cheapest first (earlier
first on equal cost, which is the safer choice for the EV user), each at the EVSE's import
headroom, until the energy the EV wants is placed; the last slot gets only the power that
completes it. Because the fill covers every slot before departure when needed, the EV's minimum
SoC is reached whenever its headroom times the time left allows it; only a lack of time or power
leaves it short, which is then reported.

**Randomised start** (`hold_rises`): a price or incentive signal has the same edges for every
EV, so without care every EV behind a feeder jumps to full power in the same second when a
dear interval ends. Each EVSE therefore delays every *rise* of its plan by its own delay, drawn
uniformly from [0, `randomize_start_s`) by a hash of the FS id and the EVSE id (seeded: the same
FS gives the same EVSE the same delay at every replan, on every replica), in whole seconds and
at most half of the step it rises into; during the delay the EVSE holds the level it had.
Drops are never delayed (shedding load at once is what the signal asks for).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Protocol

from fcsbe.model import FlexibilityServiceRequest, ReasonCode
from fcsbe.server.planning.timeline import Slot, clip_slots, merge_steps, slot_of
from fcsbe.server.planning.types import EvseState, Feasibility, PlanStep, Shortfall

__all__ = [
    "DEFAULT_RANDOMIZE_START_S",
    "ChargingFill",
    "SignalInterval",
    "SignalTimeline",
    "fill_cheapest",
    "hold_rises",
    "min_soc_shortfall",
    "present_slots",
    "signal_feasibility",
    "start_delay_s",
]

DEFAULT_RANDOMIZE_START_S = 300
"""Randomised-start window when the signal gives none: up to 5 minutes per EVSE."""

_EPSILON_WH = 1e-6


class SignalInterval(Protocol):
    """An interval of a price or incentive signal, as an offset from the window start."""

    @property
    def start_offset_s(self) -> int:
        """Start, seconds from the window start."""
        ...

    @property
    def duration_s(self) -> int:
        """Length in seconds."""
        ...


@dataclass(frozen=True, slots=True)
class SignalTimeline:
    """The intervals of a price or incentive signal placed in time, the same way for
    DEMAND_RESPONSE and DYNAMIC_PRICE.

    `slots` are the intervals still ahead, clipped to the window; `edges` the instants where an
    interval other than the first begins (where `hold_rises` delays a rise); `window_s` the
    randomised-start window (the signal's, else `DEFAULT_RANDOMIZE_START_S`).
    """

    slots: list[Slot]
    edges: list[datetime]
    window_s: float

    @classmethod
    def of(
        cls,
        request: FlexibilityServiceRequest,
        intervals: Sequence[SignalInterval],
        randomize_start_s: float | None,
        now: datetime,
    ) -> SignalTimeline:
        """The timeline of `intervals` of `request`, as seen at `now`."""
        start = request.window.start
        slots = clip_slots(
            (slot_of(k, start, i.start_offset_s, i.duration_s) for k, i in enumerate(intervals)),
            now,
            request.window.end,
        )
        edges = [start + timedelta(seconds=i.start_offset_s) for i in intervals[1:]]
        window_s = DEFAULT_RANDOMIZE_START_S if randomize_start_s is None else randomize_start_s
        return cls(slots, edges, window_s)

    def hold(
        self,
        request: FlexibilityServiceRequest,
        evse: EvseState,
        steps: Sequence[PlanStep],
        now: datetime,
        held_w: float,
    ) -> tuple[PlanStep, ...]:
        """`steps` of `evse` with every rise delayed by the EVSE's seeded start delay
        (`hold_rises`; `held_w`: the power it has now), unless that would cost the EV its
        minimum SoC by departure."""
        delay = start_delay_s(request.fs_id, evse.evse_id, self.window_s)
        need = _need_in_window(evse, request.window.end)
        return hold_rises(steps, delay, now, self.edges, held_w, need, evse.departure)


def signal_feasibility(
    intervals: Sequence[SignalInterval],
    slots: Sequence[Slot],
    aggregate_w: Sequence[float],
    shortfalls: list[Shortfall],
    taken: bool,
    nobody: str,
) -> Feasibility:
    """The feasibility of a plan without firm commitment: taken whenever some EV takes part
    (`taken`), with the planned aggregate power of every interval still ahead as its committed
    schedule, so that delivered energy can be compared with it.

    Adds to `shortfalls` why nothing is taken: every interval has passed, or no EV can take
    part (`nobody` says how).
    """
    if not slots:
        shortfalls.append(Shortfall(ReasonCode.TOO_LATE, "every interval has passed"))
    elif not taken:
        shortfalls.append(Shortfall(ReasonCode.INSUFFICIENT_AVAILABILITY, nobody))
    schedule = tuple(
        (i.start_offset_s, i.duration_s, aggregate_w[k])
        for k, i in enumerate(intervals)
        if any(s.index == k for s in slots)
    )
    return Feasibility(
        requested_w=0.0,
        committed_w=None,
        share_pct=100.0 if taken else 0.0,
        committed_schedule=schedule,
        shortfalls=tuple(shortfalls),
        firm=False,
    )


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


def _need_in_window(evse: EvseState, window_end: datetime) -> float:
    """Energy the EV must take before the window ends to reach its minimum SoC by departure:
    `hold_rises` keeps the undelayed plan where the delayed one would fall short of it."""
    need = min(evse.energy_to_min_soc_wh, evse.energy_to_full_wh)
    if evse.departure is None:
        return 0.0
    after_h = max(0.0, (evse.departure - window_end).total_seconds() / 3600.0)
    return max(0.0, need - evse.import_room_w * after_h)


def start_delay_s(fs_id: str, evse_id: str, window_s: float) -> int:
    """The EVSE's seeded delay in whole seconds, uniform in [0, window_s)."""
    if window_s < 1:
        return 0
    digest = hashlib.blake2b(f"{fs_id}/{evse_id}".encode(), digest_size=8).digest()
    return int(window_s * int.from_bytes(digest, "big") / 2.0**64)


def _level(step: PlanStep) -> float:
    """The power a step lets the EVSE reach: its setpoint, else its import cap (None: any)."""
    if step.setpoint_w is not None:
        return step.setpoint_w
    return float("inf") if step.max_import_w is None else step.max_import_w


def _held(step: PlanStep, level_w: float) -> PlanStep:
    """`step` asking for `level_w` instead (a setpoint stays a setpoint, a cap a cap)."""
    if step.setpoint_w is not None:
        return replace(step, setpoint_w=level_w)
    return replace(step, max_import_w=max(0.0, level_w))


def hold_rises(
    steps: Sequence[PlanStep],
    delay_s: int,
    now: datetime,
    edges: Sequence[datetime],
    held_w: float,
    need_wh: float = 0.0,
    until: datetime | None = None,
) -> tuple[PlanStep, ...]:
    """Delay every rise of `steps` by `delay_s` (see the module docstring).

    A rise between two steps of the plan holds the earlier step's level. A plan made inside a
    hold (a replan at `now`, less than `delay_s` after one of the signal's `edges`, the
    interval starts) holds `held_w`, the power the EVSE has now, until the delay has passed.
    The EV user comes first: when the delayed plan would charge less than `need_wh` before
    `until` (the departure) and the plain one would not, the plain plan is kept.
    """
    if delay_s <= 0 or not steps:
        return tuple(steps)
    held = _hold(steps, delay_s, now, edges, held_w)
    short = need_wh - _EPSILON_WH
    if need_wh > 0 and steps_energy_wh(held, until) < short <= steps_energy_wh(steps, until):
        return tuple(steps)
    return held


def steps_energy_wh(steps: Sequence[PlanStep], until: datetime | None) -> float:
    """Energy (Wh) an EVSE takes at the levels of `steps` before `until` (None: all of them);
    a discharging setpoint counts negative, an unbounded cap as nothing."""
    total = 0.0
    for step in steps:
        end = step.end if until is None else min(step.end, until)
        level = _level(step)
        if end > step.start and level != float("inf"):
            total += level * (end - step.start).total_seconds() / 3600.0
    return total


def _hold(
    steps: Sequence[PlanStep],
    delay_s: int,
    now: datetime,
    edges: Sequence[datetime],
    held_w: float,
) -> tuple[PlanStep, ...]:
    delay = timedelta(seconds=delay_s)
    out: list[PlanStep] = []
    first = steps[0]
    edge = next((e for e in edges if e <= now < e + delay), None)
    held_w = max(held_w, 0.0)
    if edge is not None and first.start <= now < first.end and _level(first) > held_w:
        until = min(edge + delay, edge + (first.end - edge) / 2)
        if until > now:
            out += [replace(_held(first, held_w), end=until), replace(first, start=until)]
        else:
            out.append(first)
    else:
        out.append(first)
    for step in steps[1:]:
        before = out[-1]
        if before.end == step.start and _level(step) > _level(before):
            # a discharging EV does not go on discharging while it waits: it holds 0
            hold = min(delay, (step.end - step.start) / 2)
            level = min(_level(step), max(_level(before), 0.0))
            out.append(replace(_held(step, level), end=step.start + hold))
            out.append(replace(step, start=step.start + hold))
        else:
            out.append(step)
    return merge_steps(out)
