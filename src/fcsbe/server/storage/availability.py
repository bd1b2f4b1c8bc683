"""What the availability forecast reads besides the registry: power already committed by live FS.

Committed power is held per EVSE in `fs_targets` (import W for DOWN regulation, export W for
UP), for the window of its FS; a forecast subtracts it from what it offers.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from fcsbe.server.storage.flexibility_services import FlexibilityServiceRow, FsTargetRow
from fcsbe.server.storage.registry import chunked

__all__ = ["Committed", "committed_power"]


@dataclass(frozen=True, slots=True)
class Committed:
    """Power a live FS holds on one EVSE during its window."""

    evse_id: str
    start: datetime
    end: datetime
    import_w: float
    export_w: float


async def committed_power(
    session: AsyncSession,
    evse_ids: Iterable[str],
    start: datetime,
    end: datetime,
    live_states: Iterable[str],
) -> list[Committed]:
    """Commitments of FS in `live_states` on `evse_ids` whose window overlaps [start, end)."""
    states = sorted(live_states)
    found: list[Committed] = []
    for batch in chunked(set(evse_ids)):
        statement = (
            select(
                FsTargetRow.target_id,
                FlexibilityServiceRow.window_start,
                FlexibilityServiceRow.window_end,
                FsTargetRow.committed_w,
                FsTargetRow.committed_export_w,
            )
            .join(FlexibilityServiceRow, FlexibilityServiceRow.id == FsTargetRow.fs_pk)
            .where(
                FsTargetRow.level == "EVSE",
                FsTargetRow.target_id.in_(batch),
                FlexibilityServiceRow.state.in_(states),
                FlexibilityServiceRow.window_start < end,
                FlexibilityServiceRow.window_end > start,
            )
        )
        for evse_id, w_start, w_end, imp, exp in await session.execute(statement):
            found.append(Committed(evse_id, w_start, w_end, float(imp or 0), float(exp or 0)))
    return found
