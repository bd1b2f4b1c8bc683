"""The intervals of a detailed service record and what was asked in each (from the FS alone).

An FS with periods of its own (setpoint schedule, congestion limits, demand-response or price
intervals) is recorded per period; droop, FFR and reserve, which have none, on a fixed
settlement grid. Each interval carries the time-weighted average of the request over it:
a setpoint (overridden by dynamic setpoint updates, or by the committed schedule of a partial
acceptance), an import/export limit, or a reserve activation's power change. Intervals end where
execution ended (an aborted or cancelled FS is recorded up to its end).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from fcsbe.model import (
    CongestionLimits,
    DemandResponseSignal,
    DynamicPriceSignal,
    FlexibilityService,
    FsType,
    SetpointSchedule,
)
from fcsbe.server.services.records.dsr.inputs import Activation, RecordOptions, SetpointChange

__all__ = ["Slot", "average", "plan_slots"]

Segment = tuple[float, float, float]
"""A value over [start, end) in epoch seconds."""


@dataclass(slots=True)
class Slot:
    """One interval to record, and what was requested in it.

    kind TARGET: `requested` is a power to follow; LIMIT: `import_limit`/`export_limit` bound
    the power; RESERVE: `delta` is the ordered change (None: not activated); NONE: no firm
    request (price signals, local droop/FFR control).
    """

    start: float
    end: float
    kind: Literal["TARGET", "LIMIT", "RESERVE", "NONE"]
    requested: float | None = None
    import_limit: float | None = None
    export_limit: float | None = None
    delta: float | None = None

    @property
    def duration(self) -> float:
        return self.end - self.start


def average(segments: Sequence[Segment], start: float, end: float) -> float | None:
    """Time-weighted mean of the segments over [start, end), over the part they cover."""
    covered = total = 0.0
    for a, b, value in segments:
        lo, hi = max(a, start), min(b, end)
        if hi > lo:
            covered += hi - lo
            total += (hi - lo) * value
    return total / covered if covered else None


def _setpoints(
    fs: FlexibilityService, origin: float, changes: Sequence[SetpointChange]
) -> tuple[list[tuple[float, float]], list[Segment]]:
    payload = fs.request.parameters
    assert isinstance(payload, SetpointSchedule)
    committed = fs.response.committed_schedule if fs.response else None
    if committed:
        base = [
            (origin + p.start_offset_s, origin + p.start_offset_s + p.duration_s, p.p_w)
            for p in committed
        ]
    else:
        base = [
            (origin + p.start_offset_s, origin + p.start_offset_s + payload.resolution_s, p.p_w)
            for p in payload.periods
        ]
    ordered = sorted(changes, key=lambda c: c.at)
    if not ordered:
        return [(a, b) for a, b, _ in base], base
    first = ordered[0].at.timestamp()
    segments = [(a, min(b, first), v) for a, b, v in base if a < first]
    for change, following in zip(ordered, [*ordered[1:], None], strict=True):
        until = following.at.timestamp() if following else math.inf
        segments.append((change.at.timestamp(), until, change.p_w))
    return [(a, b) for a, b, _ in base], segments


def _grid(origin: float, end: float, step: int) -> list[tuple[float, float]]:
    spans: list[tuple[float, float]] = []
    at = origin
    while at < end:
        spans.append((at, min(at + step, end)))
        at += step
    return spans


def plan_slots(
    fs: FlexibilityService,
    executed_until: float,
    options: RecordOptions,
    changes: Sequence[SetpointChange] = (),
    activations: Sequence[Activation] = (),
) -> list[Slot]:
    """The intervals of the record, clipped to [window start, `executed_until`)."""
    origin = fs.request.window.start.timestamp()
    end = min(fs.request.window.end.timestamp(), executed_until)
    payload = fs.request.parameters
    slots: list[Slot] = []
    if fs.fs_type is FsType.SETPOINT:
        spans, segments = _setpoints(fs, origin, changes)
        for a, b in spans:
            if a < end:
                b = min(b, end)
                slots.append(Slot(a, b, "TARGET", requested=average(segments, a, b)))
    elif isinstance(payload, CongestionLimits):
        for period in payload.periods:
            a = origin + period.start_offset_s
            slots.append(
                Slot(
                    a,
                    a + period.duration_s,
                    "LIMIT",
                    requested=period.import_limit_w
                    if period.import_limit_w is not None
                    else -(period.export_limit_w or 0.0),
                    import_limit=period.import_limit_w,
                    export_limit=period.export_limit_w,
                )
            )
    elif isinstance(payload, DemandResponseSignal | DynamicPriceSignal):
        for interval in payload.intervals:
            a = origin + interval.start_offset_s
            slots.append(Slot(a, a + interval.duration_s, "NONE"))
    elif fs.fs_type is FsType.RESERVE:
        pulses = [
            (x.start.timestamp(), x.start.timestamp() + x.duration_s, x.delta_w)
            for x in activations
        ]
        for a, b in _grid(origin, end, options.interval_s):
            active = [(max(p, a), min(q, b), v) for p, q, v in pulses if p < b and q > a]
            delta = sum((q - p) * v for p, q, v in active) / (b - a) if active else None
            slots.append(Slot(a, b, "RESERVE", delta=delta))
    else:
        slots = [Slot(a, b, "NONE") for a, b in _grid(origin, end, options.interval_s)]
    clipped = [s for s in slots if s.start < end]
    for slot in clipped:
        slot.end = min(slot.end, end)
    return clipped
