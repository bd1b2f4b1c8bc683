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

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from fcsbe.model import FsState
from fcsbe.server.errors import Conflict
from fcsbe.server.notifications.outbox import enqueue_notification
from fcsbe.server.services.event_log.log import append_event
from fcsbe.server.storage.base import utcnow
from fcsbe.server.storage.flexibility_services import (
    FlexibilityServiceRow,
    FsTransitionRow,
    last_transition_at,
)

__all__ = [
    "CANCELLABLE",
    "FINAL_EXECUTION_STATES",
    "LIVE_STATES",
    "TRANSITIONS",
    "IllegalTransition",
    "can_move",
    "due_after_move",
    "move",
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
    current = FsState(fs.state)
    if not can_move(current, to):
        raise IllegalTransition(
            f"An FS in state {current.value} cannot become {to.value}.",
        )
    when = at or utcnow()
    previous = await last_transition_at(session, fs.id)
    if previous is not None and previous > when:
        when = previous
    fs.state = to.value
    fs.updated_at = when
    fs.due_at = due_after_move(fs, to, when)
    session.add(
        FsTransitionRow(
            fs_pk=fs.id,
            revision=fs.revision,
            from_state=current.value,
            to_state=to.value,
            at=when,
            reason=reason[:500] if reason else None,
        )
    )
    await append_event(
        session,
        type="FS_STATE_CHANGED",
        object_ref=f"fs/{fs.fs_id}/{fs.revision}",
        summary=f"{current.value} -> {to.value}",
        party_id=fs.fo_party_id,
        fs_id=fs.fs_id,
        payload={"from": current.value, "to": to.value, "reason": reason, "revision": fs.revision},
    )
    if notify:
        await enqueue_notification(
            session,
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
