"""Queries on flexibility services that the FS decision step makes: the FS it claims to
decide, and the activations a contract already has on a day (its per-day cap).

Kept apart from `flexibility_services` so the decision's statements are found in one place:
the step is hot, and its query count and locking are watched.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from fcsbe.model import FsState
from fcsbe.server.storage.flexibility_services import FlexibilityServiceRow

__all__ = ["activations_on_day", "received_fs"]


async def activations_on_day(
    session: AsyncSession,
    contract_pk: int,
    fs_type: str,
    day_start: datetime,
    fs_pk: int,
    states: frozenset[str],
) -> int:
    """How many other FS of `fs_type` under the contract, in one of `states`, start on the
    day from `day_start` (the commitment's activations per day count them)."""
    statement = select(func.count()).where(
        FlexibilityServiceRow.contract_id == contract_pk,
        FlexibilityServiceRow.fs_type == fs_type,
        FlexibilityServiceRow.id != fs_pk,
        FlexibilityServiceRow.window_start >= day_start,
        FlexibilityServiceRow.window_start < day_start + timedelta(days=1),
        FlexibilityServiceRow.state.in_(sorted(states)),
    )
    return int(await session.scalar(statement) or 0)


async def received_fs(session: AsyncSession, limit: int) -> list[FlexibilityServiceRow]:
    """Up to `limit` RECEIVED (undecided) FS, oldest first; on PostgreSQL locked
    `FOR UPDATE SKIP LOCKED`, so replicas deciding at once take disjoint FS."""
    statement = (
        select(FlexibilityServiceRow)
        .where(FlexibilityServiceRow.state == FsState.RECEIVED.value)
        .order_by(FlexibilityServiceRow.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        statement = statement.with_for_update(skip_locked=True, of=FlexibilityServiceRow)
    return list((await session.execute(statement)).scalars().all())
