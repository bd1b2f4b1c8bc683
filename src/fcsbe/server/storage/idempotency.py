"""Table of idempotency keys (IETF httpapi Idempotency-Key semantics), scoped per party."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, LargeBinary, String, delete
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from fcsbe.server.storage.base import Base

__all__ = [
    "IdempotencyKeyRow",
    "delete_expired",
    "delete_key",
]


class IdempotencyKeyRow(Base):
    """The stored outcome of one keyed request, replayed byte for byte on a retry."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (Index("ix_idempotency_keys_expires_at", "expires_at"),)

    party_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    method: Mapped[str] = mapped_column(String(8))
    path: Mapped[str] = mapped_column(String(512))
    request_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    response_status: Mapped[int | None]
    response_headers: Mapped[dict[str, Any] | None]
    response_body: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]


async def delete_key(session: AsyncSession, party_id: str, key: str) -> None:
    """Forget an expired key so that it can be used again."""
    await session.execute(
        delete(IdempotencyKeyRow).where(
            IdempotencyKeyRow.party_id == party_id, IdempotencyKeyRow.key == key
        )
    )


async def delete_expired(session: AsyncSession, now: datetime) -> int:
    """Purge keys past their expiry; returns how many were removed."""
    result = await session.execute(
        delete(IdempotencyKeyRow).where(IdempotencyKeyRow.expires_at <= now)
    )
    return int(getattr(result, "rowcount", 0) or 0)
