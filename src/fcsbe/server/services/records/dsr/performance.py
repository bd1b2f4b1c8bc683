"""Settlement by performance: what was ordered, what was measured, and the contract's rules.

RESERVE (and any FS whose intervals carry an ordered change) is judged on the record's
intervals: the flex energy ordered against the flex energy delivered in the ordered direction.
DROOP and FFR order no power over the API: what they order follows from the frequency the
stations saw, so they are judged on the stored readings themselves (`ResponseSample`: the EVSE
meters' power with their frequency, or the FFR evidence rows), moment by moment:

- DROOP: the ordered change is the frequency-watt curve at the frequency seen one response
  time earlier (`droop_ordered_w`);
- FFR: each trigger level, from its first crossing, orders its ΔP after its full-activation
  time and until its support duration ends; the deepest level reached wins (`ffr_ordered_w`);
- delivered: the summed power minus the power just before the event, counted in the ordered
  direction and never above what was ordered at that moment.

The curves read the FS parameters by name and fall back to defaults where a parameter is
absent, so a payload that grows (a W/Hz gain, a reference power) is used when present.
Deficiency and penalty rules are the contract's (`PerformanceTerms`, `Remuneration`).
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal

from fcsbe.model import (
    DsrInterval,
    DsrPenalty,
    DsrPerformance,
    FlexibilityService,
    FsType,
    PerformanceTerms,
    Remuneration,
)
from fcsbe.server.services.records.dsr.inputs import ResponseSample

__all__ = ["droop_ordered_w", "ffr_ordered_w", "judge", "penalties"]

_CENT = Decimal("0.01")
_JUDGED = frozenset({FsType.DROOP, FsType.FFR, FsType.RESERVE})
"""Types whose record always carries a performance part (others: when something was ordered)."""
_INTERVAL_BASES = {
    FsType.RESERVE: "the reserve activations, per interval",
    FsType.CONGESTION: "the limit minus the baseline, per interval, at the points of connection",
}
"""`ordered_basis` of the types judged on intervals that say more than the default."""


def _num(params: object, name: str, default: float) -> float:
    value = getattr(params, name, None)
    return float(value) if isinstance(value, int | float) else default


def droop_ordered_w(params: object, f_hz: float) -> float:
    """The aggregate power change (+ more import) a droop FS orders at `f_hz`.

    With a `gain_w_per_hz`: gain x the deviation beyond the deadband. Otherwise the droop
    percentages of a reference power (`reference_power_w`, else the larger of |p_min_w| and
    |p_max_w|): per unit = (deviation / f_ref) / (droop % / 100). Bounded by the reference.
    """
    f_ref = _num(params, "f_ref_hz", 50.0)
    under = f_ref - _num(params, "deadband_under_hz", 0.0)
    over = f_ref + _num(params, "deadband_over_hz", 0.0)
    deviation = f_hz - under if f_hz < under else f_hz - over if f_hz > over else 0.0
    if deviation == 0:
        return 0.0
    reference = _num(params, "reference_power_w", 0.0) or max(
        abs(_num(params, "p_min_w", 0.0)), abs(_num(params, "p_max_w", 0.0))
    )
    gain = _num(params, "gain_w_per_hz", 0.0)
    if gain:
        ordered = gain * deviation
    else:
        droop = _num(params, "droop_under_pct" if deviation < 0 else "droop_over_pct", 5.0)
        ordered = (deviation / f_ref) / (droop / 100) * reference
    return max(-reference, min(reference, ordered)) if reference else ordered


_Trigger = tuple[float, float, float]
"""(first crossing time, full-activation time, ΔP) of a trigger level."""


def _triggers(params: object, times: Sequence[float], freqs: Sequence[float]) -> list[_Trigger]:
    """(first crossing time, full-activation time, ΔP) of each trigger level reached."""
    f_ref = _num(params, "f_ref_hz", 50.0)
    found: list[_Trigger] = []
    for level in getattr(params, "trigger_levels", None) or []:
        threshold = _num(level, "frequency_hz", f_ref)
        below = threshold < f_ref
        for t, f in zip(times, freqs, strict=True):
            if (f <= threshold) if below else (f >= threshold):
                found.append(
                    (t, _num(level, "full_activation_time_s", 0.0), _num(level, "delta_p_w", 0.0))
                )
                break
    return found


def ffr_ordered_w(params: object, triggers: Sequence[_Trigger], t: float) -> float:
    """The power change an FFR FS orders at `t`: the deepest trigger level whose full
    activation has passed and whose support duration has not ended."""
    support = _num(params, "support_duration_s", 30.0)
    live = [dp for at, full, dp in triggers if at + full <= t < at + support]
    return max(live, key=abs, default=0.0)


def _timeline(
    samples: Sequence[ResponseSample],
) -> tuple[list[float], list[float], list[float | None]]:
    """Distinct times, the summed power of every meter's latest reading, and the latest
    frequency, at each of them."""
    latest: dict[str, float] = {}
    times: list[float] = []
    powers: list[float] = []
    freqs: list[float | None] = []
    frequency: float | None = None
    for sample in sorted(samples, key=lambda s: (s.at, s.meter_id)):
        at = sample.at.timestamp()
        latest[sample.meter_id] = sample.p_w
        if sample.f_hz is not None and math.isfinite(sample.f_hz):
            frequency = sample.f_hz
        if times and times[-1] == at:
            powers[-1], freqs[-1] = math.fsum(latest.values()), frequency
        else:
            times.append(at)
            powers.append(math.fsum(latest.values()))
            freqs.append(frequency)
    return times, powers, freqs


def _frequency_response(
    fs: FlexibilityService, samples: Sequence[ResponseSample]
) -> tuple[float | None, float, float, int, str]:
    """(largest ordered change, ordered energy Wh, delivered energy Wh, samples, basis)."""
    params = fs.request.parameters
    times, powers, raw = _timeline(samples)
    known = [(t, p, f) for t, p, f in zip(times, powers, raw, strict=True) if f is not None]
    if len(known) < 2:
        return None, 0.0, 0.0, 0, "no readings with frequency in the window"
    ts = [t for t, _, _ in known]
    ps = [p for _, p, _ in known]
    fs_hz = [f for _, _, f in known]
    if fs.fs_type is FsType.DROOP:
        lag = _num(params, "full_activation_time_s", _num(params, "response_time_s", 0.0))
        ordered = [
            droop_ordered_w(params, fs_hz[max(0, bisect_right(ts, t - lag) - 1)]) for t in ts
        ]
        basis = f"the droop curve at the frequency seen {lag:g} s earlier"
    else:
        triggers = _triggers(params, ts, fs_hz)
        ordered = [ffr_ordered_w(params, triggers, t) for t in ts]
        basis = f"{len(triggers)} trigger level(s) reached, held for the support duration"
    peak = max(ordered, key=abs, default=0.0)
    ordered_wh = delivered_wh = 0.0
    before: float | None = None
    judged = 0
    for k in range(len(ts) - 1):
        dt = ts[k + 1] - ts[k]
        o = ordered[k]
        if o == 0:
            before = ps[k]  # the power just before an event is its baseline
            continue
        base = before if before is not None else ps[0]
        moved = math.copysign(1.0, o) * (ps[k] - base)
        ordered_wh += abs(o) * dt / 3600
        delivered_wh += min(abs(o), max(0.0, moved)) * dt / 3600
        judged += 1
    return (peak or None), ordered_wh, delivered_wh, judged, basis


def _from_intervals(intervals: Sequence[DsrInterval]) -> tuple[float | None, float, float, int]:
    ordered_wh = delivered_wh = 0.0
    peak: float | None = None
    judged = 0
    for i in intervals:
        if not i.ordered_w or i.delivered_w is None:
            continue
        hours = i.duration_s / 3600
        sign = math.copysign(1.0, i.ordered_w)
        ordered_wh += abs(i.ordered_w) * hours
        delivered_wh += min(abs(i.ordered_w), max(0.0, sign * i.delivered_w)) * hours
        if peak is None or abs(i.ordered_w) > abs(peak):
            peak = i.ordered_w
        judged += 1
    return peak, ordered_wh, delivered_wh, judged


def judge(
    fs: FlexibilityService,
    terms: PerformanceTerms,
    intervals: Sequence[DsrInterval],
    samples: Sequence[ResponseSample],
    response_time_s: float | None,
) -> DsrPerformance | None:
    """The performance part of the record (None for a type with nothing ordered)."""
    if fs.fs_type in (FsType.DROOP, FsType.FFR):
        evidence_rows = [s for s in samples if s.kind == "FFR"]
        use = evidence_rows if fs.fs_type is FsType.FFR and evidence_rows else samples
        evidence = "FFR_EVIDENCE" if use is evidence_rows and evidence_rows else "METER_READINGS"
        peak, ordered_wh, delivered_wh, judged, basis = _frequency_response(
            fs, [s for s in use if s.kind in ("EVSE", "FFR")]
        )
    else:
        peak, ordered_wh, delivered_wh, judged = _from_intervals(intervals)
        if peak is None and fs.fs_type not in _JUDGED:
            return None
        evidence, basis = (
            "METER_INTERVALS",
            _INTERVAL_BASES.get(fs.fs_type, "requested minus baseline, per interval"),
        )
    ratio = 100 * delivered_wh / ordered_wh if ordered_wh > 0 else None
    shortfall = max(0.0, terms.min_delivery_pct - ratio) if ratio is not None else 0.0
    required = terms.response_time_s + terms.response_time_tolerance_s
    late = (
        fs.fs_type is not FsType.SETPOINT
        and evidence == "METER_INTERVALS"
        and ratio is not None
        and (response_time_s is None or response_time_s > required)
    )
    return DsrPerformance(
        ordered_w=None if peak is None else round(peak, 3),
        ordered_basis=basis,
        ordered_energy_wh=round(ordered_wh, 3) if ratio is not None else None,
        delivered_energy_wh=round(delivered_wh, 3) if ratio is not None else None,
        delivery_pct=None if ratio is None else round(min(ratio, 100.0), 3),
        min_delivery_pct=terms.min_delivery_pct,
        shortfall_pct=round(shortfall, 3),
        response_time_s=response_time_s,
        required_response_time_s=required,
        passed=None if ratio is None else shortfall == 0 and not late,
        evidence=evidence,  # type: ignore[arg-type]
        samples=judged,
    )


def _money(value: Decimal) -> Decimal:
    return value.quantize(_CENT, rounding=ROUND_HALF_UP)


def penalties(
    performance: DsrPerformance,
    terms: PerformanceTerms,
    remuneration: Remuneration,
    deficiency_wh: float,
    availability: Decimal,
) -> list[DsrPenalty]:
    """The contract's penalty lines for this performance: deficiency energy, delivery
    shortfall, and the availability payment forfeited by a failed FS."""
    lines: list[DsrPenalty] = []
    if deficiency_wh > 0 and remuneration.penalty_per_mwh > 0:
        amount = remuneration.penalty_per_mwh * Decimal(repr(deficiency_wh / 1e6))
        lines.append(
            DsrPenalty(
                rule="DEFICIENCY_ENERGY",
                basis=f"{deficiency_wh:.3f} Wh undelivered x {remuneration.penalty_per_mwh} "
                f"{remuneration.currency}/MWh",
                amount=_money(amount),
            )
        )
    if performance.shortfall_pct > 0 and terms.penalty_per_pct_shortfall > 0:
        amount = terms.penalty_per_pct_shortfall * Decimal(repr(performance.shortfall_pct))
        lines.append(
            DsrPenalty(
                rule="DELIVERY_SHORTFALL",
                basis=f"{performance.shortfall_pct:.3f} points below {terms.min_delivery_pct} % "
                f"x {terms.penalty_per_pct_shortfall} {remuneration.currency}",
                amount=_money(amount),
            )
        )
    if performance.passed is False and terms.forfeit_availability and availability > 0:
        lines.append(
            DsrPenalty(
                rule="AVAILABILITY_FORFEIT",
                basis="the FS failed its performance terms: availability not paid",
                amount=availability,
            )
        )
    return lines
