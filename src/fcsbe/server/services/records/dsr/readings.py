"""Meter readings as delivered -> clean per-meter series, data-quality flags, registers.

Readings arrive in any order, some twice, some late, some never. Per meter: unusable readings
(non-finite or negative values, registers running backwards, MISSING quality) are left out,
duplicates collapse to the first delivered, the rest are sorted by time; every anomaly becomes a
flag instead of an error, so a record is always made. What remains depends only on the *set* of
clean readings, never on their arrival order, so totals are exact on the clean subset.

Energies come from the cumulative registers, linearly interpolated at interval boundaries and
clamped to the first and last reading (no energy is invented outside the data); a pause longer
than `gap_factor` times a meter's usual spacing is a GAP.
"""

from __future__ import annotations

import hashlib
import math
import operator
import struct
from bisect import bisect_left
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from statistics import median

from fcsbe.model import DataQualityCode, DataQualityFlag, MeasurementQuality
from fcsbe.server.services.records.dsr.inputs import MeterInfo, Reading, RecordOptions

__all__ = [
    "EVIDENCE_FORMAT",
    "MAX_GAP_FLAGS_PER_METER",
    "MeterSeries",
    "clean_readings",
    "evidence_digest",
]

EVIDENCE_FORMAT = "SHA256-I64"
"""Meter evidence made by the server: see `evidence_digest`."""

MAX_GAP_FLAGS_PER_METER = 10
"""Beyond this many gaps a meter gets one summarising GAP flag."""

_ESTIMATED = {MeasurementQuality.ESTIMATED.value, MeasurementQuality.SUBSTITUTED.value}


def _utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


@dataclass(slots=True)
class MeterSeries:
    """The clean readings of one meter, strictly increasing in time (epoch seconds)."""

    info: MeterInfo
    t: list[float] = field(default_factory=list)
    imp: list[float] = field(default_factory=list)
    exp: list[float] = field(default_factory=list)
    p: list[float | None] = field(default_factory=list)
    signed: list[Reading] = field(default_factory=list)

    def covers(self, start: float, end: float) -> bool:
        """Whether readings exist on both sides of, or inside, [start, end)."""
        return bool(self.t) and self.t[0] < end and self.t[-1] > start

    def spans(self, start: float, end: float) -> bool:
        """Whether the readings reach from `start` to `end` (no clamping needed)."""
        return bool(self.t) and self.t[0] <= start and self.t[-1] >= end

    def registers_at(self, bounds: Sequence[float]) -> tuple[list[float], list[float]]:
        """Import and export registers at each of `bounds`."""
        t, imp, exp = self.t, self.imp, self.exp
        n = len(t)
        if n == 0:
            return [0.0] * len(bounds), [0.0] * len(bounds)
        out_i: list[float] = []
        out_e: list[float] = []
        for b in bounds:
            i = bisect_left(t, b)
            if i == 0:
                out_i.append(imp[0])
                out_e.append(exp[0])
            elif i == n:
                out_i.append(imp[-1])
                out_e.append(exp[-1])
            elif t[i] == b:
                out_i.append(imp[i])
                out_e.append(exp[i])
            else:
                f = (b - t[i - 1]) / (t[i] - t[i - 1])
                out_i.append(imp[i - 1] + f * (imp[i] - imp[i - 1]))
                out_e.append(exp[i - 1] + f * (exp[i] - exp[i - 1]))
        return out_i, out_e

    def register_at(self, when: float) -> tuple[float, float]:
        """Import and export registers at one instant."""
        i = bisect_left(self.t, when)
        if not self.t:
            return 0.0, 0.0
        if i == 0:
            return self.imp[0], self.exp[0]
        if i == len(self.t):
            return self.imp[-1], self.exp[-1]
        f = (when - self.t[i - 1]) / (self.t[i] - self.t[i - 1])
        return (
            self.imp[i - 1] + f * (self.imp[i] - self.imp[i - 1]),
            self.exp[i - 1] + f * (self.exp[i] - self.exp[i - 1]),
        )

    def gaps(self, start: float, end: float, factor: float) -> list[tuple[float, float]]:
        """Spans of [start, end) without data: long pauses, and before/after the readings."""
        t = self.t
        if len(t) < 2:
            return [(start, end)] if end > start else []
        usual = median(map(operator.sub, t[1:], t))
        limit = factor * usual
        found: list[tuple[float, float]] = []
        if t[0] - start > limit:
            found.append((start, min(t[0], end)))
        lo = bisect_left(t, start)
        for k in range(max(lo, 1), len(t)):
            a, b = t[k - 1], t[k]
            if a >= end:
                break
            if b - a > limit:
                found.append((max(a, start), min(b, end)))
        if end - t[-1] > limit:
            found.append((max(t[-1], start), end))
        return [(a, b) for a, b in found if b > a]


