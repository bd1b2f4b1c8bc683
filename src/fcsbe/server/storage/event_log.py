"""Table of the append-only, hash-chained event log (one sequence per server)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from fcsbe.server.storage.base import Base

__all__ = ["EventLogRow"]


class EventLogRow(Base):
    """One log entry; `hash` chains it to `prev_hash`. No personal data: pseudonyms only."""

    __tablename__ = "event_log"
    __table_args__ = (
        Index("ix_event_log_party_id", "party_id", "seq"),
        Index("ix_event_log_fs_id", "fs_id"),
    )

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    time: Mapped[datetime]
    source: Mapped[str] = mapped_column(String(64))
    type: Mapped[str] = mapped_column(String(64))
    severity: Mapped[str] = mapped_column(String(16))
    party_id: Mapped[str | None] = mapped_column(String(128))
    fs_id: Mapped[str | None] = mapped_column(String(128))
    object_ref: Mapped[str] = mapped_column(String(256))
    summary: Mapped[str] = mapped_column(String(500))
    payload_digest: Mapped[str] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)
