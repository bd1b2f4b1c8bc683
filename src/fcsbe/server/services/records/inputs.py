"""What the FS executor hands to the DSR builder when an FS ends, read from what was stored.

The record is made from what the stations *measured*, never from what was asked: the EVSE
meter readings the telemetry step kept (the station adapter's `MeterSample`s, mapped onto the
builder's), the EVSEs' meters as registered, the pseudonymous EV sessions at those EVSEs, and
what the executor itself did while the FS ran (kept in the FS's execution document until the
record is made): the baseline the stations' plan declared at the start, the dynamic setpoints
received and the reserve activations delivered.

A CONGESTION FS is recorded at its sites' points of connection (`_connection_points`): from a
site's point-of-connection meter (readings of kind SITE) where telemetry kept its readings,
otherwise from the site's EVSE meters plus the non-EV load the stations reported at each plan
(`note_site_loads`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncSession

from fcsbe.model import (
    BaselineMethod,
    ContractTerms,
    FlexibilityServiceRequest,
    FsType,
    Target,
    TargetLevel,
)
from fcsbe.server.services.records.dsr.inputs import (
    Activation,
    ConnectionPoint,
    MeterInfo,
    PowerPeriod,
    Reading,
    RecordInputs,
    RecordOptions,
    ResponseSample,
    SessionSpan,
    SetpointChange,
    SubmittedBaseline,
)
from fcsbe.server.storage.contracts import ContractRow
from fcsbe.server.storage.fleet import EvseFacts, evse_facts
from fcsbe.server.storage.flexibility_services import (
    FlexibilityServiceRow,
    fs_evse_meters,
    fs_evse_shares,
)
from fcsbe.server.storage.infrastructure import SiteRow
from fcsbe.server.storage.measurements import reading_values_between, readings_between
from fcsbe.server.storage.records import FsBaselineRow, find_baseline
from fcsbe.server.storage.registry import load_sites
from fcsbe.server.storage.sessions import sessions_between

__all__ = [
    "RECORD_KEYS",
    "declare_baseline",
    "declared_baseline_values",
    "declared_periods",
    "declared_schedule",
    "meter_info",
    "note_activation",
    "note_declared_baseline",
    "note_setpoint",
    "note_site_loads",
    "record_inputs",
    "record_notes",
    "stored_readings",
]

RECORD_KEYS = ("declared_baseline_w", "setpoints", "activations", "site_loads")
"""Keys of the execution document the record needs; kept after the stations are released."""

_DAY = timedelta(days=1)


def declared_schedule(
    evses: Sequence[tuple[float, float | None, datetime | None]],
    now: datetime,
    start: datetime,
    end: datetime,
) -> list[tuple[datetime, datetime, float]]:
    """The CSO's declared baseline over [start, end): every EV charging as it would without
    the FS, at full power `p_w` from `now` until it has the energy it asked for (`energy_wh`;
    None: no limit) or leaves (`departure`); summed into consecutive periods.

    Each EVSE is (p_w, energy_wh, departure).
    """
    spans: list[tuple[datetime, datetime, float]] = []
    for p_w, energy_wh, departure in evses:
        if p_w <= 0:
            continue
        stop = end if departure is None else min(end, departure)
        if energy_wh is not None:
            stop = min(stop, now + timedelta(hours=energy_wh / p_w))
        if stop > start:
            spans.append((max(now, start), stop, p_w))
    cuts = sorted({start, end, *(t for a, b, _ in spans for t in (a, b) if start < t < end)})
    return [(a, b, sum(p for lo, hi, p in spans if lo <= a and hi >= b)) for a, b in pairwise(cuts)]


async def declare_baseline(session: AsyncSession, fs: FlexibilityServiceRow, now: datetime) -> None:
    """Record, at the decision, the baseline the CSO declares for the FS (DECLARED_SCHEDULE):
    its EVSEs' connected EVs charging as they would without it (`declared_schedule`), from
    what the registry and the sessions say now. Fixed from then on: the record settles
    against what was declared before the FS ran, never against what was seen while it ran."""
    facts = await evse_facts(session, sorted(e for e, *_ in await fs_evse_shares(session, fs.id)))
    periods = declared_periods(facts.values(), fs, now)
    row = await find_baseline(session, fs.id, "DECLARED")
    if row is None:
        session.add(FsBaselineRow(**declared_baseline_values(fs, periods, now)))
    else:  # a new revision's decision declares anew
        row.periods, row.submitted_at = periods, now


def declared_periods(
    facts: Iterable[EvseFacts], fs: FlexibilityServiceRow, now: datetime
) -> list[dict[str, float]]:
    """The periods of the baseline `declare_baseline` fixes, from the facts of the FS's EVSEs
    (for a step that declares many baselines from facts it already read)."""
    evses: list[tuple[float, float | None, datetime | None]] = []
    for fact in facts:
        doc = fact.session_doc
        if not doc:
            continue
        p_w = float(fact.evse_doc.get("max_charge_power_w") or 0.0)
        request = doc.get("energy_request") or {}
        limit = request.get("max_charge_power_w")
        if isinstance(limit, int | float):
            p_w = min(p_w, float(limit))
        energy = request.get("target_energy_wh")
        departure = doc.get("departure_time")
        evses.append(
            (
                p_w,
                float(energy) if isinstance(energy, int | float) else None,
                datetime.fromisoformat(departure) if isinstance(departure, str) else None,
            )
        )
    start = fs.window_start
    return [
        {
            "start_offset_s": (a - start).total_seconds(),
            "duration_s": (b - a).total_seconds(),
            "p_w": p,
        }
        for a, b, p in declared_schedule(evses, now, start, fs.window_end)
    ]


def declared_baseline_values(
    fs: FlexibilityServiceRow, periods: list[dict[str, float]], now: datetime
) -> dict[str, Any]:
    """The column values of a new DECLARED baseline row."""
    return {
        "fs_pk": fs.id,
        "kind": "DECLARED",
        "party_id": "CSO",
        "role": "CSO",
        "periods": periods,
        "submitted_at": now,
    }


def note_declared_baseline(execution: dict[str, Any], baseline_w: float) -> None:
    """Keep the baseline the plan declared when the FS started (the DECLARED_SCHEDULE one)."""
    execution.setdefault("declared_baseline_w", baseline_w)


def note_setpoint(execution: dict[str, Any], at: datetime, p_w: float) -> None:
    """Keep a dynamic setpoint: the record's requested power from `at` on."""
    execution["setpoints"] = [*execution.get("setpoints", []), [at.isoformat(), p_w]]