class _Tally:
    """Count and first/last time of one kind of anomaly of one meter."""

    __slots__ = ("count", "first", "last")

    def __init__(self) -> None:
        self.count = 0
        self.first = math.inf
        self.last = -math.inf

    def add(self, when: float) -> None:
        self.count += 1
        self.first = min(self.first, when)
        self.last = max(self.last, when)


_DETAILS = {
    DataQualityCode.DUPLICATE_READING: "reading(s) delivered more than once; one kept",
    DataQualityCode.LATE_READING: "reading(s) received late; used",
    DataQualityCode.OUT_OF_ORDER: "reading(s) delivered after newer ones; re-sorted",
    DataQualityCode.INVALID_READING: "unusable reading(s) left out",
    DataQualityCode.ESTIMATED_VALUES: "estimated or substituted reading(s)",
    DataQualityCode.CLOCK_DRIFT: "reading(s) time-stamped after they were received",
}


_INF = math.inf
_MISSING = MeasurementQuality.MISSING.value
_MEASURED = MeasurementQuality.MEASURED.value


def _clean_fast(
    info: MeterInfo, samples: Sequence[Reading], options: RecordOptions
) -> MeterSeries | None:
    """The series of a meter whose delivery had no anomaly at all (the usual case), checked
    with whole-list operations; None as soon as anything needs the reading-by-reading path."""
    if not samples:
        return None
    _, ats, imps, exps, ps, _, qualities, received, signed, _ = zip(*samples, strict=True)
    # whole-list operations run in C (`map`, `operator`, `count`), not a Python step a reading
    t = list(map(datetime.timestamp, ats))
    if not all(map(operator.lt, t, t[1:])) or set(qualities) != {_MEASURED}:
        return None
    imp, exp = list(imps), list(exps)
    total = sum(imp) + sum(exp)  # NaN or infinity anywhere makes this non-finite
    if not math.isfinite(total) or min(imp) < 0 or min(exp) < 0:
        return None
    if imp != sorted(imp) or exp != sorted(exp):
        return None
    if not math.isfinite(sum(filter(partial(operator.is_not, None), ps))):
        return None
    unreceived = received.count(None)
    if unreceived < len(received):
        if unreceived:
            return None
        delays = [r.timestamp() - w for r, w in zip(received, t, strict=True)]
        if max(delays) > options.late_after_s or -min(delays) > options.clock_skew_s:
            return None
    series = MeterSeries(info, t, imp, exp, list(ps))
    if signed.count(None) < len(signed):
        series.signed = [s for s, data in zip(samples, signed, strict=True) if data is not None]
    return series


def _clean_one(
    info: MeterInfo, samples: Sequence[Reading], options: RecordOptions
) -> tuple[MeterSeries, dict[DataQualityCode, _Tally]]:
    """One meter's readings, in arrival order, to a clean series and its anomaly tallies
    (written for speed: this loop sees every reading of every meter)."""
    tallies = {code: _Tally() for code in _DETAILS}
    fast = _clean_fast(info, samples, options)
    if fast is not None:
        return fast, tallies
    first: dict[float, Reading] = {}
    newest = -_INF
    late = timedelta(seconds=options.late_after_s)
    skew = timedelta(seconds=options.clock_skew_s)
    for sample in samples:
        _, at, imp, exp, p, _, quality, received, _, _ = sample
        when = at.timestamp()
        # NaN fails every comparison, so these also refuse NaN.
        usable = 0.0 <= imp < _INF and 0.0 <= exp < _INF and quality != _MISSING
        if not usable or (p is not None and not -_INF < p < _INF):
            tallies[DataQualityCode.INVALID_READING].add(when)
            continue
        if when in first:
            tallies[DataQualityCode.DUPLICATE_READING].add(when)
            continue
        first[when] = sample
        if when < newest:
            tallies[DataQualityCode.OUT_OF_ORDER].add(when)
        else:
            newest = when
        if received is not None:
            if received - at > late:
                tallies[DataQualityCode.LATE_READING].add(when)
            elif at - received > skew:
                tallies[DataQualityCode.CLOCK_DRIFT].add(when)
        if quality in _ESTIMATED:
            tallies[DataQualityCode.ESTIMATED_VALUES].add(when)
    series = MeterSeries(info)
    t, imps, exps, ps = series.t, series.imp, series.exp, series.p
    last_imp = last_exp = -_INF
    for when in sorted(first):
        sample = first[when]
        _, _, imp, exp, p, _, _, _, signed, _ = sample
        if imp < last_imp or exp < last_exp:
            tallies[DataQualityCode.INVALID_READING].add(when)
            continue
        last_imp, last_exp = imp, exp
        t.append(when)
        imps.append(imp)
        exps.append(exp)
        ps.append(p)
        if signed is not None:
            series.signed.append(sample)
    return series, tallies


