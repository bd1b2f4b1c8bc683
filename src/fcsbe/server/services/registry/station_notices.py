"""What the stations report, told to the FOs that cover it: EVSE status, DER alarms, capability.

The station-sync step hands the adapter's events here (after the registry has been brought in
line with them, `fcsbe.server.stations.apply_station_events`):

- `EVSE_STATUS_CHANGED` → `AVAILABILITY_UPDATED` (the EVSE's status to contracts at EVSE level
  or finer; the station's or site's availability changed to coarser ones);
- `DER_ALARM` → `DER_ALARM`;
- `CAPABILITY_CHANGED` → `CAPABILITY_CHANGED` (`reason` `STATION_REPORTED`).

An EV connecting or leaving changes availability too: `session_notices` makes those notices
for the sessions the sync stored or closed. Events at objects the registry does not know, and
events with data the server cannot read, are ignored (logged): a station must not be able to
stop the sync.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from fcsbe.model import (
    AvailabilityUpdatedData,
    CapabilityChangedData,
    DataSharingLevel,
    DerAlarmData,
    NotificationType,
    TargetStatus,
)
from fcsbe.server.adapters.base import StationEvent, StationEventKind
from fcsbe.server.services.registry.target_notices import (
    Audience,
    Place,
    TargetNotice,
    notify_covering,
)
from fcsbe.server.storage.registry import load_evses, load_sites
from fcsbe.server.storage.visibility import LEVEL_RANK

__all__ = [
    "AVAILABILITY_HORIZON",
    "availability_notice",
    "notify_station_events",
]

log = logging.getLogger("fcsbe.stations")

AVAILABILITY_HORIZON = timedelta(days=1)
"""The period an availability change is declared for: the default forecast horizon."""


def _evse_level(audience: Audience) -> bool:
    return LEVEL_RANK[audience.level] >= LEVEL_RANK[DataSharingLevel.EVSE]


def availability_notice(place: Place, status: TargetStatus, at: datetime) -> TargetNotice:
    """`AVAILABILITY_UPDATED` for a change at `place` from `at`: the EVSE's `status` only to
    FOs that may see the EVSE."""

    def data(audience: Audience) -> Mapping[str, Any]:
        document = AvailabilityUpdatedData(
            start=at,
            end=at + AVAILABILITY_HORIZON,
            status=status if _evse_level(audience) and place.evse_id else None,
        )
        return document.model_dump(mode="json", exclude_none=True)

    return TargetNotice(NotificationType.AVAILABILITY_UPDATED, place, data, at)


def _der_alarm(place: Place, event: StationEvent) -> TargetNotice | None:
    try:
        alarm = DerAlarmData.model_validate(
            {
                "severity": event.data.get("severity") or "WARNING",
                "code": event.data.get("code"),
                "detail": event.data.get("detail"),
                "alarm_ended": str(event.data.get("alarm_ended")).lower() == "true",
            }
        )
    except ValidationError as exc:
        log.warning("DER alarm at %s ignored: %s", place.site_id, exc.errors()[0]["msg"])
        return None
    document = alarm.model_dump(mode="json", exclude_none=True)
    return TargetNotice(NotificationType.DER_ALARM, place, lambda _a: document, event.at)


def _capability(place: Place, event: StationEvent) -> TargetNotice:
    def data(audience: Audience) -> Mapping[str, Any] | None:
        if not audience.fs_types:
            return None
        document = CapabilityChangedData(
            fs_types=list(audience.fs_types), reason="STATION_REPORTED"
        )
        return document.model_dump(mode="json")

    return TargetNotice(NotificationType.CAPABILITY_CHANGED, place, data, event.at)


async def notify_station_events(session: AsyncSession, events: Sequence[StationEvent]) -> int:
    """Tell the covering FOs about the events that concern them; returns notifications queued."""
    wanted = {
        StationEventKind.EVSE_STATUS_CHANGED,
        StationEventKind.DER_ALARM,
        StationEventKind.CAPABILITY_CHANGED,
    }
    relevant = [e for e in events if e.kind in wanted]
    if not relevant:
        return 0
    evses = await load_evses(session, {e.evse_id for e in relevant if e.evse_id})
    sites = await load_sites(session, {e.site_id for e in relevant})
    notices: list[TargetNotice] = []
    for event in relevant:
        if event.evse_id is not None:
            evse = evses.get(event.evse_id)
            if evse is None:
                continue  # not in the registry: no contract can cover it
            place = Place(evse.site_id, evse.cs_id, evse.evse_id)
        elif event.site_id in sites:
            place = Place(event.site_id)
        else:
            continue
        notice: TargetNotice | None
        if event.kind == StationEventKind.EVSE_STATUS_CHANGED:
            try:
                status = TargetStatus(str(event.data.get("status")))
            except ValueError:
                log.warning("EVSE status %r of %s ignored", event.data.get("status"), place)
                continue
            notice = availability_notice(place, status, event.at) if place.evse_id else None
        elif event.kind == StationEventKind.DER_ALARM:
            notice = _der_alarm(place, event)
        else:
            notice = _capability(place, event)
        if notice is not None:
            notices.append(notice)
    return await notify_covering(session, _latest(relevant), notices)


def _latest(events: Sequence[StationEvent]) -> datetime:
    """The moment contracts are judged at: the newest event's."""
    return max(e.at for e in events)
