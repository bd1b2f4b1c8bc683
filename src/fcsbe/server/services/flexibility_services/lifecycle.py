"""The FS lifecycle: one explicit transition table and the one function that moves an FS.

RECEIVED → ACCEPTED | PARTIALLY_ACCEPTED | REJECTED → SCHEDULED → (ARMED) → ACTIVE →
COMPLETED | ABORTED | CANCELLED | SUPERSEDED → RECORDED → PROVEN | DISPUTED.

Every transition is stored (fs_transitions), logged (event log) and notified (outbox) in the
caller's transaction, so the three can never disagree. An illegal transition is a 409 problem.

Transition times are monotonic per FS: callers stamp with different clocks (the decision step
with the server's, execution with the stations', which may lag), so a move asked to happen
before the FS's previous transition is stamped at that previous time instead. A reader of the
history never sees SCHEDULED before ACCEPTED, nor ACCEPTED before RECEIVED.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, NoReturn

from sqlalchemy.ext.asyncio import AsyncSession

from fcsbe.model import FsState
from fcsbe.server.errors import Conflict
from fcsbe.server.notifications.outbox import notification_values
from fcsbe.server.services.event_log.log import event_values
from fcsbe.server.storage.base import utcnow
from fcsbe.server.storage.decision_batch import insert_rows
from fcsbe.server.storage.event_log import EventLogRow
from fcsbe.server.storage.flexibility_services import (
    FlexibilityServiceRow,
    FsTransitionRow,
    last_transition_at,
)
from fcsbe.server.storage.notifications import OutboxRow
from fcsbe.server.storage.wakeup import wake_workers

__all__ = [
    "CANCELLABLE",
    "FINAL_EXECUTION_STATES",
    "LIVE_STATES",
    "TRANSITIONS",
    "IllegalTransition",
    "Moved",
    "can_move",
    "due_after_move",
    "move",
    "planned_move",
]

S = FsState
TRANSITIONS: dict[FsState, frozenset[FsState]] = {
    S.RECEIVED: frozenset(
        {S.ACCEPTED, S.PARTIALLY_ACCEPTED, S.REJECTED, S.CANCELLED, S.SUPERSEDED}
    ),
    S.ACCEPTED: frozenset({S.SCHEDULED, S.CANCELLED, S.SUPERSEDED, S.ABORTED}),
    S.PARTIALLY_ACCEPTED: frozenset({S.SCHEDULED, S.CANCELLED, S.SUPERSEDED, S.ABORTED}),
    S.SCHEDULED: frozenset({S.ARMED, S.ACTIVE, S.CANCELLED, S.SUPERSEDED, S.ABORTED}),
    S.ARMED: frozenset({S.ACTIVE, S.COMPLETED, S.CANCELLED, S.SUPERSEDED, S.ABORTED}),
    S.ACTIVE: frozenset({S.COMPLETED, S.ABORTED, S.CANCELLED, S.SUPERSEDED}),
    S.COMPLETED: frozenset({S.RECORDED}),
    S.ABORTED: frozenset({S.RECORDED}),
    S.CANCELLED: frozenset({S.RECORDED}),
    S.SUPERSEDED: frozenset(),
    S.REJECTED: frozenset(),
    S.RECORDED: frozenset({S.PROVEN, S.DISPUTED}),
    S.DISPUTED: frozenset({S.PROVEN}),
    S.PROVEN: frozenset(),
}
"""Allowed moves. A superseded revision ends there; its successor starts at RECEIVED."""

LIVE_STATES = frozenset({S.ACCEPTED, S.PARTIALLY_ACCEPTED, S.SCHEDULED, S.ARMED, S.ACTIVE})
"""States in which an FS holds capacity on its targets."""

CANCELLABLE = frozenset(s for s, moves in TRANSITIONS.items() if S.CANCELLED in moves)
FINAL_EXECUTION_STATES = frozenset({S.COMPLETED, S.ABORTED, S.CANCELLED})
"""States after which the FS gets its detailed service record."""


class IllegalTransition(Conflict):
    slug = "illegal-transition"
    title = "Illegal state transition"


def can_move(current: FsState, to: FsState) -> bool:
    return to in TRANSITIONS[current]


_WAIT_FOR_START = frozenset({S.ACCEPTED, S.PARTIALLY_ACCEPTED, S.SCHEDULED})
_NOW = frozenset({S.ARMED, S.ACTIVE}) | FINAL_EXECUTION_STATES


def due_after_move(fs: FlexibilityServiceRow, to: FsState, when: datetime) -> datetime | None:
    """When the execution step must look at an FS that just moved to `to`.

    Commands still at the stations (a superseded revision's, an ended FS's) are due at once;
    an FS waiting for its window at the window start; one running or ended at once (the step
    then sets the next time from its plan, or from the record delay); any other state never.
    """
    if fs.execution is not None or to in _NOW:
        return when
    if to in _WAIT_FOR_START:
        return fs.window_start
    return None


async def move(
    session: AsyncSession,
    fs: FlexibilityServiceRow,
    to: FsState,
    reason: str | None = None,
    *,
    at: datetime | None = None,
    notify: bool = True,
) -> None:
    """Move `fs` to `to`, recording, logging and notifying it; 409 if the move is illegal.

    Stamped `at` (default now), but never before the FS's previous transition (see above).
    """
    if not can_move(FsState(fs.state), to):
        _illegal(FsState(fs.state), to)
    moved = planned_move(
        fs, to, reason, at=at, previous=await last_transition_at(session, fs.id), notify=notify
    )
    session.add(FsTransitionRow(**moved.transition))
    await insert_rows(session, EventLogRow, [moved.event])  # at once, as before the next entry
    await wake_workers(session)  # the chainer of every replica, at commit
    if moved.notification is not None:
        session.add(OutboxRow(**moved.notification))
        await wake_workers(session)  # the delivery loops of every replica, at commit


@dataclass(frozen=True, slots=True)
class Moved:
    """The rows one move writes, as column values: its transition, its event-log entry and
    (unless the move is silent) its notification."""

    transition: dict[str, Any]
    event: dict[str, Any]
    notification: dict[str, Any] | None


def _illegal(current: FsState, to: FsState) -> NoReturn:
    raise IllegalTransition(
        f"An FS in state {current.value} cannot become {to.value}.",
    )


def planned_move(
    fs: FlexibilityServiceRow,
    to: FsState,
    reason: str | None = None,
    *,
    at: datetime | None = None,
    previous: datetime | None,
    notify: bool = True,
) -> Moved:
    """`move` without the writes: moves `fs` in memory (stamped as `move` stamps it, `previous`
    being its last transition) and returns the rows to write, so that a step moving many FS
    writes each table with one statement. 409 if the move is illegal."""
    current = FsState(fs.state)
    if not can_move(current, to):
        _illegal(current, to)
    when = at or utcnow()
    if previous is not None and previous > when:
        when = previous
    fs.state = to.value
    fs.updated_at = when
    fs.due_at = due_after_move(fs, to, when)
    transition = {
        "fs_pk": fs.id,
        "revision": fs.revision,
        "from_state": current.value,
        "to_state": to.value,
        "at": when,
        "reason": reason[:500] if reason else None,
    }
    event = event_values(
        type="FS_STATE_CHANGED",
        object_ref=f"fs/{fs.fs_id}/{fs.revision}",
        summary=f"{current.value} -> {to.value}",
        party_id=fs.fo_party_id,
        fs_id=fs.fs_id,
        payload={"from": current.value, "to": to.value, "reason": reason, "revision": fs.revision},
    )
    notification = None
    if notify:
        notification = notification_values(
            fo_party_id=fs.fo_party_id,
            type="FS_STATE_CHANGED",
            fs_id=fs.fs_id,
            data={
                "revision": fs.revision,
                "from_state": current.value,
                "to_state": to.value,
                "reason": reason[:500] if reason else None,
            },
            occurred_at=when,
        )
    return Moved(transition, event, notification)
