"""The read-only queries behind the database gauges of `GET /metrics`.

They run at scrape time, so each must stay cheap at any table size: a grouped count over the
indexed FS state column, and a count plus a minimum over the outbox's (status, due) index.
They read across every party on purpose: the figures are operational totals with no party
data, for the operator's monitoring only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from fcsbe.server.storage.flexibility_services import FlexibilityServiceRow
from fcsbe.server.storage.notifications import OutboxRow

__all__ = ["OutboxBacklog", "fs_counts_by_state", "outbox_backlog"]

_FS_BY_STATE = select(FlexibilityServiceRow.state, func.count()).group_by(
    FlexibilityServiceRow.state
)
_PENDING = select(func.count(), func.min(OutboxRow.created_at)).where(OutboxRow.status == "PENDING")


@dataclass(frozen=True, slots=True)
class OutboxBacklog:
    """Notifications not yet delivered, and when the oldest of them was written."""

    pending: int
    oldest_created_at: datetime | None


async def fs_counts_by_state(session: AsyncSession) -> dict[str, int]:
    """How many FS are in each state (states with none are absent)."""
    rows = (await session.execute(_FS_BY_STATE)).all()
    return {str(state): int(count) for state, count in rows}


async def outbox_backlog(session: AsyncSession) -> OutboxBacklog:
    """The PENDING part of the outbox."""
    count, oldest = (await session.execute(_PENDING)).one()
    return OutboxBacklog(pending=int(count or 0), oldest_created_at=oldest)
