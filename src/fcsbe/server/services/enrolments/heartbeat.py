"""Liveness of the FO link: heartbeats, and the offline timer of every enrolment.

An enrolled FO sends `POST /v1/heartbeat` every `heartbeat_interval_s`. When an enrolment has
been silent for `offline_timeout_s` (since its last heartbeat, or since enrolment if it never
sent one), `detect_offline` marks it offline, notifies COMM_LOST and logs it, and returns the
newly offline enrolments: the FS layer applies the contract's fallback policy to them. The next
heartbeat clears the mark and notifies COMM_RESTORED. Marking is a conditional UPDATE, so
several replicas running the step report each loss once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from fcsbe.model import (
    CommStatusData,
    FallbackPolicy,
    HeartbeatRequest,
    HeartbeatResponse,
    NotificationType,
)
from fcsbe.server.errors import NotFound
from fcsbe.server.notifications.outbox import enqueue_notification
from fcsbe.server.services.event_log.log import append_event
from fcsbe.server.storage.parties import EnrolmentRow, mark_offline, silent_enrolments

__all__ = ["OfflineEnrolment", "detect_offline", "record_heartbeat"]


@dataclass(frozen=True, slots=True)
class OfflineEnrolment:
    """An enrolment that just went offline, with what the fallback needs to know."""

    enrolment_id: str
    fo_party_id: str
    offline_since: datetime
    last_seen_at: datetime
    fallback_policy: FallbackPolicy


async def _notify(
    session: AsyncSession, row: EnrolmentRow, kind: NotificationType, since: datetime
) -> None:
    data = CommStatusData(since=since, fallback_applied=False, affected_fs_ids=[])
    await enqueue_notification(
        session,
        fo_party_id=row.fo_party_id,
        type=kind.value,
        data=data.model_dump(mode="json"),
        occurred_at=since,
    )


async def record_heartbeat(
    session: AsyncSession, enrolment_id: str | None, body: HeartbeatRequest, *, now: datetime
) -> HeartbeatResponse:
    """Note that the FO is alive; tell it the server time and when the next beat is due."""
    row = await session.get(EnrolmentRow, enrolment_id) if enrolment_id else None
    if row is None:
        raise NotFound("No enrolment for this credential.", slug="enrolment-not-found")
    row.last_heartbeat_at = now
    if row.offline_since is not None:
        offline_since, row.offline_since = row.offline_since, None
        await append_event(
            session,
            type="FO_LINK_RESTORED",
            object_ref=f"enrolment/{row.enrolment_id}",
            summary=f"heartbeat received; offline since {offline_since.isoformat()}",
            party_id=row.fo_party_id,
            payload={"offline_since": offline_since.isoformat()},
        )
        await _notify(session, row, NotificationType.COMM_RESTORED, now)
    return HeartbeatResponse(
        server_time=now,
        heartbeat_interval_s=row.heartbeat_interval_s,
        offline_timeout_s=row.offline_timeout_s,
        next_heartbeat_at=now + timedelta(seconds=row.heartbeat_interval_s),
    )


async def detect_offline(session: AsyncSession, now: datetime) -> list[OfflineEnrolment]:
    """Worker step: mark enrolments silent past their timeout offline; returns the new ones."""
    newly: list[OfflineEnrolment] = []
    for row in await silent_enrolments(session):
        last_seen = row.last_heartbeat_at or row.created_at
        deadline = last_seen + timedelta(seconds=row.offline_timeout_s)
        if deadline > now or not await mark_offline(session, row.enrolment_id, deadline):
            continue
        await append_event(
            session,
            type="FO_LINK_LOST",
            object_ref=f"enrolment/{row.enrolment_id}",
            summary=f"no heartbeat for {row.offline_timeout_s} s (last {last_seen.isoformat()})",
            party_id=row.fo_party_id,
            payload={"last_seen_at": last_seen.isoformat(), "offline_since": deadline.isoformat()},
            severity="WARNING",
        )
        await _notify(session, row, NotificationType.COMM_LOST, deadline)
        newly.append(
            OfflineEnrolment(
                enrolment_id=row.enrolment_id,
                fo_party_id=row.fo_party_id,
                offline_since=deadline,
                last_seen_at=last_seen,
                fallback_policy=FallbackPolicy(row.fallback_policy),
            )
        )
    return newly
