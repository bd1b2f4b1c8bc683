"""Notifications about a registry object (a site, a station, an EVSE) to the FOs that cover it.

`CAPABILITY_CHANGED`, `AVAILABILITY_UPDATED` and `DER_ALARM` concern an object, not an FS: each
FO one of whose ACTIVE contracts covers the object is told, once per event, and only at its
contract's data-sharing level. The notification's `target` names the object as that FO may see
it (an EVSE to a contract at EVSE level or finer, its station at CS level, its site at SITE
level), and `data` is built for that level, so nothing finer than the contract allows reaches
the FO. An FO with several contracts over the object is told once, at the finest of them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from fcsbe.model import DataSharingLevel, FsType, NotificationType
from fcsbe.server.notifications.outbox import enqueue_notification
from fcsbe.server.storage.visibility import LEVEL_RANK, covers_for

__all__ = ["Audience", "Place", "TargetNotice", "notify_covering", "shown_target"]


@dataclass(frozen=True, slots=True)
class Place:
    """Where something happened: a site, and the station and EVSE when it concerns one."""

    site_id: str
    cs_id: str | None = None
    evse_id: str | None = None


@dataclass(frozen=True, slots=True)
class Audience:
    """One FO covering a place: its finest level there, and its contracts' FS types."""

    fo_party_id: str
    level: DataSharingLevel
    fs_types: tuple[FsType, ...]


DataFor = Callable[[Audience], Mapping[str, Any] | None]
"""The `data` of the notification for one FO (None: this FO is not told)."""


@dataclass(frozen=True, slots=True)
class TargetNotice:
    """One event at a place, to be told to every FO covering it."""

    type: NotificationType
    place: Place
    data: DataFor
    occurred_at: datetime


def shown_target(level: DataSharingLevel, place: Place) -> dict[str, str]:
    """The object as an FO at `level` may see it: never finer than the contract's level."""
    rank = LEVEL_RANK[level]
    if place.evse_id is not None and rank >= LEVEL_RANK[DataSharingLevel.EVSE]:
        return {"level": "EVSE", "id": place.evse_id}
    if place.cs_id is not None and rank >= LEVEL_RANK[DataSharingLevel.CS]:
        return {"level": "CS", "id": place.cs_id}
    return {"level": "SITE", "id": place.site_id}


async def notify_covering(
    session: AsyncSession, now: datetime, notices: Sequence[TargetNotice]
) -> int:
    """Queue each notice for every FO whose active contract covers its place; returns how many
    notifications were queued (one query for the contracts of all notices)."""
    if not notices:
        return 0
    ids = {
        x
        for notice in notices
        for x in (notice.place.site_id, notice.place.cs_id, notice.place.evse_id)
        if x is not None
    }
    covers = await covers_for(session, None, now, ids)
    queued = 0
    for notice in notices:
        place = notice.place
        audiences: dict[str, Audience] = {}
        for cover in covers:
            if not cover.covers(place.site_id, place.cs_id, place.evse_id):
                continue
            seen = audiences.get(cover.fo_party_id)
            level = cover.level
            types = {FsType(t) for t in cover.fs_types}
            if seen is not None:
                if LEVEL_RANK[seen.level] > LEVEL_RANK[level]:
                    level = seen.level
                types |= set(seen.fs_types)
            audiences[cover.fo_party_id] = Audience(cover.fo_party_id, level, tuple(sorted(types)))
        for fo_party_id, audience in sorted(audiences.items()):
            data = notice.data(audience)
            if data is None:
                continue
            await enqueue_notification(
                session,
                fo_party_id=fo_party_id,
                type=notice.type.value,
                data=data,
                target=shown_target(audience.level, place),
                occurred_at=notice.occurred_at,
            )
            queued += 1
    return queued