def note_activation(
    execution: dict[str, Any], start: datetime, duration_s: float, delta_w: float
) -> None:
    """Keep a reserve activation as delivered (`delta_w` + more import)."""
    execution["activations"] = [
        *execution.get("activations", []),
        [start.isoformat(), duration_s, delta_w],
    ]


SITE_LOAD_STEP_W = 1.0
"""A site's non-EV load is noted again only when it moved by at least this much."""


def note_site_loads(execution: dict[str, Any], at: datetime, loads: dict[str, float]) -> None:
    """Keep the non-EV power (load minus PV, + import) the stations reported for each site at
    a plan: the record's estimate for a site without a point-of-connection meter. Noted when it
    changes, so a long FS replanned every minute keeps a short list per site."""
    kept: dict[str, list[list[Any]]] = {
        site: list(points) for site, points in (execution.get("site_loads") or {}).items()
    }
    for site_id, p_w in sorted(loads.items()):
        points = kept.setdefault(site_id, [])
        if not points or abs(float(points[-1][1]) - p_w) >= SITE_LOAD_STEP_W:
            points.append([at.isoformat(), p_w])
    if kept:
        execution["site_loads"] = kept


def meter_info(evse_id: str, document: dict[str, Any]) -> MeterInfo:
    """The meter of an EVSE as registered (`meter` of the EVSE document). Its readings arrive
    under the EVSE id, which is what the adapter reports them as."""
    meter = document.get("meter") or {}
    return MeterInfo(
        meter_id=evse_id,
        target=Target(level=TargetLevel.EVSE, id=evse_id),
        serial_number=str(meter.get("serial_number") or meter.get("meter_id") or evse_id),
        certified=bool(meter.get("certified", False)),
        public_key=meter.get("public_key"),
    )


def _reading(
    meter_id: str,
    at: datetime,
    e_import_wh: float,
    e_export_wh: float,
    p_w: float | None,
    soc_pct: float | None,
    quality: str,
) -> Reading:
    return (meter_id, at, e_import_wh, e_export_wh, p_w, soc_pct, quality, None, None, None)


async def stored_readings(
    session: AsyncSession, meter_ids: list[str], start: datetime, end: datetime, kind: str = "EVSE"
) -> list[Reading]:
    """The meters' kept readings in [start, end] as the builder's readings (registers only: a
    reading without both registers measures no energy); `kind` SITE: points of connection.
    Plain tuples, not `MeterSample`s: see `Reading`."""
    return await reading_values_between(session, meter_ids, start, end, _reading, kind)


