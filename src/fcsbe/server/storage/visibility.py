"""Which registry objects and EV sessions a caller may see: the contract-coverage queries.

An FO sees an object only while one of its ACTIVE contracts (status ACTIVE and `valid_from <=
now < valid_to`) covers it, and only at the contract's data-sharing level or coarser:

- a SITE target covers the site, its stations, their EVSEs and the sessions on them; a CS target
  covers the station, its EVSEs and their sessions; an EVSE target covers the EVSE and its
  sessions (and shows the station with that EVSE only);
- the level (SITE < CS < EVSE < SESSION) is the finest granularity shown: a SITE-level contract
  shows site aggregates and nothing per station or EVSE; sessions need SESSION level;
- roaming (UC 1.2 / 1.4): a session whose FS controller is its HOME party is covered only by
  contracts governed by that home party; one controlled by the VISITED CSO only by contracts
  that CSO governs. A contract's governing party is its holder (`holder_party_id`, e.g. the
  H-CSP) or, without one, its provider (`contract_terms.governing_party`).

The operator sees everything. Every query takes the `Principal` and is filtered here, in SQL, so
no caller can forget the filter; unknown and invisible ids look the same (404 upstream).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    ColumnElement,
    SQLColumnExpression,
    and_,
    exists,
    false,
    func,
    or_,
    select,
    true,
)
from sqlalchemy.ext.asyncio import AsyncSession

from fcsbe.model import DataSharingLevel
from fcsbe.server.security.principal import Principal
from fcsbe.server.storage.contracts import ContractRow, ContractTargetRow
from fcsbe.server.storage.infrastructure import EvseRow, EvSessionRow
from fcsbe.server.storage.registry import chunked

__all__ = [
    "LEVEL_RANK",
    "Cover",
    "at_least",
    "covers",
    "covers_for",
    "covers_session",
    "finest",
]

LEVEL_RANK = {
    DataSharingLevel.SITE: 0,
    DataSharingLevel.CS: 1,
    DataSharingLevel.EVSE: 2,
    DataSharingLevel.SESSION: 3,
}
"""Order of data-sharing levels, coarsest first."""


def at_least(level: DataSharingLevel) -> list[str]:
    """The levels as fine as `level` or finer (their contracts may show `level` data)."""
    return [lvl.value for lvl, rank in LEVEL_RANK.items() if rank >= LEVEL_RANK[level]]


def _active(principal: Principal, now: datetime, level: DataSharingLevel) -> ColumnElement[bool]:
    return and_(
        ContractTargetRow.contract_id == ContractRow.id,
        ContractRow.fo_party_id == principal.party_id,
        ContractRow.status == "ACTIVE",
        ContractRow.valid_from <= now,
        ContractRow.valid_to > now,
        or_(ContractRow.ends_at.is_(None), ContractRow.ends_at > now),
        ContractRow.data_sharing_level.in_(at_least(level)),
    )


def covers(
    principal: Principal,
    now: datetime,
    level: DataSharingLevel,
    *,
    site_id: SQLColumnExpression[str] | None = None,
    cs_id: SQLColumnExpression[str] | None = None,
    evse_id: SQLColumnExpression[str] | None = None,
    any_evse_of_cs: SQLColumnExpression[str] | None = None,
) -> ColumnElement[bool]:
    """SQL condition: an active contract of the caller at `level` or finer covers the row.

    Pass the columns of the row's site, station and EVSE (those it has). `any_evse_of_cs` makes
    an EVSE target also cover the station of that EVSE (a station listed with some EVSEs only).
    """
    if principal.is_operator:
        return true()
    branches: list[ColumnElement[bool]] = []
    if site_id is not None:
        branches.append(
            and_(ContractTargetRow.level == "SITE", ContractTargetRow.target_id == site_id)
        )
    if cs_id is not None:
        branches.append(and_(ContractTargetRow.level == "CS", ContractTargetRow.target_id == cs_id))
    if evse_id is not None:
        branches.append(
            and_(ContractTargetRow.level == "EVSE", ContractTargetRow.target_id == evse_id)
        )
    if any_evse_of_cs is not None:
        evses = select(EvseRow.evse_id).where(EvseRow.cs_id == any_evse_of_cs)
        branches.append(
            and_(ContractTargetRow.level == "EVSE", ContractTargetRow.target_id.in_(evses))
        )
    if not branches:
        return false()
    return exists(
        select(ContractTargetRow.id).where(_active(principal, now, level), or_(*branches))
    )


def covers_session(principal: Principal, now: datetime) -> ColumnElement[bool]:
    """SQL condition on `ev_sessions` joined with `evses`: the caller may see the session."""
    if principal.is_operator:
        return true()
    provider = func.coalesce(ContractRow.holder_party_id, ContractRow.provider_party_id)
    visited = EvSessionRow.visited_party_id
    roaming_ok = or_(
        EvSessionRow.fs_controller.is_(None),
        and_(EvSessionRow.fs_controller == "HOME", provider == EvSessionRow.home_party_id),
        and_(EvSessionRow.fs_controller != "HOME", or_(visited.is_(None), provider == visited)),
    )
    target = or_(
        and_(ContractTargetRow.level == "SITE", ContractTargetRow.target_id == EvseRow.site_id),
        and_(ContractTargetRow.level == "CS", ContractTargetRow.target_id == EvseRow.cs_id),
        and_(ContractTargetRow.level == "EVSE", ContractTargetRow.target_id == EvseRow.evse_id),
    )
    return exists(
        select(ContractTargetRow.id).where(
            _active(principal, now, DataSharingLevel.SESSION), target, roaming_ok
        )
    )


@dataclass(frozen=True, slots=True)
class Cover:
    """One target of an active contract: what it covers, at which level, for whom."""

    fsc_id: str
    fo_party_id: str
    provider_party_id: str
    """The party governing the contract: its holder if it names one, else its provider."""
    level: DataSharingLevel
    target_level: str
    target_id: str
    fs_types: tuple[str, ...]
    valid_to: datetime
    categories: frozenset[str]

    def covers(self, site_id: str | None, cs_id: str | None, evse_id: str | None) -> bool:
        """True when this target covers an object with these ids."""
        return (self.target_level, self.target_id) in {
            ("SITE", site_id),
            ("CS", cs_id),
            ("EVSE", evse_id),
        }


async def covers_for(
    session: AsyncSession,
    principal: Principal | None,
    now: datetime,
    ids: Iterable[str],
) -> list[Cover]:
    """Targets of active contracts naming one of `ids` (site, CS or EVSE ids).

    The caller's own contracts for an FO; every FO's for the operator, or for `None` (the
    server itself, e.g. to find whom to notify).
    """
    found: list[Cover] = []
    for batch in chunked(set(ids)):
        statement = (
            select(ContractRow, ContractTargetRow.level, ContractTargetRow.target_id)
            .join(ContractTargetRow, ContractTargetRow.contract_id == ContractRow.id)
            .where(
                ContractRow.status == "ACTIVE",
                ContractRow.valid_from <= now,
                ContractRow.valid_to > now,
                or_(ContractRow.ends_at.is_(None), ContractRow.ends_at > now),
                ContractTargetRow.target_id.in_(batch),
            )
        )
        if principal is not None and not principal.is_operator:
            statement = statement.where(ContractRow.fo_party_id == principal.party_id)
        for contract, target_level, target_id in await session.execute(statement):
            personal = contract.terms.get("personal_data") or {}
            found.append(
                Cover(
                    fsc_id=contract.fsc_id,
                    fo_party_id=contract.fo_party_id,
                    provider_party_id=contract.holder_party_id or contract.provider_party_id,
                    level=DataSharingLevel(contract.data_sharing_level),
                    target_level=target_level,
                    target_id=target_id,
                    fs_types=tuple(contract.fs_types),
                    valid_to=contract.valid_to,
                    categories=frozenset(personal.get("categories") or ()),
                )
            )
    return found


def finest(
    principal: Principal,
    covers_list: Iterable[Cover],
    site_id: str | None,
    cs_id: str | None = None,
    evse_id: str | None = None,
) -> DataSharingLevel | None:
    """The finest level at which the caller may see an object (None: not at all)."""
    if principal.is_operator:
        return DataSharingLevel.SESSION
    levels = [c.level for c in covers_list if c.covers(site_id, cs_id, evse_id)]
    return max(levels, key=LEVEL_RANK.__getitem__) if levels else None
