"""FS_DEVIATION: a running FS out of its tolerance, told to its FO once per episode.

Two causes:

- `MEASURED` (telemetry step): a running SETPOINT FS whose EVSEs' measured power stays outside
  the band `ordered ± tolerance_pct % of max(|ordered|, floor_w)` for `sustain_s`. The ordered
  power is the FO's: the setpoint schedule in force (scaled to the committed power of a
  partially accepted FS) or the latest dynamic setpoint. It is judged on a complete set of
  readings (every EVSE of the FS in the same drain), at the readings' time.
- `COMMAND_REJECTED` (execution step): a station refused or failed a command of the FS.

An episode is kept in the FS's execution document (`deviation`, `rejected`): the notification
is sent when the episode begins (a measured one once it lasted `sustain_s`), never again while
it lasts; it ends silently when the FS is back in tolerance (every command taken), and a later
deviation is a new episode. The model has no "back in tolerance" notification.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from fcsbe.model import (
    DeviationCause,
    FlexibilityServiceRequest,
    FsDeviationData,
    FsType,
    NotificationType,
    SetpointSchedule,
)
from fcsbe.server.adapters.base import (
    ApplyResult,
    Command,
    ControlLevel,
    ControlTarget,
    MeterSample,
    SetpointCommand,
    StationAdapter,
)
from fcsbe.server.notifications.outbox import enqueue_notification
from fcsbe.server.settings import Settings
from fcsbe.server.storage.flexibility_services import (
    FlexibilityServiceRow,
    fs_evse_shares,
    running_fs_of_type,
)

__all__ = [
    "DeviationPolicy",
    "check_deviations",
    "note_command_results",
    "ordered_w",
]


@dataclass(frozen=True, slots=True)
class DeviationPolicy:
    """When a running FS counts as out of tolerance (settings `fs_deviation_*`)."""

    tolerance_pct: float = 10.0
    floor_w: float = 1_000.0
    sustain_s: float = 60.0

    @classmethod
    def from_settings(cls, settings: Settings) -> DeviationPolicy:
        """The policy the settings give."""
        return cls(
            settings.fs_deviation_tolerance_pct,
            settings.fs_deviation_floor_w,
            settings.fs_deviation_sustain_s,
        )

    def band_w(self, ordered: float) -> float:
        """The allowed |measured - ordered|."""
        return self.tolerance_pct / 100.0 * max(abs(ordered), self.floor_w)

    def deviation_pct(self, ordered: float, measured: float) -> float:
        """|measured - ordered| in % of max(|ordered|, floor)."""
        return round(100.0 * abs(measured - ordered) / max(abs(ordered), self.floor_w), 2)


def ordered_w(
    request: FlexibilityServiceRequest,
    execution: dict[str, Any] | None,
    committed_w: float | None,
    now: datetime,
) -> float | None:
    """The aggregate power the FO ordered from a SETPOINT FS now (None: nothing ordered now,
    or not a SETPOINT FS). `request` is the committed request (already scaled)."""
    schedule = request.parameters
    if not isinstance(schedule, SetpointSchedule):
        return None
    execution = execution or {}
    if execution.get("dynamic") and execution.get("setpoint_w") is not None:
        value = float(execution["setpoint_w"])
        return value if committed_w is None else max(-committed_w, min(committed_w, value))
    offset = (now - request.window.start).total_seconds()
    for period in schedule.periods:
        if period.start_offset_s <= offset < period.start_offset_s + schedule.resolution_s:
            return period.p_w
    return None


async def _notify(
    session: AsyncSession,
    fs: FlexibilityServiceRow,
    data: FsDeviationData,
    now: datetime,
) -> None:
    await enqueue_notification(
        session,
        fo_party_id=fs.fo_party_id,
        type=NotificationType.FS_DEVIATION.value,
        fs_id=fs.fs_id,
        data=data.model_dump(mode="json", exclude_none=True),
        occurred_at=now,
    )


def _latest(samples: Sequence[MeterSample]) -> dict[str, MeterSample]:
    latest: dict[str, MeterSample] = {}
    for sample in samples:
        if sample.kind != "EVSE":
            continue
        seen = latest.get(sample.meter_id)
        if seen is None or sample.at >= seen.at:
            latest[sample.meter_id] = sample
    return latest


async def check_deviations(
    session: AsyncSession,
    samples: Sequence[MeterSample],
    policy: DeviationPolicy,
    committed: Callable[[FlexibilityServiceRow], FlexibilityServiceRequest],
) -> int:
    """Judge every running SETPOINT FS on these readings; returns notifications queued.

    `committed` is `execution.committed_request` (passed in: the executor imports this module).
    """
    latest = _latest(samples)
    if not latest:
        return 0
    sent = 0
    # PostgreSQL: the executor updates the same execution documents; rows it holds are skipped.
    for fs in await running_fs_of_type(session, FsType.SETPOINT.value, skip_locked=True):
        execution = fs.execution or {}
        if execution.get("fallback"):
            continue  # the fallback policy holds the stations, not the FO's orders
        evse_ids = [row[0] for row in await fs_evse_shares(session, fs.id)]
        if not evse_ids or any(e not in latest for e in evse_ids):
            continue  # judge only a complete set of readings
        at = max(latest[e].at for e in evse_ids)
        ordered = ordered_w(committed(fs), execution, fs.committed_w, at)
        if ordered is None:
            continue
        measured = sum(latest[e].p_w for e in evse_ids)
        episode = execution.get("deviation")
        if abs(measured - ordered) <= policy.band_w(ordered):
            if episode is not None:
                fs.execution = {k: v for k, v in execution.items() if k != "deviation"}
            continue
        if episode is None:
            episode = {"since": at.isoformat(), "notified": False}
        since = datetime.fromisoformat(episode["since"])
        if not episode["notified"] and (at - since).total_seconds() >= policy.sustain_s:
            data = FsDeviationData(
                interval_start=since,
                requested_w=ordered,
                measured_w=measured,
                deviation_pct=policy.deviation_pct(ordered, measured),
                tolerance_pct=policy.tolerance_pct,
                cause=DeviationCause.MEASURED,
            )
            await _notify(session, fs, data, at)
            episode = {**episode, "notified": True}
            sent += 1
        if execution.get("deviation") != episode:
            fs.execution = {**execution, "deviation": episode}
    return sent


async def note_command_results(
    session: AsyncSession,
    adapter: StationAdapter,
    fs: FlexibilityServiceRow,
    commands: Sequence[Command],
    results: Sequence[ApplyResult],
    ordered: float | None,
    now: datetime,
    policy: DeviationPolicy,
) -> bool:
    """Start or end a `COMMAND_REJECTED` episode from the stations' answers to the FS's
    commands (the caller stores `fs.execution`); True when a notification was queued."""
    execution: dict[str, Any] = dict(fs.execution or {})
    refused = [r for r in results if not r.accepted]
    if not refused:
        if "rejected" in execution:
            execution.pop("rejected")
            fs.execution = execution
        return False
    if execution.get("rejected"):
        return False
    states = await adapter.read_state(
        [c.target for c in commands if c.target.level is ControlLevel.EVSE]
        or [ControlTarget(ControlLevel.EVSE, r.target.id) for r in refused]
    )
    measured = sum(s.p_w for s in states)
    if ordered is None:
        ordered = sum(c.control.p_w for c in commands if isinstance(c.control, SetpointCommand))
    reasons = sorted({f"{r.target.id}: {r.reason or 'refused'}" for r in refused})
    detail = f"{len(refused)} of {len(results)} command(s) refused; " + "; ".join(reasons)
    data = FsDeviationData(
        interval_start=now,
        requested_w=ordered,
        measured_w=measured,
        deviation_pct=policy.deviation_pct(ordered, measured),
        tolerance_pct=policy.tolerance_pct,
        cause=DeviationCause.COMMAND_REJECTED,
        detail=detail[:500],
    )
    await _notify(session, fs, data, now)
    execution["rejected"] = now.isoformat()
    fs.execution = execution
    return True
