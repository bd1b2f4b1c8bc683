"""The transactional outbox as a service: writing notifications, the FO's feed, operator views.

A notification is written in the same transaction as the change it reports, so the FO is told
of every committed change and of nothing that was rolled back. The feed serves only sequenced
notifications (see `fcsbe.server.notifications.sequencer`), in `seq` order, so a reader that
resumes after the last `seq` it saw never misses one. Delivery lives in
`fcsbe.server.notifications`; this module never sends anything.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from fcsbe.model import (
    NOTIFICATION_DATA_MODELS,
    DeliveryAttempt,
    DeliveryOutcome,
    DeliveryStatus,
    FieldError,
    Notification,
    NotificationRecord,
    NotificationType,
    RedeliveryRequest,
    RedeliveryResult,
    parse_notification,
)
from fcsbe.server.errors import Gone, NotFound, UnprocessableContent
from fcsbe.server.platform.observability import current_correlation_id
from fcsbe.server.storage import notifications as outbox
from fcsbe.server.storage.base import utcnow
from fcsbe.server.storage.notifications import OutboxRow
from fcsbe.server.storage.wakeup import wake_workers

__all__ = [
    "REDELIVERABLE",
    "delivery_attempts",
    "enqueue_notification",
    "feed_page",
    "list_notifications",
    "notification_values",
    "purge_outbox",
    "redeliver",
    "to_notification",
]

REDELIVERABLE = frozenset({DeliveryStatus.DEAD, DeliveryStatus.PARKED})
"""States that may be selected wholesale for redelivery (named ids may be in any state)."""


async def enqueue_notification(
    session: AsyncSession,
    *,
    fo_party_id: str,
    type: str,
    data: Mapping[str, Any],
    fs_id: str | None = None,
    target: Mapping[str, str] | None = None,
    occurred_at: datetime | None = None,
) -> str:
    """Queue one notification for one FO; returns its notification id.

    `data` is checked against the type's model first: the feed serves every notification typed,
    so one that does not fit its type must fail here, with the change that caused it, and
    never later in a reader's feed.
    """
    values = notification_values(
        fo_party_id=fo_party_id,
        type=type,
        data=data,
        fs_id=fs_id,
        target=target,
        occurred_at=occurred_at,
    )
    session.add(OutboxRow(**values))
    await wake_workers(session)  # the delivery loops of every replica, at commit
    return str(values["notification_id"])


def notification_values(
    *,
    fo_party_id: str,
    type: str,
    data: Mapping[str, Any],
    fs_id: str | None = None,
    target: Mapping[str, str] | None = None,
    occurred_at: datetime | None = None,
) -> dict[str, Any]:
    """The column values of a new outbox row (checked as `enqueue_notification` checks them),
    for a step that writes many in one statement; the caller wakes the delivery loops
    (`wake_workers`) once it has written them."""
    NOTIFICATION_DATA_MODELS[NotificationType(type)].model_validate(data)
    now = utcnow()
    notification_id = str(uuid.uuid4())
    occurred = occurred_at or now
    return {
        "notification_id": notification_id,
        "fo_party_id": fo_party_id,
        "type": type,
        "fs_id": fs_id,
        "payload": {
            "notification_id": notification_id,
            "type": type,
            "fs_id": fs_id,
            "target": dict(target) if target else None,
            "occurred_at": occurred.isoformat().replace("+00:00", "Z"),
            "correlation_id": current_correlation_id(),
            "data": dict(data),
        },
        "status": "PENDING",
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }


def to_notification(row: OutboxRow) -> Notification:
    """The wire notification of a sequenced outbox row, its `data` typed."""
    return parse_notification({**row.payload, "seq": row.seq})


async def feed_page(
    session: AsyncSession,
    fo_party_id: str,
    after_seq: int,
    limit: int,
    *,
    pointer: str = "/query/after_seq",
) -> tuple[list[Notification], int | None]:
    """One page of the FO's feed after `after_seq`; the last seq served when more follow (one
    row more than the page is read to know).

    410 when notifications after `after_seq` were already purged (the position is older than
    the retention): resuming there would skip them silently.
    """
    oldest = await outbox.oldest_seq(session, fo_party_id)
    if oldest is not None and after_seq < oldest - 1:
        raise Gone(
            f"Notifications up to seq {oldest - 1} are no longer kept (retention). Resume "
            f"after seq {oldest - 1} and reconcile the state you track from the resources.",
            slug="feed-position-expired",
            errors=[
                FieldError(
                    pointer=pointer,
                    detail=f"older than the oldest kept notification (seq {oldest})",
                    code="expired",
                )
            ],
        )
    rows = await outbox.feed_rows(session, fo_party_id, after_seq, limit + 1)
    more, rows = len(rows) > limit, rows[:limit]
    items = [to_notification(row) for row in rows]
    return items, (int(rows[-1].seq or 0) if more else None)


async def purge_outbox(
    session: AsyncSession,
    now: datetime,
    *,
    retention_days: float,
    dead_retention_days: float,
    limit: int = 5_000,
) -> int:
    """Retention: drop settled notifications (and delivery-log rows) past their retention, a
    bounded batch at a time; returns how many rows went."""
    return await outbox.purge_settled(
        session,
        settled_before=now - timedelta(days=retention_days),
        dead_before=now - timedelta(days=dead_retention_days),
        limit=limit,
    )


def _record(row: OutboxRow) -> NotificationRecord:
    pending = row.status == DeliveryStatus.PENDING.value
    return NotificationRecord(
        notification_id=row.notification_id,
        fo_party_id=row.fo_party_id,
        seq=row.seq,
        type=NotificationType(row.type),
        fs_id=row.fs_id,
        status=DeliveryStatus(row.status),
        attempts=row.attempts,
        created_at=row.created_at,
        next_attempt_at=row.next_attempt_at if pending else None,
        delivered_at=row.delivered_at,
        last_error=row.last_error,
    )


async def list_notifications(
    session: AsyncSession,
    *,
    after_id: int,
    limit: int,
    status: DeliveryStatus | None = None,
    fo_party_id: str | None = None,
) -> tuple[list[NotificationRecord], int | None]:
    """Outbox rows for the operator; the last row id served when more follow (one row more
    than the page is read to know)."""
    rows = await outbox.list_rows(
        session,
        after_id=after_id,
        limit=limit + 1,
        status=status.value if status else None,
        fo_party_id=fo_party_id,
    )
    more, rows = len(rows) > limit, rows[:limit]
    return [_record(row) for row in rows], (rows[-1].id if more else None)


async def delivery_attempts(
    session: AsyncSession, notification_id: str, after_attempt: int, limit: int
) -> tuple[list[DeliveryAttempt], int | None]:
    """The delivery log of one notification (404 when it does not exist); the last attempt
    served when more follow (one row more than the page is read to know)."""
    row = await outbox.row_by_notification_id(session, notification_id)
    if row is None:
        raise NotFound(f"No notification {notification_id} exists.", slug="notification-not-found")
    rows = await outbox.attempts_of(session, row.id, after_attempt, limit + 1)
    more, rows = len(rows) > limit, rows[:limit]
    items = [
        DeliveryAttempt(
            notification_id=attempt.notification_id,
            attempt=attempt.attempt,
            attempted_at=attempt.attempted_at,
            url=attempt.url,
            outcome=DeliveryOutcome(attempt.outcome),
            status_code=attempt.status_code,
            duration_ms=attempt.duration_ms,
            error=attempt.error,
        )
        for attempt in rows
    ]
    return items, (rows[-1].attempt if more else None)


async def redeliver(session: AsyncSession, request: RedeliveryRequest) -> RedeliveryResult:
    """Make the selected notifications due now, with a fresh retry window."""
    if request.notification_ids is None and request.status is None:
        raise UnprocessableContent(
            "Name the notifications to redeliver, or select them by status.",
            slug="redelivery-selection-missing",
            errors=[
                FieldError(
                    pointer="/body/notification_ids",
                    detail="give notification_ids or status",
                    code="missing",
                )
            ],
        )
    if request.status is not None and request.status not in REDELIVERABLE:
        raise UnprocessableContent(
            "Only DEAD or PARKED notifications can be selected by status.",
            slug="redelivery-status-refused",
            errors=[FieldError(pointer="/body/status", detail="DEAD or PARKED", code="enum")],
        )
    count = await outbox.make_due(
        session,
        utcnow(),
        notification_ids=request.notification_ids,
        status=request.status.value if request.status else None,
        fo_party_id=request.fo_party_id,
    )
    return RedeliveryResult(count=count)
