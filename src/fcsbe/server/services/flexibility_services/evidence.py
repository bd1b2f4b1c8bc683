"""High-resolution evidence of the responses the stations execute locally (FFR, droop), shown to
the FO: the samples (paged), a summary per event, and a plot of ordered vs delivered power.

The stations sample every armed EVSE at 100 ms (or finer) while an FFR is detecting, active,
deactivating and settling, and while a droop answers a frequency change; the telemetry step keeps
those samples with the base power and the ordered change. Here they are grouped at the contract's
data-sharing level (site, station or EVSE, as the measurements): powers and changes summed over
the EVSEs of a group at each instant, frequency averaged.

An event starts at a trigger (FFR) or after a gap in the samples; its response time is measured
from the first sample at the frequency that called for its largest ordered change (the deepest FFR
level crossed, or the droop's new frequency) to the first sample that has covered 90 % of the way
from what was delivered then to what was ordered, as grid codes measure it; its deviation is the
largest |ordered - delivered| from then on while the response is held (ACTIVE or DROOP).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape
from itertools import pairwise

from sqlalchemy.ext.asyncio import AsyncSession

from fcsbe.model import (
    EvidenceEvent,
    EvidenceSample,
    EvidenceSummary,
    Target,
    TargetLevel,
)
from fcsbe.server.services.flexibility_services.measurements import fs_groups
from fcsbe.server.storage.flexibility_services import FlexibilityServiceRow
from fcsbe.server.storage.measurements import MeterReadingRow, readings_between

__all__ = ["EVENT_GAP_S", "evidence_page", "evidence_summary", "evidence_svg"]

EVENT_GAP_S = 1.0
"""A gap longer than this between two samples of a target starts a new event."""
_KINDS = ("FFR", "DROOP")
_HELD = frozenset({"ACTIVE", "DROOP"})


@dataclass(frozen=True, slots=True)
class _Point:
    level: TargetLevel
    target: str
    at: datetime
    kind: str
    sample: EvidenceSample


async def _points(session: AsyncSession, fs: FlexibilityServiceRow) -> list[_Point]:
    """Every evidence sample of the FS, grouped at its data-sharing level, in time order."""
    evses, groups = await fs_groups(session, fs)
    rows = await readings_between(session, evses, fs.window_start, fs.window_end, kinds=_KINDS)
    by_evse: dict[str, list[MeterReadingRow]] = {}
    for row in rows:
        by_evse.setdefault(row.meter_id, []).append(row)
    points: list[_Point] = []
    for (level, target_id), members in sorted(groups.items()):
        at: dict[datetime, list[MeterReadingRow]] = {}
        for evse_id in members:
            seen: set[datetime] = set()
            for row in by_evse.get(evse_id, []):
                if row.at not in seen:  # a sample delivered twice counts once
                    seen.add(row.at)
                    at.setdefault(row.at, []).append(row)
        for t in sorted(at):
            group = at[t]
            p = sum(r.p_w for r in group)
            base = sum(r.baseline_w if r.baseline_w is not None else r.p_w for r in group)
            ordered = sum(r.ordered_w or 0.0 for r in group)
            freqs = [r.f_hz for r in group if r.f_hz is not None]
            sample = EvidenceSample(
                target=Target(level=level, id=target_id),
                time=t,
                phase=group[0].quality,
                f_hz=sum(freqs) / len(freqs) if freqs else None,
                p_w=p,
                baseline_w=base,
                ordered_w=ordered,
                delivered_w=p - base,
            )
            points.append(_Point(level, target_id, t, group[0].kind, sample))
    points.sort(key=lambda q: (q.at, q.level.value, q.target))
    return points


async def evidence_page(
    session: AsyncSession,
    fs: FlexibilityServiceRow,
    after: tuple[str, str, str] | None,
    limit: int,
) -> tuple[list[EvidenceSample], tuple[str, str, str] | None]:
    """A page of samples after the key `after` (time, level, target), and the next key."""
    points = await _points(session, fs)
    if after is not None:
        points = [q for q in points if (q.at.isoformat(), q.level.value, q.target) > after]
    page = points[:limit]
    more = len(points) > limit
    last = page[-1] if page else None
    next_key = (last.at.isoformat(), last.level.value, last.target) if more and last else None
    return [q.sample for q in page], next_key


def _events(points: Sequence[_Point]) -> list[list[_Point]]:
    """The samples of each target cut into events (a trigger or a gap starts one)."""
    by_target: dict[tuple[TargetLevel, str], list[_Point]] = {}
    for q in points:
        by_target.setdefault((q.level, q.target), []).append(q)
    events: list[list[_Point]] = []
    for series in by_target.values():
        current: list[_Point] = []
        for q in series:
            gap = (q.at - current[-1].at).total_seconds() if current else 0.0
            if current and (gap > EVENT_GAP_S or q.sample.phase == "TRIGGERED"):
                events.append(current)
                current = []
            current.append(q)
        if current:
            events.append(current)
    events.sort(key=lambda e: (e[0].at, e[0].level.value, e[0].target))
    return events


def _summary(event: list[_Point]) -> EvidenceEvent:
    first = event[0]
    ordered = max((q.sample.ordered_w for q in event), key=abs)
    sign = 1.0 if ordered >= 0 else -1.0
    delivered = max((q.sample.delivered_w * sign for q in event), default=0.0) * sign
    # The response is timed from the frequency that called for the largest change: its first
    # sample (the trigger of the deepest FFR level reached, or the droop's frequency change).
    # The frequency changed between the sample before and the first one that shows it: timed
    # from the one before (at most one sample period too long, never too short).
    peak = next(q for q in event if q.sample.ordered_w == ordered)
    k = next((k for k, q in enumerate(event) if q.sample.f_hz == peak.sample.f_hz), 0)
    origin = event[k - 1] if k > 0 else first
    # 90 % of the change: from what was delivered then to what was ordered.
    before = origin.sample.delivered_w
    change = ordered - before
    step = 1.0 if change >= 0 else -1.0
    reached = next(
        (
            q
            for q in event
            if q.at >= origin.at
            and abs(change) > 0
            and (q.sample.delivered_w - before) * step >= 0.9 * abs(change)
        ),
        None,
    )
    deviation = 0.0
    if reached is not None:
        deviation = max(
            (
                abs(q.sample.ordered_w - q.sample.delivered_w)
                for q in event
                if q.at >= reached.at and q.sample.phase in _HELD
            ),
            default=0.0,
        )
    return EvidenceEvent(
        target=first.sample.target,
        kind=first.kind,
        started_at=first.at,
        ordered_w=ordered,
        delivered_w=delivered,
        response_time_s=(
            round((reached.at - origin.at).total_seconds(), 3) if reached is not None else None
        ),
        max_deviation_w=round(deviation, 3),
        samples=len(event),
    )


async def evidence_summary(session: AsyncSession, fs: FlexibilityServiceRow) -> EvidenceSummary:
    """One summary per target and event: ordered, delivered, response time, deviation."""
    points = await _points(session, fs)
    events = _events(points)
    steps = [
        (b.at - a.at).total_seconds() for event in events for a, b in pairwise(event) if b.at > a.at
    ]
    return EvidenceSummary(
        fs_id=fs.fs_id,
        resolution_s=round(min(steps), 3) if steps else None,
        events=[_summary(e) for e in events],
    )


async def evidence_svg(session: AsyncSession, fs: FlexibilityServiceRow, event: int = 0) -> str:
    """A plot of one event (all targets summed): ordered and delivered power, and frequency."""
    events = _events(await _points(session, fs))
    chosen = events[event] if 0 <= event < len(events) else []
    start = chosen[0].at if chosen else None
    window = [q for e in events if start is not None and e[0].at == start for q in e]
    return render_svg(fs.fs_id, window)


def render_svg(title: str, points: Sequence[_Point]) -> str:
    """Hand-built SVG: time (s) on x, power (kW) on the left, frequency (Hz) on the right."""
    width, height, left, right, top, bottom = 720, 360, 64, 64, 40, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    sums: dict[datetime, list[float]] = {}
    for q in points:
        entry = sums.setdefault(q.at, [0.0, 0.0, 0.0, 0.0])
        entry[0] += q.sample.baseline_w + q.sample.ordered_w
        entry[1] += q.sample.p_w
        if q.sample.f_hz is not None:
            entry[2] += q.sample.f_hz
            entry[3] += 1
    times = sorted(sums)
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">'
        f"<title>{escape(title)}: ordered vs delivered power</title>"
        f'<rect width="{width}" height="{height}" fill="white"/>'
        f'<text x="{left}" y="24">{escape(title)}: ordered vs delivered power</text>'
    )
    if not times:
        return head + f'<text x="{left}" y="{top + 40}">no evidence recorded</text></svg>'
    t0 = times[0]
    xs = [(t - t0).total_seconds() for t in times]
    ordered = [sums[t][0] / 1000 for t in times]
    delivered = [sums[t][1] / 1000 for t in times]
    freq = [sums[t][2] / sums[t][3] if sums[t][3] else None for t in times]
    p_lo, p_hi = _span(ordered + delivered)
    f_values = [f for f in freq if f is not None]
    f_lo, f_hi = _span(f_values or [50.0])
    x_hi = max(xs[-1], 1e-3)

    def x(v: float) -> float:
        return left + plot_w * v / x_hi

    def y(v: float, lo: float, hi: float) -> float:
        return top + plot_h * (1 - (v - lo) / (hi - lo))

    def line(values: Sequence[float | None], lo: float, hi: float, colour: str, dash: str) -> str:
        pts = " ".join(
            f"{x(a):.1f},{y(v, lo, hi):.1f}"
            for a, v in zip(xs, values, strict=True)
            if v is not None
        )
        return (
            f'<polyline fill="none" stroke="{colour}" stroke-width="2" '
            f'stroke-dasharray="{dash}" points="{pts}"/>'
        )

    axes = (
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" '
        'stroke="black"/>'
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="black"/>'
        f'<text x="{left - 6}" y="{top + 4}" text-anchor="end">{p_hi:.1f}</text>'
        f'<text x="{left - 6}" y="{top + plot_h}" text-anchor="end">{p_lo:.1f}</text>'
        f'<text x="{left - 50}" y="{top + plot_h / 2}">kW</text>'
        f'<text x="{left + plot_w + 6}" y="{top + 4}">{f_hi:.3f}</text>'
        f'<text x="{left + plot_w + 6}" y="{top + plot_h}">{f_lo:.3f}</text>'
        f'<text x="{left + plot_w + 6}" y="{top + plot_h / 2}">Hz</text>'
        f'<text x="{left}" y="{height - 12}">0 s</text>'
        f'<text x="{left + plot_w}" y="{height - 12}" text-anchor="end">{x_hi:.1f} s</text>'
        f'<text x="{left + plot_w / 2}" y="{height - 12}" text-anchor="middle">'
        f"from {escape(t0.isoformat())}</text>"
    )
    legend = (
        f'<text x="{left + plot_w - 250}" y="24" fill="#1f77b4">ordered</text>'
        f'<text x="{left + plot_w - 170}" y="24" fill="#d62728">delivered</text>'
        f'<text x="{left + plot_w - 80}" y="24" fill="#7f7f7f">frequency</text>'
    )
    return (
        head
        + axes
        + legend
        + line(freq, f_lo, f_hi, "#7f7f7f", "2,3")
        + line(ordered, p_lo, p_hi, "#1f77b4", "6,3")
        + line(delivered, p_lo, p_hi, "#d62728", "none")
        + "</svg>"
    )


def _span(values: Sequence[float]) -> tuple[float, float]:
    """A value range with a margin (never empty)."""
    lo, hi = min(values), max(values)
    margin = (hi - lo) * 0.08 or max(abs(hi) * 0.01, 0.01)
    return lo - margin, hi + margin
