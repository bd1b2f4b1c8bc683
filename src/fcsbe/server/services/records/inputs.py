"""What the FS executor hands to the DSR builder when an FS ends, read from what was stored.

The record is made from what the stations *measured*, never from what was asked: the EVSE
meter readings the telemetry step kept (the station adapter's `MeterSample`s, mapped onto the
builder's), the EVSEs' meters as registered, the pseudonymous EV sessions at those EVSEs, and
what the executor itself did while the FS ran (kept in the FS's execution document until the
record is made): the baseline the stations' plan declared at the start, the dynamic setpoints
received and the reserve activations delivered.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from fcsbe.model import BaselineMethod, FlexibilityServiceRequest, Target, TargetLevel
from fcsbe.server.services.records.dsr.inputs import (
    Activation,
    MeterInfo,
    MeterSample,
    PowerPeriod,
    RecordInputs,
    RecordOptions,
    SessionSpan,
    SetpointChange,
)
from fcsbe.server.storage.flexibility_services import FlexibilityServiceRow, fs_evse_meters
from fcsbe.server.storage.measurements import reading_values_between
from fcsbe.server.storage.sessions import sessions_between

__all__ = [
    "RECORD_KEYS",
    "meter_info",
    "note_activation",
    "note_declared_baseline",
    "note_setpoint",
    "record_inputs",
    "stored_readings",
]

RECORD_KEYS = ("declared_baseline_w", "setpoints", "activations")
"""Keys of the execution document the record needs; kept after the stations are released."""

_DAY = timedelta(days=1)


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


async def stored_readings(
    session: AsyncSession, meter_ids: list[str], start: datetime, end: datetime
) -> list[MeterSample]:
    """The EVSE meters' kept readings in [start, end] as the builder's samples (registers
    only: a reading without both registers measures no energy)."""
    return await reading_values_between(session, meter_ids, start, end, MeterSample)


def _declared(fs: FlexibilityServiceRow, execution: dict[str, Any]) -> list[PowerPeriod]:
    baseline = execution.get("declared_baseline_w")
    if baseline is None:
        return []
    return [PowerPeriod(fs.window_start, fs.window_end, float(baseline))]


async def record_inputs(
    session: AsyncSession,
    fs: FlexibilityServiceRow,
    options: RecordOptions | None = None,
) -> RecordInputs:
    """Everything measured about the FS's execution, from storage."""
    options = options or RecordOptions()
    request = FlexibilityServiceRequest.model_validate(fs.request)
    execution: dict[str, Any] = dict(fs.execution or {})
    documents = await fs_evse_meters(session, fs.id)
    meters = [meter_info(evse_id, doc) for evse_id, doc in sorted(documents.items())]
    before = timedelta(seconds=options.baseline_lookback_s)
    if request.baseline_method is BaselineMethod.HISTORICAL_AVERAGE:
        before = max(before, options.history_days * _DAY)
    start, end = fs.window_start - before, max(fs.window_end, fs.updated_at)
    readings = await stored_readings(session, sorted(documents), start, end)
    spans = [
        SessionSpan(
            s.session_ref,
            s.evse_id,
            max(s.connected_at, fs.window_start),
            s.disconnected_at if s.disconnected_at and s.disconnected_at < end else None,
        )
        for s in await sessions_between(session, sorted(documents), fs.window_start, end)
    ]
    return RecordInputs(
        meters=meters,
        readings=readings,
        sessions=spans,
        declared_baseline=_declared(fs, execution),
        setpoint_changes=[
            SetpointChange(datetime.fromisoformat(at), float(p_w))
            for at, p_w in execution.get("setpoints", [])
        ],
        activations=[
            Activation(datetime.fromisoformat(at), float(duration), float(delta))
            for at, duration, delta in execution.get("activations", [])
        ],
        options=options,
    )
