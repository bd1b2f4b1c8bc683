"""Build the detailed service record (DSR) of an FS: a pure function of the FS, its contract
terms and what the meters measured (`RecordInputs`).

Per interval: requested (from the FS), baseline (the FS's or contract's method: declared
schedule, meter before activation, historical average or zero), measured (meter registers only,
never the request), ordered = requested - baseline, delivered = measured - baseline, deviation,
deficiency and within-tolerance (tolerance relative to the ordered change, or to the request
when nothing was ordered). Then sessions, totals, meters, data-quality flags and settlement.
A record is always made: missing data leaves fields null and raises flags, it never raises.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from fcsbe.model import (
    BaselineMethod,
    ContractTerms,
    DataQualityCode,
    DataQualityFlag,
    DetailedServiceRecord,
    DsrInterval,
    DsrTotals,
    FlexibilityService,
    FsState,
    FsType,
    MeterEvidence,
)
from fcsbe.server.services.dsr_inputs import PowerPeriod, RecordInputs
from fcsbe.server.services.dsr_plan import Slot, average, plan_slots
from fcsbe.server.services.dsr_readings import MeterSeries, clean_readings
from fcsbe.server.services.dsr_summary import (
    meter_parts,
    response_time,
    session_parts,
    settlement,
)

__all__ = ["BuiltRecord", "build_dsr"]

_DAY = 86_400.0


@dataclass(frozen=True, slots=True)
class BuiltRecord:
    """A DSR and the meter evidence its PoW will carry."""

    record: DetailedServiceRecord
    evidence: list[MeterEvidence]


def _utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


class _Energy:
    """Summed register differences of the metered-in-total meters between boundaries."""

    def __init__(self, meters: Sequence[MeterSeries], bounds: Sequence[float]) -> None:
        self.meters = meters
        self.index = {b: i for i, b in enumerate(bounds)}
        self.registers = {m.info.meter_id: m.registers_at(bounds) for m in meters}

    def between(
        self, start: float, end: float, *, strict: bool = False
    ) -> tuple[float, float] | None:
        """(import Wh, export Wh) over [start, end); None when no meter has data there (or,
        `strict`, when some meter's readings do not span it)."""
        if strict and not all(m.spans(start, end) for m in self.meters):
            return None
        if not strict and not any(m.covers(start, end) for m in self.meters):
            return None
        a, b = self.index[start], self.index[end]
        regs = [self.registers[m.info.meter_id] for m in self.meters]
        return (
            math.fsum(imp[b] - imp[a] for imp, _ in regs),
            math.fsum(exp[b] - exp[a] for _, exp in regs),
        )

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


def _baseline_bounds(
    method: BaselineMethod, slots: Sequence[Slot], start: float, days: int, lookback: int
) -> list[float]:
    if method is BaselineMethod.METER_BEFORE_ACTIVATION:
        return [start - lookback, start]
    if method is BaselineMethod.HISTORICAL_AVERAGE:
        return [t - d * _DAY for s in slots for t in (s.start, s.end) for d in range(1, days + 1)]
    return []


def _baselines(
    method: BaselineMethod,
    slots: Sequence[Slot],
    energy: _Energy,
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


def _interval(
    slot: Slot,
    measured: float | None,
    baseline: float | None,
    energy: tuple[float, float],
    tolerance_pct: float,
) -> DsrInterval:
    requested, ordered = slot.requested, None
    if slot.kind == "TARGET" and requested is not None and baseline is not None:
        ordered = requested - baseline
    elif slot.kind == "RESERVE" and slot.delta is not None:
        ordered = slot.delta
        requested = None if baseline is None else baseline + slot.delta
    elif slot.kind == "LIMIT" and baseline is not None:
        ordered = 0.0
        if slot.import_limit is not None and baseline > slot.import_limit:
            ordered = slot.import_limit - baseline
        if slot.export_limit is not None and baseline < -slot.export_limit:
            ordered = -slot.export_limit - baseline
    delivered = None if measured is None or baseline is None else measured - baseline
    deviation = deficiency = within = None
    if measured is not None and requested is not None:
        deviation = measured - requested
        band = tolerance_pct / 100 * (abs(ordered) if ordered else abs(requested))
        if slot.kind == "LIMIT":
            deficiency = (
                max(0.0, measured - slot.import_limit) if slot.import_limit is not None else 0.0
            )
            if slot.export_limit is not None:
                deficiency += max(0.0, -slot.export_limit - measured)
            within = deficiency <= band
        else:
            if ordered and delivered is not None:
                deficiency = max(0.0, math.copysign(1.0, ordered) * (ordered - delivered))
            elif ordered is not None:
                deficiency = 0.0
            within = abs(deviation) <= band
    return DsrInterval(
        start=_utc(slot.start),
        duration_s=max(1, round(slot.duration)),
        requested_w=_r(requested),
        baseline_w=_r(baseline),
        measured_w=_r(measured),
        ordered_w=_r(ordered),
        delivered_w=_r(delivered),
        deviation_w=_r(deviation),
        deficiency_w=_r(deficiency),
        within_tolerance=within,
        energy_import_wh=round(max(energy[0], 0.0), 3),
        energy_export_wh=round(max(energy[1], 0.0), 3),
    )


def _ended(fs: FlexibilityService, final_state: FsState) -> float:
    end = fs.request.window.end.timestamp()
    if final_state is FsState.COMPLETED:
        return end
    ends = [t.at.timestamp() for t in fs.transitions if t.to_state is final_state]
    return min(end, max(ends)) if ends else end


def _activated(fs: FlexibilityService, inputs: RecordInputs, start: float) -> float:
    if fs.fs_type is FsType.RESERVE and inputs.activations:
        return min(a.start.timestamp() for a in inputs.activations)
    active = [t.at.timestamp() for t in fs.transitions if t.to_state is FsState.ACTIVE]
    return max(start, min(active)) if active else start


def build_dsr(
    fs: FlexibilityService,
    terms: ContractTerms | None,
    inputs: RecordInputs,
    *,
    final_state: FsState,
    created_at: datetime,
) -> BuiltRecord:
    """The DSR of `fs` (ended in `final_state`) from the meter data in `inputs`."""
    options = inputs.options
    request = fs.request
    start = request.window.start.timestamp()
    slots = plan_slots(
        fs, _ended(fs, final_state), options, inputs.setpoint_changes, inputs.activations
    )
    end = slots[-1].end if slots else start
    method = request.baseline_method or (terms.baseline_method if terms else BaselineMethod.ZERO)
    if request.tolerance_pct is not None:
        tolerance = request.tolerance_pct
    else:
        tolerance = terms.performance.tolerance_pct if terms else 0.0

    series, flags, missing_s = clean_readings(inputs.meters, inputs.readings, start, end, options)
    total = [m for m in series.values() if m.info.in_total]
    extra = _baseline_bounds(
        method, slots, start, options.history_days, options.baseline_lookback_s
    )
    bounds = sorted({start, end, *(t for s in slots for t in (s.start, s.end)), *extra})
    energy = _Energy(total, bounds)
    baselines, baseline_flags = _baselines(method, slots, energy, start, inputs)

    intervals: list[DsrInterval] = []
    for slot, baseline in zip(slots, baselines, strict=True):
        measured_energy = energy.between(slot.start, slot.end)
        measured = (
            None
            if measured_energy is None
            else (measured_energy[0] - measured_energy[1]) * 3600 / slot.duration
        )
        intervals.append(
            _interval(slot, measured, baseline, measured_energy or (0.0, 0.0), tolerance)
        )

    everyone = {m.info.meter_id: m for m in series.values()}
    all_energy = _Energy(list(everyone.values()), bounds)
    slot_bounds = [(all_energy.index[s.start], all_energy.index[s.end]) for s in slots]
    sessions, session_flags = session_parts(
        inputs.sessions, everyone, slots, all_energy.registers, slot_bounds, start, end
    )
    meters, evidence = meter_parts(everyone, start, end)

    verdicts = [i.within_tolerance for i in intervals if i.within_tolerance is not None]
    duration = end - start
    availability = (
        max(0.0, min(100.0, 100 * (1 - missing_s / (len(total) * duration))))
        if total and duration > 0
        else 0.0
    )
    ordered = [i.ordered_w for i in intervals]
    first = next((k for k, o in enumerate(ordered) if o), None)
    responded = None
    if first is not None and baselines[first] is not None:
        responded = response_time(
            total,
            _activated(fs, inputs, start),
            slots[first].end,
            float(baselines[first] or 0.0),
            float(ordered[first] or 0.0),
            options.response_threshold_pct,
        )
    totals = DsrTotals(
        requested_energy_wh=_r(
            math.fsum(
                o * i.duration_s / 3600
                for o, i in zip(ordered, intervals, strict=True)
                if o is not None
            )
        )
        if any(o is not None for o in ordered)
        else None,
        delivered_energy_wh=round(
            math.fsum(
                i.delivered_w * i.duration_s / 3600 for i in intervals if i.delivered_w is not None
            ),
            3,
        ),
        availability_pct=round(availability, 3),
        accuracy_pct=round(100 * sum(verdicts) / len(verdicts), 3) if verdicts else None,
        measured_response_time_s=responded,
        intervals_total=len(intervals),
        intervals_within_tolerance=sum(verdicts),
    )
    committed = fs.response.committed_w if fs.response else None
    available_w = (
        abs(committed)
        if committed is not None
        else max((abs(o) for o in ordered if o is not None), default=0.0)
    )
    record = DetailedServiceRecord(
        fs_id=fs.fs_id,
        revision=fs.revision,
        fsc_id=fs.fsc_id,
        fs_type=fs.fs_type,
        targets=request.targets,
        window=request.window,
        final_state=final_state,
        baseline_method=method,
        tolerance_pct=tolerance,
        intervals=intervals,
        sessions=sessions,
        totals=totals,
        meters=meters,
        data_quality=[*flags, *baseline_flags, *session_flags],
        settlement=settlement(
            terms.remuneration, intervals, available_w, duration / 3600, availability
        )
        if terms
        else None,
        created_at=created_at,
    )
    return BuiltRecord(record, evidence)
