"""Time slots of an FS payload as absolute instants, clipped to what is still ahead.

Payload periods are offsets from the window start; plans are absolute times. Every planner
turns its periods into `Slot`s here, so clipping to "now" and to an EV's departure, and the
ramps of setpoints and activations, are done once and the same way for every FS type.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from fcsbe.server.planning.types import PlanStep

__all__ = ["MAX_RAMP_STEPS", "Slot", "clip_slots", "merge_steps", "ramp_points", "slot_of"]

MAX_RAMP_STEPS = 5
"""Most intermediate steps a ramp is cut into (stations take schedule periods of whole seconds)."""


@dataclass(frozen=True, slots=True)
class Slot:
    """One payload period at absolute times, [start, end), with its index in the payload."""

    index: int
    start: datetime
    end: datetime

    @property
    def hours(self) -> float:
        """Length in hours (energy = power x hours)."""
        return (self.end - self.start).total_seconds() / 3600.0

    @property
    def seconds(self) -> float:
        """Length in seconds."""
        return (self.end - self.start).total_seconds()


def slot_of(index: int, window_start: datetime, offset_s: int, duration_s: int) -> Slot:
    """The absolute slot of a payload period."""
    start = window_start + timedelta(seconds=offset_s)
    return Slot(index, start, start + timedelta(seconds=duration_s))


def clip_slots(
    slots: Iterable[Slot], not_before: datetime, not_after: datetime | None
) -> list[Slot]:
    """The parts of `slots` inside [not_before, not_after); empty parts are dropped."""
    out: list[Slot] = []
    for slot in slots:
        start = max(slot.start, not_before)
        end = slot.end if not_after is None else min(slot.end, not_after)
        if end > start:
            out.append(Slot(slot.index, start, end))
    return out


def ramp_points(
    start: datetime, from_w: float, to_w: float, ramp_s: float, until: datetime
) -> list[tuple[datetime, float]]:
    """Cut a ramp from `from_w` to `to_w` lasting `ramp_s` into at most `MAX_RAMP_STEPS` steps.

    Step k of n (k = 1..n) starts at start + (k-1) ramp_s / n with value from + k/n (to - from):
    the last step starts before `ramp_s` has passed, so full power is reached in time (the
    station moves faster, never later, than asked). Steps start on whole seconds.
    """
    if ramp_s < 1 or from_w == to_w:
        return [(start, to_w)]
    n = max(1, min(MAX_RAMP_STEPS, math.floor(ramp_s)))
    points: list[tuple[datetime, float]] = []
    for k in range(1, n + 1):
        at = start + timedelta(seconds=math.floor((k - 1) * ramp_s / n))
        if at >= until:
            break
        value = from_w + (to_w - from_w) * k / n
        if points and points[-1][0] == at:
            points[-1] = (at, value)
        else:
            points.append((at, value))
    return points


def merge_steps(steps: Sequence[PlanStep]) -> tuple[PlanStep, ...]:
    """Join adjacent steps that ask the same thing, so stations get as few periods as possible."""
    merged: list[PlanStep] = []
    for step in steps:
        if step.end <= step.start:
            continue
        last = merged[-1] if merged else None
        if (
            last is not None
            and last.end == step.start
            and (last.setpoint_w, last.max_import_w, last.max_export_w, last.setpoint_var)
            == (step.setpoint_w, step.max_import_w, step.max_export_w, step.setpoint_var)
        ):
            merged[-1] = replace(last, end=step.end)
        else:
            merged.append(step)
    return tuple(merged)
