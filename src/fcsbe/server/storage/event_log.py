"""Table of the append-only, hash-chained event log (one sequence per server).

Appending is a plain INSERT (cheap, no lock on the hot path); a single chainer step later gives
committed entries their gap-free `seq` and their `prev_hash`/`hash`, in insertion order. Entries
without a `seq` are pending and not yet part of the log anyone can read or prove.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, String
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

    # INTEGER on SQLite so that the column is the rowid (autoincrementing), BIGINT elsewhere.
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    seq: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    time: Mapped[datetime]
    source: Mapped[str] = mapped_column(String(64))
    type: Mapped[str] = mapped_column(String(64))
    severity: Mapped[str] = mapped_column(String(16))
    party_id: Mapped[str | None] = mapped_column(String(128))
    fs_id: Mapped[str | None] = mapped_column(String(128))
    object_ref: Mapped[str] = mapped_column(String(256))
    summary: Mapped[str] = mapped_column(String(500))
    payload_digest: Mapped[str] = mapped_column(String(64))
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    hash: Mapped[str | None] = mapped_column(String(64), unique=True)
