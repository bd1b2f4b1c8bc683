"""Table of signature ids (`jti`) already seen, the replay store of signed requests.

A signed request is refused when its `jti` was seen before from the same party. An id only needs
remembering while its `iat` is inside the accepted clock window (after that the request is stale
anyway), so each row expires at `iat + max skew` and a worker step purges expired rows.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String, delete
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from fcsbe.server.storage.base import Base

__all__ = ["SeenJtiRow", "delete_expired_jtis", "remember_jti"]


class SeenJtiRow(Base):
    """One signature id seen from one party, kept until it can no longer be replayed."""

    __tablename__ = "seen_jtis"
    __table_args__ = (Index("ix_seen_jtis_expires_at", "expires_at"),)

    party_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    jti: Mapped[str] = mapped_column(String(128), primary_key=True)
    expires_at: Mapped[datetime]


async def remember_jti(
    session: AsyncSession, party_id: str, jti: str, expires_at: datetime
) -> bool:
    """Record `jti`; False when it was already recorded (a replay).

    `INSERT ... ON CONFLICT DO NOTHING` on both backends: two racing requests with the same id
    cannot both see "new", and the loser does not abort the caller's transaction.
    """
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = (
        insert(SeenJtiRow)
        .values(party_id=party_id, jti=jti, expires_at=expires_at)
        .on_conflict_do_nothing(index_elements=["party_id", "jti"])
    )
    result = await session.execute(statement)
    return int(getattr(result, "rowcount", 0) or 0) == 1


async def delete_expired_jtis(session: AsyncSession, now: datetime) -> int:
    """Forget ids that can no longer be replayed; returns how many were removed."""
    result = await session.execute(delete(SeenJtiRow).where(SeenJtiRow.expires_at <= now))
    return int(getattr(result, "rowcount", 0) or 0)
