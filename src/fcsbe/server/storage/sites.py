"""Queries of sites, filtered by what the caller's contracts cover (see `visibility`).

A site is visible through a SITE target only: a contract on one station or EVSE does not reveal
the site around it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from fcsbe.model import DataSharingLevel
from fcsbe.server.security.principal import Principal
from fcsbe.server.storage.infrastructure import ChargingStationRow, SiteRow
from fcsbe.server.storage.registry import chunked
from fcsbe.server.storage.visibility import covers

__all__ = ["get_site", "list_sites", "station_ids_by_site"]


async def list_sites(
    session: AsyncSession,
    principal: Principal,
    now: datetime,
    *,
    after: str | None,
    limit: int,
) -> list[SiteRow]:
    """One page of visible sites ordered by id, after the id `after`."""
    statement = select(SiteRow).where(
        covers(principal, now, DataSharingLevel.SITE, site_id=SiteRow.site_id)
    )
    if after is not None:
        statement = statement.where(SiteRow.site_id > after)
    rows = await session.scalars(statement.order_by(SiteRow.site_id).limit(limit))
    return list(rows)


async def get_site(
    session: AsyncSession, principal: Principal, now: datetime, site_id: str
) -> SiteRow | None:
    """The site, if it exists and the caller may see it."""
    statement = select(SiteRow).where(
        SiteRow.site_id == site_id,
        covers(principal, now, DataSharingLevel.SITE, site_id=SiteRow.site_id),
    )
    return (await session.scalars(statement)).one_or_none()


async def station_ids_by_site(
    session: AsyncSession, site_ids: Iterable[str]
) -> dict[str, list[str]]:
    """The station ids of each site, sorted (for `Site.cs_ids`)."""
    found: dict[str, list[str]] = {}
    for batch in chunked(set(site_ids)):
        result = await session.execute(
            select(ChargingStationRow.site_id, ChargingStationRow.cs_id)
            .where(ChargingStationRow.site_id.in_(batch))
            .order_by(ChargingStationRow.cs_id)
        )
        for site_id, cs_id in result:
            found.setdefault(site_id, []).append(cs_id)
    return found
