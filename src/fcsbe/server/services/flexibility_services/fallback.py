"""The contract's fallback at the stations while the FO is offline (quality goal R8).

An FS keeps running when its FO falls silent, but nobody steers it any more: dynamic setpoints
stop, reserve cannot be activated. When the FO has sent no heartbeat for the contract's
`fallback.offline_timeout_s` (counted from its last heartbeat, from its enrolment if it never
sent one, or from the moment control last resumed), the step puts the contract's policy in force
on the FS's EVSEs, through the station-command queue (commands.py), so that the replica that
decides it need not be the one that holds the stations:

- REVERT_UNMANAGED: the FS's commands are cleared; the EVs charge as if no FS existed.
- HOLD_LAST: the commands in force at the lapse (the last dynamic setpoint, or the plan's step
  in force) are sent again valid until the window ends, and nothing is re-planned.
- SAFE_LIMIT: the FS's commands are cleared and the contract's `safe_limit_w` caps the import of
  the FS's EVSEs together, shared in proportion to each EVSE's import headroom (re-shared every
  `REPLAN_S`, so an EV that connects later gets its part).

The fallback is recorded (`FS_FALLBACK_APPLIED` in the event log, with the policy and the
reason) and the FO is told with a `COMM_LOST` notification (`fallback_applied: true`,
`affected_fs_ids`) that it reads from its feed when back. The FS stays in its state (ARMED or
ACTIVE): the fallback is what the contract agreed it does, not a failure of the service.

When a heartbeat newer than the lapse arrives and the FS is still running, normal control
resumes on the next step: the fallback's commands are cleared, the FS's plan is computed again
from the stations' state and applied (a dynamic SETPOINT FS goes back to its schedule until the
FO sends its next setpoint), `FS_FALLBACK_ENDED` is logged and `COMM_RESTORED` lists the FS.
While the fallback is in force, setpoints and activations are refused (409 `fs-in-fallback`):
only a heartbeat hands control back. At the window end the FS completes as usual.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from fcsbe.model import CommStatusData, FallbackPolicy, FallbackTerms, NotificationType
from fcsbe.server.adapters.base import (
    Command,
    ControlLevel,
    ControlTarget,
    LimitCommand,
    StationAdapter,
)
from fcsbe.server.notifications.outbox import enqueue_notification
from fcsbe.server.services.event_log.log import append_event
from fcsbe.server.services.flexibility_services.commands import expander, holds_stations
from fcsbe.server.services.flexibility_services.control import setpoint_commands
from fcsbe.server.services.flexibility_services.dispatch import (
    lock_fs_sites,
    release_fs,
    send_intent,
)
from fcsbe.server.services.flexibility_services.execution import (
    REPLAN_S,
    clear_fs,
    fs_evses,
    plan_now,
    start_or_replan,
)
from fcsbe.server.services.flexibility_services.station_plans import evse_states
from fcsbe.server.services.records.inputs import RECORD_KEYS
from fcsbe.server.storage.flexibility_services import FlexibilityServiceRow, running_with_liveness

__all__ = ["fallback_step", "safe_limit_shares"]

RUNNING = frozenset({"ARMED", "ACTIVE"})
PAGE = 500
"""Running FS read per query; the step reads every page."""
SAFE_LIMIT = "SAFE_LIMIT"
HOLD_LAST = "HOLD_LAST"
"""Station-command kinds of the fallback, worked out where the stations are (live headroom)."""


def safe_limit_shares(
    rooms: dict[str, float], safe_limit_w: float, minimums: dict[str, float] | None = None
) -> dict[str, float]:
    """Per-EVSE import caps that add up to at most `safe_limit_w`, in proportion to headroom.

    EVSEs with no headroom (no EV) get 0; when the headroom is below the limit anyway, each
    keeps its own headroom (the limit does not bind). An EVSE that cannot charge below its
    minimum power (6 A on AC) would stop under a share below it, so the limit goes to the EVSEs
    with the most headroom, as many as can each get at least their minimum.
    """
    minimums = minimums or {}
    ranked = sorted((e for e in rooms if rooms[e] > 0), key=lambda e: (-rooms[e], e))
    shares = dict.fromkeys(rooms, 0.0)
    for count in range(len(ranked), 0, -1):
        chosen = ranked[:count]
        total = sum(rooms[e] for e in chosen)
        scale = 1.0 if total <= safe_limit_w else safe_limit_w / total
        if count == 1 or all(rooms[e] * scale >= minimums.get(e, 0.0) for e in chosen):
            shares.update({e: rooms[e] * scale for e in chosen})
            break
    return shares


def _in_fallback(fs: FlexibilityServiceRow, policy: FallbackPolicy, now: datetime) -> str | None:
    """Why a queued fallback command must not reach the stations any more (None: it may)."""
    fallback = (fs.execution or {}).get("fallback")
    if fs.state not in RUNNING or now >= fs.window_end:
        return f"the FS is {fs.state}: fallback command no longer needed"
    if fallback is None or fallback.get("policy") != policy.value:
        return "control resumed before the fallback command reached the stations"
    return None


async def _safe_limit(
    session: AsyncSession,
    adapter: StationAdapter,
    fs: FlexibilityServiceRow,
    limit_w: float,
    now: datetime,
) -> int:
    command = await send_intent(session, adapter, fs, now, SAFE_LIMIT, {"limit_w": limit_w})
    return command.applied_evses or 0


@expander(SAFE_LIMIT)
async def _expand_safe_limit(
    session: AsyncSession,
    adapter: StationAdapter,
    fs: FlexibilityServiceRow,
    payload: Mapping[str, Any],
    now: datetime,
) -> list[Command] | str:
    """The safe limit shared over the FS's EVSEs by their live import headroom: the FS's
    layer becomes the safe limit (its own commands go, other FS's stay)."""
    stale = _in_fallback(fs, FallbackPolicy.SAFE_LIMIT, now)
    if stale is not None:
        return stale
    limit_w = float(payload["limit_w"])
    sites, minimums = await fs_evses(session, fs)
    states = await evse_states(adapter, sites)
    shares = safe_limit_shares({s.evse_id: s.import_room_w for s in states}, limit_w, minimums)
    commands = [
        Command(
            ControlTarget(ControlLevel.EVSE, evse_id),
            LimitCommand(max_import_w=cap, max_export_w=None),
            fs_id=fs.fs_id,
            valid_until=fs.window_end,
        )
        for evse_id, cap in shares.items()
    ]
    return commands


async def _hold_last(
    session: AsyncSession, adapter: StationAdapter, fs: FlexibilityServiceRow, now: datetime
) -> int:
    execution = fs.execution or {}
    if execution.get("activation_until") and now < datetime.fromisoformat(
        execution["activation_until"]
    ):
        return 0  # a reserve activation runs out on its own; nothing else is in force
    command = await send_intent(session, adapter, fs, now, HOLD_LAST)
    return command.applied_evses or 0


@expander(HOLD_LAST)
async def _expand_hold_last(
    session: AsyncSession,
    adapter: StationAdapter,
    fs: FlexibilityServiceRow,
    payload: Mapping[str, Any],
    now: datetime,
) -> list[Command] | str:
    """The commands in force at the lapse, sent again valid until the window ends."""
    stale = _in_fallback(fs, FallbackPolicy.HOLD_LAST, now)
    if stale is not None:
        return stale
    execution = fs.execution or {}
    if execution.get("dynamic") and execution.get("setpoint_w") is not None:
        _, commands = await setpoint_commands(
            session, adapter, fs, float(execution["setpoint_w"]), None, now, fs.window_end
        )
    else:
        _, in_force = await plan_now(session, adapter, fs, now)
        commands = [c._replace(valid_until=fs.window_end) for c in in_force]
    return commands


async def _apply(
    session: AsyncSession,
    adapter: StationAdapter,
    fs: FlexibilityServiceRow,
    terms: FallbackTerms,
    last_seen: datetime,
    lapsed_at: datetime,
    now: datetime,
) -> None:
    execution: dict[str, Any] = dict(fs.execution or {})
    execution["fallback"] = {
        "policy": terms.policy.value,
        "since": lapsed_at.isoformat(),
        "last_seen": last_seen.isoformat(),
        "safe_limit_w": terms.safe_limit_w,
        "next_at": (now + timedelta(seconds=REPLAN_S)).isoformat(),
    }
    fs.execution = execution  # in force before its command, which checks it
    if terms.policy is FallbackPolicy.HOLD_LAST:
        applied = await _hold_last(session, adapter, fs, now)
    elif terms.policy is FallbackPolicy.SAFE_LIMIT:
        applied = await _safe_limit(session, adapter, fs, terms.safe_limit_w or 0.0, now)
    else:
        sites, _ = await fs_evses(session, fs)
        await clear_fs(session, adapter, fs, now)
        fs.execution = execution  # clear_fs drops the execution document
        applied = len(sites)
    reason = (
        f"FO silent since {last_seen.isoformat()} (offline timeout {terms.offline_timeout_s} s)"
    )
    fs.updated_at = now
    fs.due_at = now  # the execution step sets when it looks again
    await append_event(
        session,
        type="FS_FALLBACK_APPLIED",
        object_ref=f"fs/{fs.fs_id}/{fs.revision}",
        summary=f"{terms.policy.value} on {applied} EVSE command(s): {reason}",
        party_id=fs.fo_party_id,
        fs_id=fs.fs_id,
        payload={
            "policy": terms.policy.value,
            "reason": reason,
            "since": lapsed_at.isoformat(),
            "last_seen_at": last_seen.isoformat(),
            "safe_limit_w": terms.safe_limit_w,
        },
        severity="WARNING",
    )


async def _resume(
    session: AsyncSession,
    adapter: StationAdapter,
    fs: FlexibilityServiceRow,
    last_seen: datetime,
    now: datetime,
) -> None:
    execution = dict(fs.execution or {})
    fallback = execution.pop("fallback")
    dynamic = execution.pop("dynamic", None)  # back to the schedule until the next setpoint
    kept = ("sequence", "activation_id", *RECORD_KEYS)  # the record needs what happened so far
    keep = {k: v for k, v in execution.items() if k in kept}
    fs.execution = {**keep, "resumed_at": now.isoformat(), "note_schedule": bool(dynamic)}
    applied = 0
    if holds_stations(adapter):
        # the plan's layer replaces the fallback's (the record follows the schedule from now)
        applied = await start_or_replan(session, adapter, fs, now)
    else:
        # the fallback's layer goes now; the station replica's execution step plans the FS
        # again on its next pass (`due_at` below)
        await release_fs(session, adapter, fs, now)
    fs.updated_at = now
    fs.due_at = now  # the execution step follows the plan again from now
    await append_event(
        session,
        type="FS_FALLBACK_ENDED",
        object_ref=f"fs/{fs.fs_id}/{fs.revision}",
        summary=f"{fallback['policy']} lifted, {applied} command(s) applied: FO heartbeat",
        party_id=fs.fo_party_id,
        fs_id=fs.fs_id,
        payload={
            "policy": fallback["policy"],
            "reason": f"heartbeat at {last_seen.isoformat()}",
            "since": fallback["since"],
        },
    )


def _lapse(fs: FlexibilityServiceRow, last_seen: datetime, timeout_s: int) -> datetime:
    """When the FO's silence reaches the timeout for this FS."""
    resumed = (fs.execution or {}).get("resumed_at")
    start = max(last_seen, datetime.fromisoformat(resumed)) if resumed else last_seen
    return start + timedelta(seconds=timeout_s)


async def _notify(
    session: AsyncSession, kind: NotificationType, by_party: dict[str, list[str]], since: datetime
) -> None:
    for party_id, fs_ids in sorted(by_party.items()):
        data = CommStatusData(
            since=since,
            fallback_applied=kind is NotificationType.COMM_LOST,
            affected_fs_ids=sorted(fs_ids),
        )
        await enqueue_notification(
            session,
            fo_party_id=party_id,
            type=kind.value,
            data=data.model_dump(mode="json"),
            occurred_at=since,
        )


def _needs_action(
    fs: FlexibilityServiceRow, last_seen: datetime, terms_doc: dict[str, Any] | None, now: datetime
) -> bool:
    """Whether `_check` would change anything for this FS now (read only)."""
    if terms_doc is None or now >= fs.window_end:
        return False
    fallback = (fs.execution or {}).get("fallback")
    if fallback is None:
        terms = FallbackTerms.model_validate(terms_doc)
        return now >= _lapse(fs, last_seen, terms.offline_timeout_s)
    if last_seen > datetime.fromisoformat(fallback["last_seen"]):
        return True
    return bool(
        fallback["policy"] == FallbackPolicy.SAFE_LIMIT.value
        and now >= datetime.fromisoformat(fallback["next_at"])
    )


async def _check(
    session: AsyncSession,
    adapter: StationAdapter,
    fs: FlexibilityServiceRow,
    last_seen: datetime,
    terms_doc: dict[str, Any] | None,
    now: datetime,
) -> tuple[str | None, datetime]:
    """Apply, refresh or lift the fallback of one running FS: what changed, and since when."""
    if terms_doc is None or now >= fs.window_end:
        return None, now  # no contract terms; or the execution step completes it now
    fallback = (fs.execution or {}).get("fallback")
    if fallback is None:
        terms = FallbackTerms.model_validate(terms_doc)
        lapsed_at = _lapse(fs, last_seen, terms.offline_timeout_s)
        if now < lapsed_at:
            return None, now
        await _apply(session, adapter, fs, terms, last_seen, lapsed_at, now)
        return "lost", lapsed_at
    if last_seen > datetime.fromisoformat(fallback["last_seen"]):
        await _resume(session, adapter, fs, last_seen, now)
        return "restored", now
    if fallback["policy"] == FallbackPolicy.SAFE_LIMIT.value and now >= (
        datetime.fromisoformat(fallback["next_at"])
    ):
        await _safe_limit(session, adapter, fs, float(fallback["safe_limit_w"] or 0.0), now)
        next_at = (now + timedelta(seconds=REPLAN_S)).isoformat()
        fs.execution = {**(fs.execution or {}), "fallback": {**fallback, "next_at": next_at}}
        return "refreshed", now
    return None, now


async def fallback_step(session: AsyncSession, adapter: StationAdapter, now: datetime) -> int:
    """Worker step (stations' clock): apply, refresh or lift the fallback of running FS.

    Returns how many FS changed. Lapse and resumption are decided per FS from its contract's
    terms, so two contracts of one FO may have different timeouts and policies. Every running
    FS is checked on every pass (page after page), so none is starved by the others; FS that
    wait for their window are not running and cost nothing here.
    """
    lost: dict[str, list[str]] = defaultdict(list)
    restored: dict[str, list[str]] = defaultdict(list)
    lost_since = now
    work = 0
    after_id = 0
    todo: list[tuple[FlexibilityServiceRow, datetime, dict[str, Any] | None]] = []
    while True:
        # every running FS, page by page: one beyond the first page is never passed over
        page = await running_with_liveness(session, RUNNING, limit=PAGE, after_id=after_id)
        todo.extend(row for row in page if _needs_action(*row, now))
        if len(page) < PAGE:
            break
        after_id = page[-1][0].id
    await lock_fs_sites(session, [fs for fs, *_ in todo])  # at once, in order: no deadlock
    for fs, last_seen, terms_doc in todo:
        changed, since = await _check(session, adapter, fs, last_seen, terms_doc, now)
        if changed == "lost":
            lost[fs.fo_party_id].append(fs.fs_id)
            lost_since = min(lost_since, since)
        elif changed == "restored":
            restored[fs.fo_party_id].append(fs.fs_id)
        work += changed is not None
    await _notify(session, NotificationType.COMM_LOST, lost, lost_since)
    await _notify(session, NotificationType.COMM_RESTORED, restored, now)
    return work
