"""Availability forecast of a target (`GET /v1/availability`) from the stored fleet state.

For every EV connected now the stored session says when it leaves, how much energy it still
needs (minimum SoC at departure), how much it could still take, and how much it may give back
(SoC floor, maximum energy to grid, V2G consent and a conformant bidirectional DER). Per interval:

- baseline: the EV charges at full power from now until its target is reached (what happens
  without any FS);
- min import: the "must run" part, where even the latest possible charging still falls in the
  interval if the minimum energy is to be there at departure;
- max import: full power while the battery still has room after that least charging so far;
- max export: discharge power while the battery holds energy it may give and there is time left
  to recharge it before departure;
- energy up/down: how far the target can go below/above its baseline in the interval;
- power already committed to live FS on the EVSE is taken off what is offered.

Site totals are bounded by the grid connection; an off-grid site offers nothing to the grid.
Only EVs connected now are counted: arrivals are not predicted, so confidence falls with the
horizon and with sessions whose departure is unknown.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from fcsbe.model import (
    AvailabilityForecast,
    AvailabilityInterval,
    EvSession,
    FieldError,
    FsType,
    Target,
    TargetLevel,
)
from fcsbe.model.fs_payloads import MAX_PERIODS
from fcsbe.server.errors import UnprocessableContent
from fcsbe.server.security.principal import Principal
from fcsbe.server.services.flexibility_services.lifecycle import LIVE_STATES
from fcsbe.server.services.registry.capabilities import assess
from fcsbe.server.services.registry.targets import Resolved, ev_technical, resolve_target
from fcsbe.server.storage.availability import Committed, committed_power

__all__ = ["Horizon", "forecast", "forecast_for", "horizon"]

_HOUR = 3600.0


@dataclass(frozen=True, slots=True)
class Horizon:
    """The intervals asked for: [start, end) cut every `resolution_s` (the last may be shorter)."""

    start: datetime
    end: datetime
    resolution_s: int

    def spans(self) -> list[tuple[datetime, datetime]]:
        found = []
        at = self.start
        while at < self.end:
            nxt = min(self.end, at + timedelta(seconds=self.resolution_s))
            found.append((at, nxt))
            at = nxt
        return found


def horizon(
    now: datetime, start: datetime | None, end: datetime | None, resolution_s: int
) -> Horizon:
    """Check the query: end after start, at most `MAX_PERIODS` intervals (422 otherwise)."""
    begin = start or now
    finish = end or begin + timedelta(days=1)
    if finish <= begin:
        raise UnprocessableContent(
            "end must be after start.",
            errors=[FieldError(pointer="/query/end", detail="must be after start", code="order")],
        )
    count = -(-int((finish - begin).total_seconds()) // resolution_s)
    if count > MAX_PERIODS:
        raise UnprocessableContent(
            f"{count} intervals asked for; at most {MAX_PERIODS} per forecast.",
            errors=[
                FieldError(
                    pointer="/query/resolution_s",
                    detail=f"gives {count} intervals, more than {MAX_PERIODS}",
                    code="too_many_intervals",
                )
            ],
        )
    return Horizon(begin, finish, resolution_s)


def _overlap_h(a: datetime, b: datetime, c: datetime, d: datetime) -> float:
    return max(0.0, (min(b, d) - max(a, c)).total_seconds()) / _HOUR


@dataclass
class _Ev:
    """One connected EV's numbers for the forecast."""

    connected_at: datetime
    departure: datetime | None
    import_w: float
    export_w: float
    min_wh: float
    target_wh: float
    room_wh: float
    give_wh: float

    def baseline_wh(self, now: datetime, at: datetime) -> float:
        """Energy charged between now and `at` without any FS."""
        hours = max(0.0, (at - now).total_seconds()) / _HOUR
        return min(self.target_wh, self.import_w * hours)


def _ev_of(resolved: Resolved, evse_id: str, now: datetime) -> _Ev | None:
    row = resolved.sessions.get(evse_id)
    if row is None:
        return None
    session = EvSession.model_validate(row.data)
    evse = next(e for e in resolved.evses if e.evse_id == evse_id)
    station = resolved.stations[resolved.station_of[evse_id]]
    capability = assess(FsType.SETPOINT, evse, station, ev_technical(row.data), now).capability
    request, limits = session.energy_request, session.evu_limits
    export_w = -capability.p_min_w
    give = 0.0
    if request is not None and request.v2x_min_energy_wh is not None:
        give = max(0.0, -request.v2x_min_energy_wh)
    if limits is not None:
        give = min(give, limits.max_energy_to_grid_wh)
        if limits.max_discharge_power_w is not None:
            export_w = min(export_w, limits.max_discharge_power_w)
    if give <= 0:
        export_w = 0.0
    return _Ev(
        connected_at=session.connected_at,
        departure=session.departure_time,
        import_w=capability.p_max_w,
        export_w=export_w,
        min_wh=request.min_energy_wh if request else 0.0,
        target_wh=request.target_energy_wh if request else 0.0,
        room_wh=request.max_energy_wh if request else 0.0,
        give_wh=give,
    )