def _load_periods(points: list[list[Any]], start: datetime, end: datetime) -> list[PowerPeriod]:
    """The noted loads of one site as periods: each from its note until the next (the last
    until `end`), within [start, end); none when no load was noted (an OCPP site)."""
    if not points:
        return []
    times = [max(start, datetime.fromisoformat(at)) for at, _ in points]
    ends = [*times[1:], end]
    return [
        PowerPeriod(a, b, float(p_w))
        for a, b, (_, p_w) in zip(times, ends, points, strict=True)
        if b > a
    ]


async def _visible_sites(session: AsyncSession, fs: FlexibilityServiceRow) -> set[str]:
    """The sites the FO may see: those its contract names as SITE targets (a contract on a
    station or an EVSE does not reveal its site)."""
    contract = await session.get(ContractRow, fs.contract_id) if fs.contract_id else None
    if contract is None:
        return set()
    targets = ContractTerms.model_validate(contract.terms).targets
    return {t.id for t in targets if t.level is TargetLevel.SITE}


async def _connection_points(
    session: AsyncSession,
    fs: FlexibilityServiceRow,
    meters: list[MeterInfo],
    execution: dict[str, Any],
    start: datetime,
    end: datetime,
) -> tuple[list[MeterInfo], list[Reading], list[ConnectionPoint]]:
    """CONGESTION: the sites' points of connection. A site whose connection-point readings
    were kept is measured by that meter (its EVSE meters then serve the sessions only); the
    others by their EVSE meters plus the non-EV load noted at each plan.

    A site the FO may not see is named `POC-<its first EVSE id>` in the record (meter, flags),
    never by its id or metering point."""
    site_of = {row[0]: row[1] for row in await fs_evse_shares(session, fs.id)}
    site_ids = sorted(set(site_of.values()))
    evses_of = {s: tuple(sorted(e for e, site in site_of.items() if site == s)) for s in site_ids}
    visible = await _visible_sites(session, fs)
    name = {s: s if s in visible else f"POC-{evses_of[s][0]}" for s in site_ids}
    readings = [
        (name[m], at, i, e, p, s, q, received, data, form)
        for m, at, i, e, p, s, q, received, data, form in await stored_readings(
            session, site_ids, start, end, kind="SITE"
        )
    ]
    metered = {s for s in site_ids if name[s] in {r[0] for r in readings}}
    sites = await load_sites(session, metered & visible)
    evse_meters = [replace(m, in_total=site_of.get(m.meter_id) not in metered) for m in meters]
    site_meters = [
        MeterInfo(
            meter_id=name[site_id],
            target=Target(level=TargetLevel.SITE, id=name[site_id]),
            serial_number=str(_metering_point(sites.get(site_id)) or name[site_id]),
            certified=False,
        )
        for site_id in sorted(metered)
    ]
    noted: dict[str, list[list[Any]]] = execution.get("site_loads") or {}
    points = [
        ConnectionPoint(
            name[site_id],
            site_id in metered,
            _load_periods(noted.get(site_id) or [], fs.window_start, end),
            evses_of[site_id],
        )
        for site_id in site_ids
    ]
    return [*evse_meters, *site_meters], readings, points


def _metering_point(site: SiteRow | None) -> str | None:
    """The metering point (EAN / MeLo id) of a site's connection, as registered."""
    if site is None:
        return None
    value = (site.data.get("grid_connection") or {}).get("metering_point_id")
    return str(value) if value else None


def _periods(fs: FlexibilityServiceRow, row: FsBaselineRow) -> list[PowerPeriod]:
    return [
        PowerPeriod(
            fs.window_start + timedelta(seconds=p["start_offset_s"]),
            fs.window_start + timedelta(seconds=p["start_offset_s"] + p["duration_s"]),
            float(p["p_w"]),
        )
        for p in row.periods
    ]


async def _declared(
    session: AsyncSession, fs: FlexibilityServiceRow, execution: dict[str, Any]
) -> tuple[list[PowerPeriod], datetime | None]:
    """The baseline declared at the decision, with when; for an FS decided before that was
    declared, the executor's note at the start."""
    row = await find_baseline(session, fs.id, "DECLARED")
    if row is not None:
        return _periods(fs, row), row.submitted_at
    baseline = execution.get("declared_baseline_w")
    if baseline is None:
        return [], None
    return [PowerPeriod(fs.window_start, fs.window_end, float(baseline))], None


