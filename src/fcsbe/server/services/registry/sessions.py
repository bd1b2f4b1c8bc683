"""EV sessions as the FO sees them: pseudonymous, minimal, with their contract holders.

`list_sessions` shows each session at the caller's data-sharing level with only the personal-data
categories its contracts name (GDPR minimisation), plus the holders of the contracts covering it
(roaming, UC 1.2 / 1.4). Storing what the stations report is `services.session_sync`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from fcsbe.model import (
    ContractHolder,
    DataSharingLevel,
    EvSession,
    FsType,
    PartyRole,
    PersonalDataCategory,
)
from fcsbe.server.errors import NotFound
from fcsbe.server.security.personal_data import category_fields
from fcsbe.server.security.principal import Principal
from fcsbe.server.services.contracts.terms import governs_session
from fcsbe.server.storage import sessions as store
from fcsbe.server.storage.infrastructure import EvSessionRow
from fcsbe.server.storage.visibility import Cover, covers_for

__all__ = ["SESSION_FIELDS", "get_session", "list_sessions", "session_covers"]


def _by_category(model: type[BaseModel]) -> dict[PersonalDataCategory, tuple[str, ...]]:
    found: dict[PersonalDataCategory, tuple[str, ...]] = {}
    for name, category in category_fields(model).items():
        found[category] = (*found.get(category, ()), name)
    return found


SESSION_FIELDS = _by_category(EvSession)
"""Fields of a session shown only to FOs whose contracts name their category."""


def session_covers(row: EvSessionRow, place: tuple[str, str], covers: list[Cover]) -> list[Cover]:
    """Covers of a session: SESSION level, on its EVSE, station or site, roaming rule applied."""
    return [
        c
        for c in covers
        if c.level is DataSharingLevel.SESSION
        and c.covers(place[0], place[1], row.evse_id)
        and governs_session(c.provider_party_id, row)
    ]


def _holder_role(row: EvSessionRow) -> PartyRole:
    if row.fs_controller == "HOME":
        return PartyRole.H_CSP
    return PartyRole.V_CSO if row.visited_party_id else PartyRole.CSO


def _shown(
    principal: Principal, row: EvSessionRow, place: tuple[str, str], covers: list[Cover]
) -> EvSession:
    mine = session_covers(row, place, covers)
    data = row.data
    document: dict[str, Any] = {k: data[k] for k in ("session_ref", "evse_id", "connected_at")}
    categories = (
        set(PersonalDataCategory)
        if principal.is_operator
        else {PersonalDataCategory(c) for cover in mine for c in cover.categories}
    )
    for category, fields in SESSION_FIELDS.items():
        if category in categories:
            document.update((f, data.get(f)) for f in fields)
    holders: dict[tuple[str, str], ContractHolder] = {}
    for cover in mine:
        holders[(cover.provider_party_id, cover.fsc_id)] = ContractHolder(
            party_id=cover.provider_party_id,
            role=_holder_role(row),
            fs_types=[FsType(t) for t in cover.fs_types],
            fsc_id=cover.fsc_id,
            valid_to=cover.valid_to,
        )
    document["holders"] = [holders[k].model_dump(mode="json") for k in sorted(holders)]
    return EvSession.model_validate(document)


async def list_sessions(
    db: AsyncSession,
    principal: Principal,
    now: datetime,
    *,
    after: str | None,
    limit: int,
    site_id: str | None = None,
    cs_id: str | None = None,
    evse_id: str | None = None,
    include_ended: bool = False,
) -> tuple[list[EvSession], str | None]:
    """One page of the sessions the caller may see, and the key of the next page."""
    rows = await store.list_sessions(
        db,
        principal,
        now,
        after=after,
        limit=limit + 1,
        site_id=site_id,
        cs_id=cs_id,
        evse_id=evse_id,
        include_ended=include_ended,
    )
    more = len(rows) > limit
    rows = rows[:limit]
    ids = {x for row, site, cs in rows for x in (site, cs, row.evse_id)}
    covers = await covers_for(db, principal, now, ids)
    items = [_shown(principal, row, (site, cs), covers) for row, site, cs in rows]
    return items, rows[-1][0].session_ref if more else None


async def get_session(
    db: AsyncSession, principal: Principal, now: datetime, session_ref: str
) -> EvSession:
    """One session, or 404 when unknown or not covered at SESSION level."""
    found = await store.get_session(db, principal, now, session_ref)
    if found is None:
        raise NotFound(
            f"No EV session {session_ref!r} in your contracts.", slug="session-not-found"
        )
    row, site, cs = found
    covers = await covers_for(db, principal, now, [site, cs, row.evse_id])
    return _shown(principal, row, (site, cs), covers)
