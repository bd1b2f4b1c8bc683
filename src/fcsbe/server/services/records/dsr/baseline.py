"""The baseline of a detailed service record, and the metered energy it is computed from.

`EnergyGroup` sums register differences of a group of meters between interval boundaries;
`baselines` applies the FS's (or contract's) baseline method: DECLARED_SCHEDULE (the declared
periods, time-weighted), METER_BEFORE_ACTIVATION (mean power of the readings before activation
only, never interpolated across it), HISTORICAL_AVERAGE (the same interval on previous days,
where every meter has data) or ZERO. No baseline where the data is missing: a flag instead.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from fcsbe.model import BaselineMethod, DataQualityCode, DataQualityFlag
from fcsbe.server.services.records.dsr.inputs import PowerPeriod, RecordInputs
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
    method: BaselineMethod, slots: Sequence[Slot], start: float, days: int, lookback: int
) -> list[float]:
    if method is BaselineMethod.METER_BEFORE_ACTIVATION:
        return [start - lookback, start]
    if method is BaselineMethod.HISTORICAL_AVERAGE:
        return [t - d * _DAY for s in slots for t in (s.start, s.end) for d in range(1, days + 1)]
    return []


def baselines(
    method: BaselineMethod,
    slots: Sequence[Slot],
    energy: EnergyGroup,
    start: float,
    inputs: RecordInputs,
) -> tuple[list[float | None], list[DataQualityFlag]]:
    options = inputs.options
    if method is BaselineMethod.ZERO:
        return [0.0] * len(slots), []
    if method is BaselineMethod.METER_BEFORE_ACTIVATION:
        before = energy.mean_power(start - options.baseline_lookback_s, start)
        values: list[float | None] = [before] * len(slots)
        why = "no readings before activation for the baseline"
    elif method is BaselineMethod.DECLARED_SCHEDULE:
        declared = [_segment(p) for p in inputs.declared_baseline]
        values = [average(declared, s.start, s.end) for s in slots]
        why = "no declared baseline for the interval"
    else:
        values = []
        for s in slots:
            days = [
                energy.power(s.start - d * _DAY, s.end - d * _DAY, strict=True)
                for d in range(1, options.history_days + 1)
            ]
            known = [v for v in days if v is not None]
            values.append(math.fsum(known) / len(known) if known else None)
        why = "no history of the interval for the baseline"
    flags = [
        DataQualityFlag(code=DataQualityCode.GAP, start=_utc(s.start), end=_utc(s.end), detail=why)
        for s, value in zip(slots, values, strict=True)
        if value is None
    ]
    return values, flags


def _segment(period: PowerPeriod) -> tuple[float, float, float]:
    return period.start.timestamp(), period.end.timestamp(), period.p_w
