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
from dataclasses import dataclass
from datetime import UTC, datetime

from fcsbe.model import (
    BaselineMethod,
    ContractTerms,
    DetailedServiceRecord,
    DsrInterval,
    DsrTotals,
    FlexibilityService,
    FsState,
    FsType,
    MeterEvidence,
)
from fcsbe.server.services.records.dsr.baseline import EnergyGroup, baseline_bounds, baselines
from fcsbe.server.services.records.dsr.connection import connection_flags, modeled_load_w
from fcsbe.server.services.records.dsr.inputs import RecordInputs
from fcsbe.server.services.records.dsr.performance import judge
from fcsbe.server.services.records.dsr.plan import Slot, plan_slots
from fcsbe.server.services.records.dsr.readings import clean_readings
from fcsbe.server.services.records.dsr.summary import (
    meter_parts,
    response_time,
    session_parts,
    settlement,
)

__all__ = ["BuiltRecord", "build_dsr"]

_STATED_BASELINES = frozenset({BaselineMethod.ZERO, BaselineMethod.SUBMITTED})
"""Baselines taken as stated; the others come from EV data (meters, the declared schedule),
so at an estimated connection point the modelled non-EV load, which the FS does not move, is
added to them as it is to the measured power."""


@dataclass(frozen=True, slots=True)
class BuiltRecord:
    """A DSR and the meter evidence its PoW will carry."""

    record: DetailedServiceRecord
    evidence: list[MeterEvidence]


def _utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def _duration_s(slot: Slot) -> float:
    """The slot's length in seconds, exact to the microsecond: the difference of the two
    instants the record publishes (`start`, and the next interval's start), so that
    energy = power * duration holds for a part-second interval (a cancelled FS) too."""
    return (_utc(slot.end) - _utc(slot.start)).total_seconds()


def _interval(
    slot: Slot,
    duration_s: float,
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
        duration_s=duration_s,
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


def _net_energy(imported: float, exported: float, other_wh: float) -> tuple[float, float]:
    """The metered (import, export) Wh with the modelled non-EV energy netted in, as a
    connection-point meter would see it: a load first absorbs what the EVs export, PV first
    covers what they import, the rest is imported or exported."""
    if other_wh >= 0:
        absorbed = min(exported, other_wh)
        return imported + other_wh - absorbed, exported - absorbed
    covered = min(imported, -other_wh)
    return imported - covered, exported - other_wh - covered


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
    slots = [s for s in slots if _duration_s(s) > 0]  # nothing left once at microseconds
    end = slots[-1].end if slots else start
    method = request.baseline_method or (terms.baseline_method if terms else BaselineMethod.ZERO)
    if request.tolerance_pct is not None:
        tolerance = request.tolerance_pct
    else:
        tolerance = terms.performance.tolerance_pct if terms else 0.0

    series, flags, missing_s = clean_readings(inputs.meters, inputs.readings, start, end, options)
    total = [m for m in series.values() if m.info.in_total]
    extra = baseline_bounds(method, slots, start, options)
    bounds = sorted({start, end, *(t for s in slots for t in (s.start, s.end)), *extra})
    index = {b: i for i, b in enumerate(bounds)}
    registers = {m.info.meter_id: m.registers_at(bounds) for m in series.values()}
    energy = EnergyGroup(total, index, registers)
    baseline_values, baseline_flags, baseline_info = baselines(method, slots, energy, start, inputs)

    intervals: list[DsrInterval] = []
    measured_energies = energy.slots([(s.start, s.end) for s in slots])
    points = inputs.connection_points
    for slot, baseline, measured_energy in zip(
        slots, baseline_values, measured_energies, strict=True
    ):
        duration_s = _duration_s(slot)
        measured = (
            None
            if measured_energy is None or duration_s <= 0
            else (measured_energy[0] - measured_energy[1]) * 3600 / duration_s
        )
        imported, exported = measured_energy or (0.0, 0.0)
        other = modeled_load_w(points, slot.start, slot.end) if points else 0.0
        if other and measured is not None:
            # sites without a connection-point meter: their modelled non-EV load
            measured += other
            imported, exported = _net_energy(imported, exported, other * duration_s / 3600)
            if baseline is not None and method not in _STATED_BASELINES:
                baseline += other
        intervals.append(
            _interval(slot, duration_s, measured, baseline, (imported, exported), tolerance)
        )

    slot_bounds = [(index[s.start], index[s.end]) for s in slots]
    sessions, session_flags = session_parts(
        inputs.sessions, series, slots, registers, slot_bounds, start, end
    )
    meters, evidence = meter_parts(series, start, end)

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
    if first is not None and baseline_values[first] is not None:
        responded = response_time(
            total,
            _activated(fs, inputs, start),
            slots[first].end,
            float(baseline_values[first] or 0.0),
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
        )
        if any(i.delivered_w is not None for i in intervals)
        else None,
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
    performance = (
        judge(fs, terms.performance, intervals, inputs.response, responded)
        if terms is not None
        else None
    )
    figures = None
    if terms is not None:
        figures, performance = settlement(
            terms.remuneration,
            intervals,
            available_w,
            duration / 3600,
            availability,
            terms.performance,
            performance,
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
        data_quality=[
            *flags,
            *connection_flags(points, slots),
            *baseline_flags,
            *session_flags,
        ],
        settlement=figures,
        created_at=created_at,
        record_revision=1,
        baseline=baseline_info,
        performance=performance,
    )
    return BuiltRecord(record, evidence)
