"""Queries of EV sessions and their consents; reads are filtered by the caller's contracts.

Sessions are keyed by their pseudonym (`session_ref`); `disconnected_at` is null while the EV is
connected. Listing joins the EVSE for its site and station, which both the filters and the
contract coverage need.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from fcsbe.server.security.principal import Principal
from fcsbe.server.storage.infrastructure import ConsentRow, EvseRow, EvSessionRow
from fcsbe.server.storage.registry import rows_where_in
from fcsbe.server.storage.visibility import covers_session

__all__ = [
    "SessionWithPlace",
    "connected_sessions",
    "consents_by_id",
    "get_session",
    "list_sessions",
    "open_sessions",
    "sessions_between",
]

SessionWithPlace = tuple[EvSessionRow, str, str]
"""A session with the site id and station id of its EVSE."""


async def open_sessions(session: AsyncSession) -> list[EvSessionRow]:
    """Every session still connected (for reconciliation with the stations)."""
    rows = await session.scalars(select(EvSessionRow).where(EvSessionRow.disconnected_at.is_(None)))
    return list(rows)


async def connected_sessions(
    session: AsyncSession, evse_ids: Iterable[str]
) -> dict[str, EvSessionRow]:
    """The connected session of each of `evse_ids` that has one."""
    connected = EvSessionRow.disconnected_at.is_(None)
    rows = await rows_where_in(session, EvSessionRow, EvSessionRow.evse_id, evse_ids, connected)
    return {row.evse_id: row for row in rows}


async def sessions_between(
    session: AsyncSession, evse_ids: Iterable[str], start: datetime, end: datetime
) -> list[EvSessionRow]:
    """Sessions at `evse_ids` that were connected at some time in [start, end], oldest first."""
    found = await rows_where_in(
        session,
        EvSessionRow,
        EvSessionRow.evse_id,
        evse_ids,
        EvSessionRow.connected_at <= end,
        (EvSessionRow.disconnected_at.is_(None)) | (EvSessionRow.disconnected_at >= start),
    )
    return sorted(found, key=lambda row: (row.connected_at, row.session_ref))


async def consents_by_id(session: AsyncSession, ids: Iterable[str]) -> dict[str, ConsentRow]:
    """Consents by id."""
    rows = await rows_where_in(session, ConsentRow, ConsentRow.consent_id, ids)
    return {row.consent_id: row for row in rows}


async def list_sessions(
    session: AsyncSession,
    principal: Principal,
    now: datetime,
    *,
    after: str | None,
    limit: int,
    site_id: str | None = None,
    cs_id: str | None = None,
    evse_id: str | None = None,
    include_ended: bool = False,
) -> list[SessionWithPlace]:
    """One page of the sessions the caller may see, ordered by `session_ref`."""
    statement = (
        select(EvSessionRow, EvseRow.site_id, EvseRow.cs_id)
        .join(EvseRow, EvseRow.evse_id == EvSessionRow.evse_id)
        .where(covers_session(principal, now))
    )
    if not include_ended:
        statement = statement.where(EvSessionRow.disconnected_at.is_(None))
    if site_id is not None:
        statement = statement.where(EvseRow.site_id == site_id)
    if cs_id is not None:
        statement = statement.where(EvseRow.cs_id == cs_id)
    if evse_id is not None:
        statement = statement.where(EvSessionRow.evse_id == evse_id)
    if after is not None:
        statement = statement.where(EvSessionRow.session_ref > after)
    statement = statement.order_by(EvSessionRow.session_ref).limit(limit)
    return [(row, site, cs) for row, site, cs in await session.execute(statement)]


async def get_session(
    session: AsyncSession, principal: Principal, now: datetime, session_ref: str
) -> SessionWithPlace | None:
    """One session the caller may see (connected or not), or None."""
    statement = (
        select(EvSessionRow, EvseRow.site_id, EvseRow.cs_id)
        .join(EvseRow, EvseRow.evse_id == EvSessionRow.evse_id)
        .where(EvSessionRow.session_ref == session_ref, covers_session(principal, now))
    )
    found = (await session.execute(statement)).first()
    return (found[0], found[1], found[2]) if found else None