@dataclass
class _Sum:
    min_import_w: float = 0.0
    max_import_w: float = 0.0
    max_export_w: float = 0.0
    up_wh: float = 0.0
    down_wh: float = 0.0
    connected: int = 0
    v2g: int = 0
    unknown_departure: int = 0


def _add(
    total: _Sum,
    ev: _Ev,
    now: datetime,
    span: tuple[datetime, datetime, datetime],
    cut: Committed | None,
) -> None:
    """Add one EV's part of interval [a, b); an EV without a known departure is taken to stay
    until the end of the forecast."""
    a, b, until = span
    dur_h = (b - a).total_seconds() / _HOUR
    leave = ev.departure or until
    present_h = _overlap_h(a, b, now, leave)
    if present_h <= 0:
        return
    start = max(a, now)
    base_wh = ev.baseline_wh(now, min(b, leave)) - ev.baseline_wh(now, start)
    must_from = leave - timedelta(hours=ev.min_wh / ev.import_w) if ev.import_w > 0 else leave
    # the least the EV can have charged by `start`: everything deferred to just before leaving
    least_wh = ev.import_w * _overlap_h(must_from, leave, now, start)
    max_import = min(ev.import_w * present_h, max(0.0, ev.room_wh - least_wh)) / dur_h
    min_import = min(max_import, ev.import_w * _overlap_h(a, b, must_from, leave) / dur_h)
    spare_h = max(0.0, (leave - b).total_seconds()) / _HOUR
    give = min(ev.give_wh, max(0.0, ev.import_w * spare_h - ev.min_wh))
    max_export = min(ev.export_w * present_h, give) / dur_h
    if cut is not None:
        max_import = max(min_import, max_import - cut.import_w)
        max_export = max(0.0, max_export - cut.export_w)
    base_w = base_wh / dur_h
    total.min_import_w += min_import
    total.max_import_w += max_import
    total.max_export_w += max_export
    total.up_wh += max(0.0, base_w - (min_import - max_export)) * dur_h
    total.down_wh += max(0.0, max_import - base_w) * dur_h
    total.connected += 1
    total.v2g += 1 if ev.export_w > 0 else 0
    total.unknown_departure += 1 if ev.departure is None else 0


def _confidence(now: datetime, a: datetime, total: _Sum) -> float:
    ahead_h = max(0.0, (a - now).total_seconds() / _HOUR)
    confidence = max(30.0, 95.0 - 2.5 * ahead_h)
    if total.connected and total.unknown_departure:
        confidence *= 1.0 - 0.4 * total.unknown_departure / total.connected
    return round(confidence, 1)


def _commitment(found: list[Committed], a: datetime, b: datetime) -> Committed | None:
    live = [c for c in found if c.start < b and c.end > a]
    if not live:
        return None
    first = live[0]
    return Committed(
        first.evse_id, a, b, sum(c.import_w for c in live), sum(c.export_w for c in live)
    )


def forecast_for(
    resolved: Resolved, span: Horizon, now: datetime, committed: list[Committed]
) -> AvailabilityForecast:
    """The forecast of a resolved target (pure: everything it needs is passed in)."""
    evs = {e.evse_id: _ev_of(resolved, e.evse_id, now) for e in resolved.evses}
    by_evse: dict[str, list[Committed]] = {}
    for item in committed:
        by_evse.setdefault(item.evse_id, []).append(item)
    connection = resolved.site.grid_connection
    intervals = []
    for a, b in span.spans():
        total = _Sum()
        for evse_id, ev in evs.items():
            if ev is not None:
                cut = _commitment(by_evse.get(evse_id, []), a, b)
                _add(total, ev, now, (a, b, span.end), cut)
        if resolved.target.level is TargetLevel.SITE:
            total.max_import_w = min(total.max_import_w, connection.import_limit_w)
            total.min_import_w = min(total.min_import_w, total.max_import_w)
            total.max_export_w = min(total.max_export_w, connection.export_limit_w)
        if resolved.off_grid:
            total.min_import_w = total.max_import_w = total.max_export_w = 0.0
            total.up_wh = total.down_wh = 0.0
        intervals.append(
            AvailabilityInterval(
                start=a,
                duration_s=max(1, round((b - a).total_seconds())),
                min_import_w=round(total.min_import_w, 1),
                max_import_w=round(total.max_import_w, 1),
                max_export_w=round(total.max_export_w, 1),
                energy_up_wh=round(total.up_wh, 1),
                energy_down_wh=round(total.down_wh, 1),
                connected_evs=total.connected,
                v2g_capable_evs=total.v2g,
                confidence_pct=_confidence(now, a, total),
            )
        )
    return AvailabilityForecast(
        target=resolved.target,
        generated_at=now,
        resolution_s=span.resolution_s,
        intervals=intervals,
    )


async def forecast(
    db: AsyncSession, principal: Principal, now: datetime, target: Target, span: Horizon
) -> AvailabilityForecast:
    """The forecast of a target the caller may see (404 otherwise)."""
    resolved = await resolve_target(db, principal, now, target)
    committed = await committed_power(
        db,
        [e.evse_id for e in resolved.evses],
        span.start,
        span.end,
        (s.value for s in LIVE_STATES),
    )
    return forecast_for(resolved, span, now, committed)
