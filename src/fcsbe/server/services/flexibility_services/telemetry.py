"""Telemetry from the stations: meter readings of FS targets, and FFR activations.

The step drains the adapter, keeps the readings of EVSEs that serve a live FS (and of their
sites' points of connection), and turns high-resolution FFR evidence into the ARMED → ACTIVE move
of the FFR FS concerned, with an FS_ACTIVATED notification (the activation itself happened
locally at the station; this only reports it). The same readings tell whether a running
SETPOINT FS delivers what was ordered (`services.deviation`, FS_DEVIATION once per episode).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from fcsbe.model import FsState, FsType
from fcsbe.server.adapters.base import StationAdapter
from fcsbe.server.notifications.outbox import enqueue_notification
from fcsbe.server.services.flexibility_services.deviation import DeviationPolicy, check_deviations
from fcsbe.server.services.flexibility_services.execution import (
    DEFAULT_DEVIATION,
    committed_request,
)
from fcsbe.server.services.flexibility_services.lifecycle import (
    FINAL_EXECUTION_STATES,
    LIVE_STATES,
    move,
)
from fcsbe.server.storage.flexibility_services import (
    fs_of_type_in_state_serving,
    live_evse_ids,
    live_site_ids,
)
from fcsbe.server.storage.measurements import insert_readings

__all__ = ["KEPT_STATES", "telemetry_step"]

KEPT_STATES = frozenset(s.value for s in LIVE_STATES | FINAL_EXECUTION_STATES)
"""FS in these states have their targets' readings kept (scheduled ones for the baseline,
ended ones until their record is made, for readings that arrive late)."""


async def _ffr_activations(
    session: AsyncSession, evidence_evses: dict[str, tuple[datetime, float, float]], now: datetime
) -> int:
    """Move ARMED FFR FS whose EVSEs reported an activation to ACTIVE."""
    if not evidence_evses:
        return 0
    armed = await fs_of_type_in_state_serving(
        session, FsType.FFR.value, FsState.ARMED.value, set(evidence_evses)
    )
    moved = 0
    for fs in armed:
        at, f_hz, delta = next(iter(evidence_evses.values()))
        await move(session, fs, FsState.ACTIVE, f"FFR triggered at {f_hz:.3f} Hz", at=now)
        await enqueue_notification(
            session,
            fo_party_id=fs.fo_party_id,
            type="FS_ACTIVATED",
            fs_id=fs.fs_id,
            data={"trigger_frequency_hz": f_hz, "delta_p_w": delta, "activated_at": at.isoformat()},
            occurred_at=at,
        )
        moved += 1
    return moved


async def telemetry_step(
    session: AsyncSession,
    adapter: StationAdapter,
    now: datetime,
    *,
    deviation: DeviationPolicy = DEFAULT_DEVIATION,
) -> int:
    """Store what the stations measured for live FS, and judge running SETPOINT FS against
    what was ordered (FS_DEVIATION); returns readings stored + FS moved."""
    samples = await adapter.drain_measurements()
    evidence = await adapter.drain_ffr_evidence()
    if not samples and not evidence:
        return 0
    live = await live_evse_ids(session, KEPT_STATES)
    sites = (
        await live_site_ids(session, KEPT_STATES)
        if any(s.kind == "SITE" for s in samples)
        else set()
    )
    rows = [
        {
            "meter_id": s.meter_id,
            "kind": s.kind,
            "at": s.at,
            "p_w": s.p_w,
            "q_var": s.q_var,
            "e_import_wh": s.e_import_wh,
            "e_export_wh": s.e_export_wh,
            "soc_pct": s.soc_pct,
            "f_hz": s.f_hz,
            "u_v": s.u_v,
            "quality": s.quality,
        }
        for s in samples
        if (s.kind == "EVSE" and s.meter_id in live) or (s.kind == "SITE" and s.meter_id in sites)
    ]
    rows = [r | {"baseline_w": None, "ordered_w": None} for r in rows]
    rows += [
        {
            "meter_id": e.evse_id,
            "kind": "DROOP" if e.phase == "DROOP" else "FFR",
            "at": e.at,
            "p_w": e.p_w,
            "q_var": None,
            "e_import_wh": None,
            "e_export_wh": None,
            "soc_pct": None,
            "f_hz": e.f_hz,
            "u_v": None,
            "quality": e.phase[:16],
            "baseline_w": e.baseline_w,
            "ordered_w": e.commanded_delta_w,
        }
        for e in evidence
        if e.evse_id in live
    ]
    stored = await insert_readings(session, rows)
    active = {
        e.evse_id: (e.at, e.f_hz, e.commanded_delta_w)
        for e in evidence
        if e.phase == "ACTIVE" and e.evse_id in live
    }
    await check_deviations(session, samples, deviation, committed_request)
    return stored + await _ffr_activations(session, active, now)
