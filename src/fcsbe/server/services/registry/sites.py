"""Sites as the caller may see them (`GET /v1/sites`).

`cs_ids` is derived from the registry and shown only from the CS data-sharing level on: at SITE
level an FO sees the site and its aggregates, not what stands on it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from fcsbe.model import DataSharingLevel, Site
from fcsbe.server.errors import NotFound
from fcsbe.server.security.principal import Principal
from fcsbe.server.storage import sites as store
from fcsbe.server.storage.infrastructure import SiteRow
from fcsbe.server.storage.visibility import LEVEL_RANK, covers_for, finest

__all__ = ["get_site", "list_sites"]


async def _documents(
    session: AsyncSession, principal: Principal, now: datetime, rows: list[SiteRow]
) -> list[Site]:
    ids = [row.site_id for row in rows]
    cover = await covers_for(session, principal, now, ids)
    shown = [
        row.site_id
        for row in rows
        if LEVEL_RANK[finest(principal, cover, row.site_id) or DataSharingLevel.SITE]
        >= LEVEL_RANK[DataSharingLevel.CS]
    ]
    stations = await store.station_ids_by_site(session, shown)
    return [
        Site.model_validate({**row.data, "cs_ids": stations.get(row.site_id, [])}) for row in rows
    ]


async def list_sites(
    session: AsyncSession,
    principal: Principal,
    now: datetime,
    *,
    after: str | None,
    limit: int,
) -> tuple[list[Site], str | None]:
    """One page of the sites the caller's contracts cover, and the key of the next page."""
    rows = await store.list_sites(session, principal, now, after=after, limit=limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    items = await _documents(session, principal, now, rows)
    return items, rows[-1].site_id if more else None


async def get_site(
    session: AsyncSession, principal: Principal, now: datetime, site_id: str
) -> Site:
    """One site, or 404 when unknown or not covered."""
    row = await store.get_site(session, principal, now, site_id)
    if row is None:
        raise NotFound(f"No site {site_id!r} in your contracts.", slug="site-not-found")
    (document,) = await _documents(session, principal, now, [row])
    return document
