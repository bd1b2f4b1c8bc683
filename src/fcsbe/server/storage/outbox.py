"""Table of the transactional outbox: notifications written with the change that caused them.

The delivery worker claims due rows with a lease; the same rows serve the replayable feed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from fcsbe.server.storage.base import Base

__all__ = ["OutboxRow"]


class OutboxRow(Base):
    """One notification to one FO, with its delivery state."""

    __tablename__ = "outbox"
    __table_args__ = (
        UniqueConstraint("notification_id"),
        Index("ix_outbox_due", "status", "next_attempt_at"),
        Index("ix_outbox_party_seq", "fo_party_id", "id"),
    )

    # The feed's sequence number. INTEGER on SQLite (rowid), BIGINT elsewhere.
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    notification_id: Mapped[str] = mapped_column(String(64))
    fo_party_id: Mapped[str] = mapped_column(String(128))
    type: Mapped[str] = mapped_column(String(32))
    fs_id: Mapped[str | None] = mapped_column(String(128))
    payload: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime]
    lease_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    delivered_at: Mapped[datetime | None]