def _flags(info: MeterInfo, tallies: Mapping[DataQualityCode, _Tally]) -> list[DataQualityFlag]:
    return [
        DataQualityFlag(
            code=code,
            start=_utc(tally.first),
            end=_utc(tally.last),
            target=info.target,
            detail=f"{tally.count} {_DETAILS[code]}",
        )
        for code, tally in tallies.items()
        if tally.count
    ]


def _gap_flags(
    series: MeterSeries, start: float, end: float, factor: float
) -> tuple[list[DataQualityFlag], float]:
    gaps = series.gaps(start, end, factor)
    missing = sum(b - a for a, b in gaps)
    target = series.info.target
    if len(gaps) > MAX_GAP_FLAGS_PER_METER:
        detail = f"{len(gaps)} gaps without readings, {missing:.0f} s in all"
        flag = DataQualityFlag(
            code=DataQualityCode.GAP,
            start=_utc(gaps[0][0]),
            end=_utc(gaps[-1][1]),
            target=target,
            detail=detail,
        )
        return [flag], missing
    flags = [
        DataQualityFlag(
            code=DataQualityCode.GAP,
            start=_utc(a),
            end=_utc(b),
            target=target,
            detail=f"no reading for {b - a:.0f} s",
        )
        for a, b in gaps
    ]
    return flags, missing


def clean_readings(
    meters: Sequence[MeterInfo],
    readings: Iterable[Reading],
    start: float,
    end: float,
    options: RecordOptions,
) -> tuple[dict[str, MeterSeries], list[DataQualityFlag], float]:
    """Clean series per meter (sorted by meter id), their flags, and the seconds of missing
    data summed over the metered-in-total meters within [start, end)."""
    by_meter: dict[str, list[Reading]] = {m.meter_id: [] for m in meters}
    unknown = _Tally()
    for sample in readings:
        bucket = by_meter.get(sample[0])  # the meter id
        if bucket is None:
            unknown.add(sample[1].timestamp())  # taken at
        else:
            bucket.append(sample)
    series: dict[str, MeterSeries] = {}
    flags: list[DataQualityFlag] = []
    missing = 0.0
    for info in sorted(meters, key=lambda m: m.meter_id):
        one, tallies = _clean_one(info, by_meter[info.meter_id], options)
        series[info.meter_id] = one
        flags += _flags(info, tallies)
        gap_flags, gap_s = _gap_flags(one, start, end, options.gap_factor)
        flags += gap_flags
        if info.in_total:
            missing += gap_s
        if not info.certified:
            flags.append(
                DataQualityFlag(
                    code=DataQualityCode.METER_NOT_CERTIFIED,
                    start=_utc(start),
                    target=info.target,
                    detail=f"meter {info.meter_id} is not certified for billing",
                )
            )
    if unknown.count:
        flags.append(
            DataQualityFlag(
                code=DataQualityCode.INVALID_READING,
                start=_utc(unknown.first),
                end=_utc(unknown.last),
                detail=f"{unknown.count} reading(s) of meters not in the FS left out",
            )
        )
    return series, flags, missing


def evidence_digest(series: MeterSeries) -> str:
    """SHA-256 (hex) over the clean readings as three arrays of little-endian signed 64-bit
    integers, one after the other: the times in microseconds since the Unix epoch, the import
    registers and the export registers in milliwatt-hours (rounded half to even). Anyone
    holding the same readings (e.g. from the meter) recomputes it exactly, in any language."""
    n = len(series.t)
    h = hashlib.sha256()
    # `map` keeps the ~300,000 multiplications and roundings of a record out of Python frames
    h.update(struct.pack(f"<{n}q", *map(round, map((1e6).__mul__, series.t))))
    h.update(struct.pack(f"<{n}q", *map(round, map((1e3).__mul__, series.imp))))
    h.update(struct.pack(f"<{n}q", *map(round, map((1e3).__mul__, series.exp))))
    return h.hexdigest()
