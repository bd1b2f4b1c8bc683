"""Writing notifications to the transactional outbox (delivery and the feed read it).

A notification is written in the same transaction as the change it reports, so the FO is told
of every committed change and of nothing that was rolled back.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from fcsbe.server.observability import current_correlation_id
from fcsbe.server.storage.base import utcnow
from fcsbe.server.storage.outbox import OutboxRow

__all__ = ["enqueue_notification"]


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
    """Queue one notification for one FO; returns its notification id."""
    now = utcnow()
    notification_id = str(uuid.uuid4())
    occurred = occurred_at or now
    session.add(
        OutboxRow(
            notification_id=notification_id,
            fo_party_id=fo_party_id,
            type=type,
            fs_id=fs_id,
            payload={
                "notification_id": notification_id,
                "type": type,
                "fs_id": fs_id,
                "target": dict(target) if target else None,
                "occurred_at": occurred.isoformat().replace("+00:00", "Z"),
                "correlation_id": current_correlation_id(),
                "data": dict(data),
            },
            status="PENDING",
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
    )
    return notification_id
