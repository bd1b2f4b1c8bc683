"""Tables of flexibility service contracts (FSC), their revisions and their scope of targets.

`contract_targets` exists so that contract-holder discovery (UC 3.5) and the FS decision can
find the contracts covering a target with an index, not by scanning JSON.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from fcsbe.server.storage.base import Base

__all__ = ["ContractRevisionRow", "ContractRow", "ContractTargetRow"]


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
