"""Tables of flexibility service contracts (FSC), their revisions and their scope of targets,
and the queries on them, always within the caller's tenancy.

`contract_targets` exists so that contract-holder discovery (UC 3.5) and the FS decision can
find the contracts covering a target with an index, not by scanning JSON. An FO sees the
contracts it is party to (`fo_party_id`); the operator sees those its party provides
(`provider_party_id`); nobody else sees any (`contract_scope`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    ColumnElement,
    ForeignKey,
    Index,
    Select,
    String,
    UniqueConstraint,
    and_,
    delete,
    false,
    or_,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from fcsbe.server.storage.base import Base

if TYPE_CHECKING:
    from fcsbe.server.security.principal import Principal

__all__ = [
    "LIVE_STATUSES",
    "ContractRevisionRow",
    "ContractRow",
    "ContractTargetRow",
    "contract_pk",
    "contract_scope",
    "contracts_covering",
    "contracts_due_to_close",
    "contracts_page",
    "find_contract",
    "find_contracts",
    "live_contracts_of",
    "replace_targets",
    "revisions_of",
]

LIVE_STATUSES = ("PROPOSED", "ACTIVE", "SUSPENDED")
"""Statuses of a contract that can still change or be used."""


class ContractRow(Base):
    """The current state of one FSC; `terms` holds the active revision's terms document."""

    __tablename__ = "contracts"
    __table_args__ = (UniqueConstraint("fo_party_id", "fsc_id"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    fo_party_id: Mapped[str] = mapped_column(ForeignKey("parties.party_id"))
    fsc_id: Mapped[str] = mapped_column(String(128))
    provider_party_id: Mapped[str] = mapped_column(String(128))
    holder_party_id: Mapped[str | None] = mapped_column(String(128))
    holder_role: Mapped[str] = mapped_column(String(16), server_default="CSO")
    status: Mapped[str] = mapped_column(String(16))
    revision: Mapped[int]
    valid_from: Mapped[datetime]
    valid_to: Mapped[datetime]
    ends_at: Mapped[datetime | None]
    fs_types: Mapped[list[str]]
    data_sharing_level: Mapped[str] = mapped_column(String(16))
    signature_required: Mapped[bool] = mapped_column(default=False)
    terms: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class ContractRevisionRow(Base):
    """Every proposed revision of an FSC, kept readable after it is superseded."""

    __tablename__ = "contract_revisions"
    __table_args__ = (UniqueConstraint("contract_id", "revision"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("contracts.id", ondelete="CASCADE"))
    revision: Mapped[int]
    status: Mapped[str] = mapped_column(String(16))
    terms: Mapped[dict[str, Any]]
    proposed_at: Mapped[datetime]
    decided_at: Mapped[datetime | None]
    decision_reason: Mapped[str | None] = mapped_column(String(500))


class ContractTargetRow(Base):
    """One target (site, CS, EVSE) in the scope of an FSC."""

    __tablename__ = "contract_targets"
    __table_args__ = (
        UniqueConstraint("contract_id", "level", "target_id"),
        Index("ix_contract_targets_target_id", "target_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("contracts.id", ondelete="CASCADE"))
    level: Mapped[str] = mapped_column(String(16))
    target_id: Mapped[str] = mapped_column(String(128))


def contract_scope(principal: Principal) -> ColumnElement[bool]:
    """The contracts a principal may see: its own as FO, its party's as operator, else none."""
    if principal.role.value == "FO":
        return ContractRow.fo_party_id == principal.party_id
    if principal.role.value == "OPERATOR":
        return ContractRow.provider_party_id == principal.party_id
    return false()


def _locked(statement: Select[ContractRow], lock: bool) -> Select[ContractRow]:
    # Row lock on PostgreSQL (ignored by SQLite, whose transactions are serialised anyway), so
    # that an amendment and a decision on the same contract cannot interleave.
    return statement.with_for_update() if lock else statement


async def find_contracts(
    session: AsyncSession, principal: Principal, fsc_id: str, *, lock: bool = False
) -> list[ContractRow]:
    """The visible contracts with this id (one per FO; an operator may see several)."""
    statement = select(ContractRow).where(contract_scope(principal), ContractRow.fsc_id == fsc_id)
    rows = await session.execute(_locked(statement.order_by(ContractRow.id), lock))
    return list(rows.scalars().all())


async def find_contract(
    session: AsyncSession, principal: Principal, fsc_id: str, *, lock: bool = False
) -> ContractRow | None:
    """The caller's contract `fsc_id` (FO tenancy: at most one)."""
    found = await find_contracts(session, principal, fsc_id, lock=lock)
    return found[0] if len(found) == 1 else None


async def contracts_page(
    session: AsyncSession,
    principal: Principal,
    *,
    after_id: int | None,
    limit: int,
    status: str | None = None,
    fo_party_id: str | None = None,
) -> list[ContractRow]:
    """Visible contracts in creation order, after the cursor."""
    statement = select(ContractRow).where(contract_scope(principal)).order_by(ContractRow.id)
    if after_id is not None:
        statement = statement.where(ContractRow.id > after_id)
    if status is not None:
        statement = statement.where(ContractRow.status == status)
    if fo_party_id is not None:
        statement = statement.where(ContractRow.fo_party_id == fo_party_id)
    return list((await session.execute(statement.limit(limit))).scalars().all())


async def revisions_of(
    session: AsyncSession, contract_ids: Sequence[int]
) -> dict[int, list[ContractRevisionRow]]:
    """Revisions of the given (already authorised) contracts, oldest first."""
    result: dict[int, list[ContractRevisionRow]] = {cid: [] for cid in contract_ids}
    if not contract_ids:
        return result
    statement = (
        select(ContractRevisionRow)
        .where(ContractRevisionRow.contract_id.in_(contract_ids))
        .order_by(ContractRevisionRow.contract_id, ContractRevisionRow.revision)
    )
    for row in (await session.execute(statement)).scalars():
        result[row.contract_id].append(row)
    return result


async def replace_targets(
    session: AsyncSession, contract_id: int, targets: Iterable[tuple[str, str]]
) -> None:
    """Make the contract's indexed scope exactly `targets` ((level, id) pairs)."""
    await session.execute(
        delete(ContractTargetRow).where(ContractTargetRow.contract_id == contract_id)
    )
    session.add_all(
        ContractTargetRow(contract_id=contract_id, level=level, target_id=target_id)
        for level, target_id in targets
    )


async def live_contracts_of(
    session: AsyncSession, fo_party_id: str, *, exclude_id: int | None = None
) -> list[ContractRow]:
    """The FO's contracts that are not finished (for the overlap rule)."""
    statement = select(ContractRow).where(
        ContractRow.fo_party_id == fo_party_id, ContractRow.status.in_(LIVE_STATUSES)
    )
    if exclude_id is not None:
        statement = statement.where(ContractRow.id != exclude_id)
    return list((await session.execute(statement)).scalars().all())


async def contracts_covering(
    session: AsyncSession, keys: Sequence[tuple[str, str]], at: datetime
) -> list[tuple[ContractRow, str, str]]:
    """ACTIVE contracts in force at `at` whose scope names one of `keys` ((level, id) pairs),
    with the scope entry that matched. Not tenancy-filtered: callers decide what to reveal."""
    if not keys:
        return []
    matches = or_(
        *(
            and_(ContractTargetRow.level == lvl, ContractTargetRow.target_id == tid)
            for lvl, tid in keys
        )
    )
    statement = (
        select(ContractRow, ContractTargetRow.level, ContractTargetRow.target_id)
        .join(ContractTargetRow, ContractTargetRow.contract_id == ContractRow.id)
        .where(
            matches,
            ContractRow.status == "ACTIVE",
            ContractRow.valid_from <= at,
            ContractRow.valid_to > at,
            or_(ContractRow.ends_at.is_(None), ContractRow.ends_at > at),
        )
        .order_by(ContractRow.id)
    )
    return [(row, level, tid) for row, level, tid in (await session.execute(statement)).all()]


async def contracts_due_to_close(session: AsyncSession, now: datetime) -> list[ContractRow]:
    """Live contracts past their end (`valid_to`) or their termination time (`ends_at`)."""
    statement = (
        select(ContractRow)
        .where(
            ContractRow.status.in_(LIVE_STATUSES),
            or_(ContractRow.valid_to <= now, ContractRow.ends_at <= now),
        )
        .order_by(ContractRow.id)
        .limit(500)
    )
    return list((await session.execute(_locked(statement, True))).scalars().all())


async def contract_pk(session: AsyncSession, fo_party_id: str, fsc_id: str) -> int | None:
    """The primary key of an FO's contract `fsc_id` (None: it has none by that id)."""
    statement = select(ContractRow.id).where(
        ContractRow.fo_party_id == fo_party_id, ContractRow.fsc_id == fsc_id
    )
    return (await session.execute(statement)).scalar_one_or_none()
