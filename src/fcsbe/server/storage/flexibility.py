"""Tables of flexibility services (FS), their targets and their lifecycle transitions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from fcsbe.server.storage.base import Base

__all__ = ["FlexibilityServiceRow", "FsTargetRow", "FsTransitionRow"]


class FlexibilityServiceRow(Base):
    """One FS (current revision) with the request and the decision as documents."""

    __tablename__ = "flexibility_services"
    __table_args__ = (
        UniqueConstraint("fo_party_id", "fs_id"),
        Index("ix_flexibility_services_state", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    fo_party_id: Mapped[str] = mapped_column(ForeignKey("parties.party_id"))
    fs_id: Mapped[str] = mapped_column(String(128))
    revision: Mapped[int]
    contract_id: Mapped[int | None] = mapped_column(ForeignKey("contracts.id"))
    fs_type: Mapped[str] = mapped_column(String(24))
    state: Mapped[str] = mapped_column(String(24))
    window_start: Mapped[datetime]
    window_end: Mapped[datetime]
    response_deadline: Mapped[datetime]
    committed_w: Mapped[float | None]
    request: Mapped[dict[str, Any]]
    response: Mapped[dict[str, Any] | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class FsTargetRow(Base):
    """One target of an FS with the power committed to it (for conflict and capacity checks)."""

    __tablename__ = "fs_targets"
    __table_args__ = (Index("ix_fs_targets_target_id", "target_id"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    fs_pk: Mapped[int] = mapped_column(ForeignKey("flexibility_services.id", ondelete="CASCADE"))
    level: Mapped[str] = mapped_column(String(16))
    target_id: Mapped[str] = mapped_column(String(128))
    committed_w: Mapped[float | None]


class FsTransitionRow(Base):
    """A lifecycle transition of an FS, kept forever with its time and reason."""

    __tablename__ = "fs_transitions"
    __table_args__ = (Index("ix_fs_transitions_fs_pk", "fs_pk"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    fs_pk: Mapped[int] = mapped_column(ForeignKey("flexibility_services.id", ondelete="CASCADE"))
    revision: Mapped[int]
    from_state: Mapped[str | None] = mapped_column(String(24))
    to_state: Mapped[str] = mapped_column(String(24))
    at: Mapped[datetime]
    reason: Mapped[str | None] = mapped_column(String(500))
