"""The scope entries of an FO's accepted contracts, for deciding what it may learn of a target.

`visibility` filters reads in SQL; the credentials check, the FS decision and contract proposals
instead judge targets the caller *names*, so they need the caller's covering entries themselves.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from fcsbe.server.storage.contracts import ContractRow, ContractTargetRow
from fcsbe.server.storage.registry import chunked

__all__ = ["CoverEntry", "accepted_covers"]


@dataclass(frozen=True, slots=True)
class CoverEntry:
    """One scope entry (level, id) of an accepted contract, with what it lets the FO see."""

    level: str
    target_id: str
    data_sharing_level: str
    governing_party_id: str


async def accepted_covers(
    session: AsyncSession,
    fo_party_id: str,
    ids: Iterable[str],
    now: datetime,
    *,
    also_contract_id: int | None = None,
) -> list[CoverEntry]:
    """Entries naming one of `ids` in the FO's contracts ACTIVE now (the read rule of
    `visibility`), plus those of contract `also_contract_id` when it is ACTIVE and not over,
    even if it starts later (the operator accepted showing its targets to this FO)."""
    in_force: ColumnElement[bool] = and_(ContractRow.valid_from <= now, ContractRow.valid_to > now)
    if also_contract_id is not None:
        named = and_(ContractRow.id == also_contract_id, ContractRow.valid_to > now)
        in_force = or_(in_force, named)
    found: list[CoverEntry] = []
    for batch in chunked(set(ids)):
        statement = (
            select(
                ContractTargetRow.level,
                ContractTargetRow.target_id,
                ContractRow.data_sharing_level,
                ContractRow.holder_party_id,
                ContractRow.provider_party_id,
            )
            .join(ContractRow, ContractTargetRow.contract_id == ContractRow.id)
            .where(
                ContractRow.fo_party_id == fo_party_id,
                ContractRow.status == "ACTIVE",
                or_(ContractRow.ends_at.is_(None), ContractRow.ends_at > now),
                in_force,
                ContractTargetRow.target_id.in_(batch),
            )
        )
        for level, target_id, sharing, holder, provider in await session.execute(statement):
            found.append(CoverEntry(level, target_id, sharing, holder or provider))
    return found
