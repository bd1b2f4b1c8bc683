"""The parts of a detailed service record that summarise rather than compare: sessions, meters
and their evidence, the measured response time, and the settlement amounts.

Everything here is computed from the clean meter series and the per-interval figures of
`services.dsr`; nothing is taken from what was requested. Amounts are exact decimals rounded to
cents, as UFTP `FlexOrderSettlement` carries them.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal

from pydantic import ValidationError

from fcsbe.model import (
    DataQualityCode,
    DataQualityFlag,
    DsrInterval,
    DsrMeter,
    DsrPerformance,
    DsrSession,
    DsrSettlement,
    MeterEvidence,
    PerformanceTerms,
    Remuneration,
)
from fcsbe.server.services.records.dsr.inputs import SessionSpan
from fcsbe.server.services.records.dsr.performance import penalties
from fcsbe.server.services.records.dsr.plan import Slot
from fcsbe.server.services.records.dsr.readings import EVIDENCE_FORMAT, MeterSeries, evidence_digest

__all__ = ["meter_parts", "response_time", "session_parts", "settlement"]

_CENT = Decimal("0.01")
_EPSILON_WH = 0.001


def _utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def session_parts(
    sessions: Sequence[SessionSpan],
    series: Mapping[str, MeterSeries],
    slots: Sequence[Slot],
    registers: Mapping[str, tuple[list[float], list[float]]],
    slot_bounds: Sequence[tuple[int, int]],
    start: float,
    end: float,
) -> tuple[list[DsrSession], list[DataQualityFlag]]:
    """Each session's V1G/V2G intervals and energies within [start, end), from its EVSE's
    meter(s); sessions without overlap or meter are left out, malformed ones flagged."""
    by_evse: dict[str, list[MeterSeries]] = {}
    for one in series.values():
        if one.info.evse_id is not None:
            by_evse.setdefault(one.info.evse_id, []).append(one)
    starts = [slot.start for slot in slots]
    exported: dict[str, list[float]] = {}

    def exports_of(meter: MeterSeries) -> list[float]:
        """Export per slot of one meter (computed once, only for meters with sessions)."""
        found = exported.get(meter.info.meter_id)
        if found is None:
            exp = registers[meter.info.meter_id][1]
            found = exported[meter.info.meter_id] = [exp[b] - exp[a] for a, b in slot_bounds]
        return found

    parts: list[DsrSession] = []
    flags: list[DataQualityFlag] = []
    for span in sorted(sessions, key=lambda s: (s.connected_at, s.session_ref)):
        lo = max(span.connected_at.timestamp(), start)
        hi = min(span.disconnected_at.timestamp() if span.disconnected_at else end, end)
        meters = by_evse.get(span.evse_id, [])
        if hi <= lo or not meters:
            continue
        charged = injected = 0.0
        for meter in meters:
            i0, e0 = meter.register_at(lo)
            i1, e1 = meter.register_at(hi)
            charged += i1 - i0
            injected += e1 - e0
        first = max(0, bisect_right(starts, lo) - 1)
        if first < len(slots) and slots[first].end <= lo:
            first += 1
        last = bisect_left(starts, hi)
        columns = [exports_of(m) for m in meters]
        v2g = sum(1 for k in range(first, last) if sum(c[k] for c in columns) > _EPSILON_WH)
        v1g = max(0, last - first) - v2g
        try:
            parts.append(
                DsrSession(
                    session_ref=span.session_ref,
                    evse_id=span.evse_id,
                    v1g_intervals=v1g,
                    v2g_intervals=v2g,
                    energy_charged_wh=round(max(charged, 0.0), 3),
                    energy_injected_wh=round(max(injected, 0.0), 3),
                )
            )
        except ValidationError:
            flags.append(
                DataQualityFlag(
                    code=DataQualityCode.INVALID_READING,
                    start=_utc(lo),
                    end=_utc(hi),
                    detail="a session with a malformed pseudonym or EVSE id was left out",
                )
            )
    return parts, flags


def meter_parts(
    series: Mapping[str, MeterSeries], start: float, end: float
) -> tuple[list[DsrMeter], list[MeterEvidence]]:
    """The meters used, their registers at start and end, and the evidence the PoW carries:
    a digest of every clean reading (`evidence_digest`), plus the first and last signed
    readings inside the record as delivered by the meter (e.g. OCMF)."""
    meters: list[DsrMeter] = []
    evidence: list[MeterEvidence] = []
    for one in series.values():
        info = one.info
        inside = [s for s in one.signed if start <= s[1].timestamp() <= end]  # taken at
        meters.append(
            DsrMeter(
                meter_id=info.meter_id,
                serial_number=info.serial_number[:64],
                certified=info.certified,
                signed_readings=len(inside),
                start_register_wh=round(one.register_at(start)[0], 3)
                if one.spans(start, start)
                else None,
                end_register_wh=round(one.register_at(end)[0], 3) if one.spans(end, end) else None,
            )
        )
        evidence.append(
            MeterEvidence(
                meter_id=info.meter_id,
                format=EVIDENCE_FORMAT,
                signed_data=f"sha256={evidence_digest(one)};readings={len(one.t)}",
            )
        )
        for sample in dict.fromkeys([*inside[:1], *inside[-1:]]):
            signed_data, signed_format = sample[8:10]
            evidence.append(
                MeterEvidence(
                    meter_id=info.meter_id,
                    format=(signed_format or "OCMF")[:16],
                    signed_data=str(signed_data)[:65_536],
                    public_key=info.public_key,
                )
            )
    return meters, evidence


def response_time(
    meters: Sequence[MeterSeries],
    activated_at: float,
    until: float,
    baseline: float,
    ordered: float,
    threshold_pct: float,
) -> float | None:
    """Seconds from activation until the summed power (each meter's latest `p_w`) has moved
    `threshold_pct` of `ordered` away from `baseline`; None if not within [activation, until)."""
    if ordered == 0 or not any(p is not None for m in meters for p in m.p):
        return None
    direction = math.copysign(1.0, ordered)
    needed = abs(ordered) * threshold_pct / 100
    current: list[float] = []
    events: list[tuple[float, int, float]] = []
    for index, meter in enumerate(meters):
        k = bisect_right(meter.t, activated_at) - 1
        current.append((meter.p[k] or 0.0) if k >= 0 else 0.0)
        for j in range(k + 1, len(meter.t)):
            if meter.t[j] >= until:
                break
            value = meter.p[j]
            if value is not None:
                events.append((meter.t[j], index, value))
    power = math.fsum(current)
    if direction * (power - baseline) >= needed:
        return 0.0
    for when, index, value in sorted(events):
        power += value - current[index]
        current[index] = value
        if direction * (power - baseline) >= needed:
            return round(when - activated_at, 3)
    return None


def _money(value: float | Decimal) -> Decimal:
    return Decimal(repr(value) if isinstance(value, float) else value).quantize(
        _CENT, rounding=ROUND_HALF_UP
    )


def settlement(
    remuneration: Remuneration,
    intervals: Sequence[DsrInterval],
    available_w: float,
    hours: float,
    availability_pct: float,
    terms: PerformanceTerms | None = None,
    performance: DsrPerformance | None = None,
) -> tuple[DsrSettlement, DsrPerformance | None]:
    """UFTP-like settlement: energies over the intervals, and availability + activation -
    penalty, with activation paid on the flex delivered in the ordered direction; with a
    performance part, the contract's penalty lines (summed into `penalty_amount`) are added to
    it. DROOP and FFR, whose intervals order nothing, are paid and penalised on the energies
    their performance part measured from the readings."""

    def energy(values: Sequence[tuple[float | None, float]]) -> float:
        return math.fsum(v * d / 3600 for v, d in values if v is not None)

    delivered_in_direction = math.fsum(
        max(0.0, math.copysign(1.0, i.ordered_w) * i.delivered_w) * i.duration_s / 3600
        for i in intervals
        if i.ordered_w and i.delivered_w is not None
    )
    deficiency_wh = energy([(i.deficiency_w, i.duration_s) for i in intervals])
    from_readings = performance is not None and performance.evidence != "METER_INTERVALS"
    if from_readings and performance is not None:
        delivered_in_direction = performance.delivered_energy_wh or 0.0
        deficiency_wh = max(0.0, (performance.ordered_energy_wh or 0.0) - delivered_in_direction)
    available = _money(
        remuneration.availability_price_per_mw_h
        * Decimal(repr(available_w / 1e6))
        * Decimal(repr(hours))
        * Decimal(repr(availability_pct / 100))
    )
    activation = _money(
        remuneration.activation_price_per_mwh * Decimal(repr(delivered_in_direction / 1e6))
    )
    if performance is not None and terms is not None:
        lines = penalties(performance, terms, remuneration, deficiency_wh, available)
        performance = performance.model_copy(update={"penalties": lines})
        penalty = sum((line.amount for line in lines), Decimal(0))
    else:
        penalty = _money(remuneration.penalty_per_mwh * Decimal(repr(deficiency_wh / 1e6)))
    figures = DsrSettlement(
        currency=remuneration.currency,
        baseline_wh=round(energy([(i.baseline_w, i.duration_s) for i in intervals]), 3),
        ordered_wh=round(energy([(i.ordered_w, i.duration_s) for i in intervals]), 3),
        actual_wh=round(energy([(i.measured_w, i.duration_s) for i in intervals]), 3),
        delivered_wh=round(energy([(i.delivered_w, i.duration_s) for i in intervals]), 3),
        deficiency_wh=round(deficiency_wh, 3),
        availability_amount=available,
        activation_amount=activation,
        penalty_amount=penalty,
        net_amount=available + activation - penalty,
    )
    return figures, performance
