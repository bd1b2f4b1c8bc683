"""The baseline of a detailed service record, and the metered energy it is computed from.

`EnergyGroup` sums register differences of a group of meters between interval boundaries;
`baselines` applies the FS's (or contract's) baseline method: DECLARED_SCHEDULE (the declared
periods, time-weighted), METER_BEFORE_ACTIVATION (mean power of the readings before activation
only, never interpolated across it), METER_TREND (per EV, the trend of those readings, so an EV
finishing its charge is not taken for flexibility), HISTORICAL_AVERAGE (the same interval on
previous days, where every meter has data), HIGH_X_OF_Y (the X highest of Y days with a
same-day adjustment), SUBMITTED (the FO's or CSO's baseline fixed before the start) or ZERO.
No baseline where the data is missing: a flag instead. Each also says how it was made
(`DsrBaseline`), so the record carries the method and its inputs.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from itertools import pairwise

from fcsbe.model import (
    BaselineMethod,
    DataQualityCode,
    DataQualityFlag,
    DsrBaseline,
    DsrEvBaseline,
)
from fcsbe.server.services.records.dsr.inputs import PowerPeriod, RecordInputs, RecordOptions
from fcsbe.server.services.records.dsr.plan import Slot, average
from fcsbe.server.services.records.dsr.readings import MeterSeries

__all__ = ["EnergyGroup", "baseline_bounds", "baselines"]

_DAY = 86_400.0


def _utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


class EnergyGroup:
    """Register differences of a group of meters between boundaries (registers are computed
    once per meter and shared between groups)."""

    def __init__(
        self,
        meters: Sequence[MeterSeries],
        index: Mapping[float, int],
        registers: Mapping[str, tuple[list[float], list[float]]],
    ) -> None:
        self.meters = meters
        self.index = index
        self.registers = registers
        spans = sorted((m.t[0], m.t[-1]) for m in meters if m.t)
        merged: list[list[float]] = []
        for lo, hi in spans:
            if merged and lo <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], hi)
            else:
                merged.append([lo, hi])
        self._starts = [lo for lo, _ in merged]
        self._spans = merged

    def covered(self, start: float, end: float) -> bool:
        """Whether some meter has readings overlapping [start, end)."""
        k = bisect_right(self._starts, end) - 1
        while k >= 0 and self._spans[k][0] >= end:
            k -= 1
        return k >= 0 and self._spans[k][1] > start

    def slots(self, spans: Sequence[tuple[float, float]]) -> list[tuple[float, float] | None]:
        """(import Wh, export Wh) over each span; None where no meter has data."""
        pairs = [(self.index[a], self.index[b]) for a, b in spans]
        imports: list[list[float]] = []
        exports: list[list[float]] = []
        for meter in self.meters:
            imp, exp = self.registers[meter.info.meter_id]
            imports.append([imp[b] - imp[a] for a, b in pairs])
            exports.append([exp[b] - exp[a] for a, b in pairs])
        if not self.meters:
            return [None] * len(spans)
        return [
            (math.fsum(i), math.fsum(e)) if self.covered(*span) else None
            for span, i, e in zip(
                spans, zip(*imports, strict=True), zip(*exports, strict=True), strict=True
            )
        ]

    def between(
        self, start: float, end: float, *, strict: bool = False
    ) -> tuple[float, float] | None:
        """(import Wh, export Wh) over [start, end); None when no meter has data there (or,
        `strict`, when some meter's readings do not span it)."""
        if strict and not all(m.spans(start, end) for m in self.meters):
            return None
        return self.slots([(start, end)])[0]

    def power(self, start: float, end: float, *, strict: bool = False) -> float | None:
        energy = self.between(start, end, strict=strict)
        return None if energy is None else (energy[0] - energy[1]) * 3600 / (end - start)

    def mean_power(self, start: float, end: float) -> float | None:
        """Summed mean power over [start, end) from each meter's readings up to `end` only
        (a baseline before activation must not interpolate across the activation, nor count
        time without data as zero power)."""
        parts: list[float] = []
        for meter in self.meters:
            last = bisect_right(meter.t, end) - 1
            first = max(start, meter.t[0]) if meter.t else end
            if last < 0 or meter.t[last] <= first:
                continue
            imp0, exp0 = meter.register_at(first)
            net = (meter.imp[last] - imp0) - (meter.exp[last] - exp0)
            parts.append(net * 3600 / (meter.t[last] - first))
        return math.fsum(parts) if parts else None


def baseline_bounds(
    method: BaselineMethod, slots: Sequence[Slot], start: float, options: RecordOptions
) -> list[float]:
    """Instants whose registers the baseline needs besides the record's own boundaries."""
    lookback = options.baseline_lookback_s
    if method in (BaselineMethod.METER_BEFORE_ACTIVATION, BaselineMethod.METER_TREND):
        return [start - lookback, start]
    if method is BaselineMethod.HISTORICAL_AVERAGE:
        days = options.history_days
        return [t - d * _DAY for s in slots for t in (s.start, s.end) for d in range(1, days + 1)]
    if method is BaselineMethod.HIGH_X_OF_Y:
        end = slots[-1].end if slots else start
        adjust = start - options.adjustment_s
        today = [adjust, start]
        return today + [
            t - d * _DAY
            for d in range(1, options.of_y_days + 1)
            for t in (start, end, adjust, *(u for s in slots for u in (s.start, s.end)))
        ]
    return []


def baselines(
    method: BaselineMethod,
    slots: Sequence[Slot],
    energy: EnergyGroup,
    start: float,
    inputs: RecordInputs,
) -> tuple[list[float | None], list[DataQualityFlag], DsrBaseline]:
    """The baseline of every slot, the GAP flags where there is none, and how it was made."""
    options = inputs.options
    info = DsrBaseline(method=method, detail="zero: every change counts as flexibility")
    if method is BaselineMethod.ZERO:
        return [0.0] * len(slots), [], info
    if method is BaselineMethod.METER_BEFORE_ACTIVATION:
        before = energy.mean_power(start - options.baseline_lookback_s, start)
        values: list[float | None] = [before] * len(slots)
        why = "no readings before activation for the baseline"
        info = DsrBaseline(
            method=method,
            detail=f"mean power of the {options.baseline_lookback_s} s before the window",
            inputs_from=_utc(start - options.baseline_lookback_s),
            inputs_to=_utc(start),
        )
    elif method is BaselineMethod.METER_TREND:
        values, info = _trend(slots, energy, start, options.baseline_lookback_s)
        why = "no readings before activation for the baseline"
    elif method is BaselineMethod.DECLARED_SCHEDULE:
        declared = [_segment(p) for p in inputs.declared_baseline]
        values = [average(declared, s.start, s.end) for s in slots]
        why = "no declared baseline for the interval"
        info = DsrBaseline(
            method=method,
            detail=f"the schedule the CSO declared: {len(declared)} period(s)",
            declared_at=inputs.declared_at,
        )
    elif method is BaselineMethod.SUBMITTED:
        submitted = inputs.submitted_baseline
        periods = [_segment(p) for p in submitted.periods] if submitted else []
        values = [average(periods, s.start, s.end) for s in slots]
        why = "no submitted baseline for the interval"
        info = DsrBaseline(
            method=method,
            detail=f"submitted before the start: {len(periods)} period(s)"
            if submitted
            else "no baseline was submitted before the start",
            submitted_by=submitted.party_id if submitted else None,
            submitted_role=submitted.role if submitted else None,
            submitted_at=submitted.at if submitted else None,
        )
    elif method is BaselineMethod.HIGH_X_OF_Y:
        values, info = _high_x_of_y(slots, energy, start, options)
        why = "no history of the interval for the baseline"
    else:
        values = []
        used: set[int] = set()
        for s in slots:
            days = [
                (d, energy.power(s.start - d * _DAY, s.end - d * _DAY, strict=True))
                for d in range(1, options.history_days + 1)
            ]
            known = [(d, v) for d, v in days if v is not None]
            used.update(d for d, _ in known)
            values.append(math.fsum(v for _, v in known) / len(known) if known else None)
        why = "no history of the interval for the baseline"
        info = DsrBaseline(
            method=method,
            detail=f"mean of the same interval on up to {options.history_days} previous days",
            days_considered=options.history_days,
            days_used=[_utc(start - d * _DAY).date() for d in sorted(used)],
        )
    flags = [
        DataQualityFlag(code=DataQualityCode.GAP, start=_utc(s.start), end=_utc(s.end), detail=why)
        for s, value in zip(slots, values, strict=True)
        if value is None
    ]
    return values, flags, info


def _fit(points: Sequence[tuple[float, float]]) -> tuple[float, float]:
    """Least-squares (intercept at the mean time, slope per second) of (t, p) points."""
    n = len(points)
    mean_t = math.fsum(t for t, _ in points) / n
    mean_p = math.fsum(p for _, p in points) / n
    spread = math.fsum((t - mean_t) ** 2 for t, _ in points)
    if spread <= 0:
        return mean_p, 0.0
    slope = math.fsum((t - mean_t) * (p - mean_p) for t, p in points) / spread
    return mean_p - slope * mean_t, slope


def _clamped_mean(level: float, slope: float, t0: float, a: float, b: float, cap: float) -> float:
    """Mean over [a, b) of the line level + slope (t - t0), kept between 0 and `cap` (a
    charging EV's trend never turns into discharge nor exceeds what it drew; a discharging
    EV's mirror image)."""
    lo, hi = (0.0, cap) if cap >= 0 else (cap, 0.0)
    cuts = [a, b]
    if slope:
        for bound in (lo, hi):
            crossing = t0 + (bound - level) / slope
            if a < crossing < b:
                cuts.append(crossing)
    cuts.sort()
    total = 0.0
    for p, q in pairwise(cuts):
        ends = [min(max(level + slope * (u - t0), lo), hi) for u in (p, q)]
        mid = min(max(level + slope * ((p + q) / 2 - t0), lo), hi)
        # within a piece the clamped line is linear or constant: the mean is exact
        total += (q - p) * (mid if ends[0] == ends[1] else (ends[0] + ends[1]) / 2)
    return total / (b - a)


def _trend(
    slots: Sequence[Slot], energy: EnergyGroup, start: float, lookback: int
) -> tuple[list[float | None], DsrBaseline]:
    """METER_TREND: per EV (meter), a least-squares line through the powers of its readings
    before activation (from register differences), extrapolated over the window and kept
    between zero and the most it drew; the baseline is their sum."""
    from_s = start - lookback
    fits: list[tuple[str, float, float, float, int]] = []
    for meter in energy.meters:
        points: list[tuple[float, float]] = []
        last = bisect_right(meter.t, start) - 1
        first = bisect_left(meter.t, from_s)
        for k in range(max(first, 1), last + 1):
            dt = meter.t[k] - meter.t[k - 1]
            if dt <= 0 or meter.t[k - 1] < from_s:
                continue
            net = (meter.imp[k] - meter.imp[k - 1]) - (meter.exp[k] - meter.exp[k - 1])
            points.append(((meter.t[k] + meter.t[k - 1]) / 2, net * 3600 / dt))
        if not points:
            continue
        intercept, slope = _fit(points)
        level = intercept + slope * start
        drawn = max(points, key=lambda tp: abs(tp[1]))[1]
        fits.append((meter.info.meter_id, level, slope, drawn, len(points)))
    per_ev: list[DsrEvBaseline] = []
    for meter_id, level, slope, _, n in fits:
        zero_at = None
        if slope and level * slope < 0 and -level / slope <= _DAY * 7:  # else: never, here
            zero_at = _utc(start - level / slope)
        per_ev.append(
            DsrEvBaseline(
                meter_id=meter_id,
                level_w=round(level, 3),
                slope_w_per_h=round(slope * 3600, 3),
                readings=n,
                zero_at=zero_at,
            )
        )
    values: list[float | None] = [
        math.fsum(
            _clamped_mean(level, slope, start, s.start, s.end, drawn)
            for _, level, slope, drawn, _ in fits
        )
        if fits
        else None
        for s in slots
    ]
    info = DsrBaseline(
        method=BaselineMethod.METER_TREND,
        detail=f"per-EV least-squares trend of the {lookback} s before the window, "
        "extrapolated between zero and the most each EV drew",
        inputs_from=_utc(from_s),
        inputs_to=_utc(start),
        per_ev=per_ev,
    )
    return values, info


def _high_x_of_y(
    slots: Sequence[Slot], energy: EnergyGroup, start: float, options: RecordOptions
) -> tuple[list[float | None], DsrBaseline]:
    """HIGH_X_OF_Y: of the previous Y days on which every meter has data over the window,
    the X with the highest mean power over it; per interval their mean, plus the same-day
    adjustment (today's mean over the adjustment hours before the window minus those days')."""
    end = slots[-1].end if slots else start
    adjust_from = start - options.adjustment_s
    candidates: list[tuple[float, int]] = []
    for d in range(1, options.of_y_days + 1):
        mean = energy.power(start - d * _DAY, end - d * _DAY, strict=True) if end > start else None
        if mean is not None:
            candidates.append((mean, d))
    chosen = sorted(candidates, key=lambda md: (-md[0], md[1]))[: options.high_x_days]
    days = sorted(d for _, d in chosen)
    detail = (
        f"the {options.high_x_days} highest of the last {options.of_y_days} days "
        f"({len(candidates)} with data), adjusted by the {options.adjustment_s} s before the window"
    )
    if not days:
        info = DsrBaseline(
            method=BaselineMethod.HIGH_X_OF_Y, detail=detail, days_considered=options.of_y_days
        )
        return [None] * len(slots), info
    history = [[energy.power(s.start - d * _DAY, s.end - d * _DAY) for d in days] for s in slots]
    then = [energy.power(adjust_from - d * _DAY, start - d * _DAY, strict=True) for d in days]
    now = energy.power(adjust_from, start, strict=True)
    known_then = [v for v in then if v is not None]
    adjustment = (
        now - math.fsum(known_then) / len(known_then)
        if now is not None and known_then and options.adjustment_s > 0
        else 0.0
    )
    values: list[float | None] = []
    for row in history:
        known = [v for v in row if v is not None]
        values.append(math.fsum(known) / len(known) + adjustment if known else None)
    info = DsrBaseline(
        method=BaselineMethod.HIGH_X_OF_Y,
        detail=detail,
        inputs_from=_utc(adjust_from),
        inputs_to=_utc(start),
        days_considered=options.of_y_days,
        days_used=[_utc(start - d * _DAY).date() for d in days],
        adjustment_w=round(adjustment, 3),
    )
    return values, info


def _segment(period: PowerPeriod) -> tuple[float, float, float]:
    return period.start.timestamp(), period.end.timestamp(), period.p_w