async def _method(
    session: AsyncSession, fs: FlexibilityServiceRow, request: FlexibilityServiceRequest
) -> BaselineMethod:
    """The baseline method the record will use: the FS's, else its contract's."""
    if request.baseline_method is not None:
        return request.baseline_method
    contract = await session.get(ContractRow, fs.contract_id) if fs.contract_id else None
    if contract is None:
        return BaselineMethod.ZERO
    return ContractTerms.model_validate(contract.terms).baseline_method


async def _submitted(session: AsyncSession, fs: FlexibilityServiceRow) -> SubmittedBaseline | None:
    row = await find_baseline(session, fs.id)
    if row is None:
        return None
    periods = _periods(fs, row)
    role: Literal["FO", "CSO"] = "CSO" if row.role == "CSO" else "FO"
    return SubmittedBaseline(row.party_id, role, row.submitted_at, periods)


async def _response(
    session: AsyncSession, fs: FlexibilityServiceRow, meter_ids: list[str], end: datetime
) -> list[ResponseSample]:
    """DROOP / FFR: the EVSE readings with their frequency and the FFR evidence rows."""
    rows = await readings_between(session, meter_ids, fs.window_start, end, ("EVSE", "FFR"))
    return [
        ResponseSample(r.meter_id, r.at, float(r.p_w), r.f_hz, r.kind)
        for r in rows
        if r.f_hz is not None or r.kind == "FFR"
    ]


def record_notes(fs: FlexibilityServiceRow) -> dict[str, Any]:
    """What a record keeps of how it was made, to be rebuilt from the same: the executor's
    notes (`RECORD_KEYS`) and the end of the readings read."""
    execution = fs.execution or {}
    notes: dict[str, Any] = {key: execution[key] for key in RECORD_KEYS if key in execution}
    notes["readings_until"] = max(fs.window_end, fs.updated_at).isoformat()
    return notes


async def record_inputs(
    session: AsyncSession,
    fs: FlexibilityServiceRow,
    options: RecordOptions | None = None,
    *,
    notes: dict[str, Any] | None = None,
) -> RecordInputs:
    """Everything measured about the FS's execution, from storage (with a record's `notes`:
    exactly what that record was made from)."""
    options = options or RecordOptions()
    request = FlexibilityServiceRequest.model_validate(fs.request)
    execution: dict[str, Any] = dict(notes if notes is not None else fs.execution or {})
    documents = await fs_evse_meters(session, fs.id)
    meters = [meter_info(evse_id, doc) for evse_id, doc in sorted(documents.items())]
    before = timedelta(seconds=options.baseline_lookback_s)
    method = await _method(session, fs, request)
    if method is BaselineMethod.HISTORICAL_AVERAGE:
        before = max(before, options.history_days * _DAY)
    elif method is BaselineMethod.HIGH_X_OF_Y:
        before = max(before, options.of_y_days * _DAY + timedelta(seconds=options.adjustment_s))
    start, end = fs.window_start - before, max(fs.window_end, fs.updated_at)
    if notes is not None and isinstance(notes.get("readings_until"), str):
        end = datetime.fromisoformat(notes["readings_until"])
    readings = await stored_readings(session, sorted(documents), start, end)
    points: list[ConnectionPoint] = []
    if request.fs_type is FsType.CONGESTION:
        meters, site_readings, points = await _connection_points(
            session, fs, meters, execution, start, end
        )
        readings = [*readings, *site_readings]
    spans = [
        SessionSpan(
            s.session_ref,
            s.evse_id,
            max(s.connected_at, fs.window_start),
            s.disconnected_at if s.disconnected_at and s.disconnected_at < end else None,
        )
        for s in await sessions_between(session, sorted(documents), fs.window_start, end)
    ]
    declared, declared_at = await _declared(session, fs, execution)
    return RecordInputs(
        meters=meters,
        readings=readings,
        sessions=spans,
        declared_baseline=declared,
        setpoint_changes=[
            SetpointChange(datetime.fromisoformat(at), float(p_w))
            for at, p_w in execution.get("setpoints", [])
        ],
        activations=[
            Activation(datetime.fromisoformat(at), float(duration), float(delta))
            for at, duration, delta in execution.get("activations", [])
        ],
        options=options,
        declared_at=declared_at,
        submitted_baseline=await _submitted(session, fs)
        if method is BaselineMethod.SUBMITTED
        else None,
        response=await _response(session, fs, sorted(documents), end)
        if request.fs_type in (FsType.DROOP, FsType.FFR)
        else [],
        connection_points=points,
    )
