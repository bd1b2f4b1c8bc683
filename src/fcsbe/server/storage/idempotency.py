"""Table of idempotency keys (IETF httpapi Idempotency-Key semantics), scoped per party."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, LargeBinary, Row, String, bindparam, delete, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from fcsbe.server.storage.base import Base

__all__ = [
    "IdempotencyKeyRow",
    "delete_expired",
    "delete_key",
    "find_key",
    "store_key",
    "try_lock_key",
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


_FIND = select(
    IdempotencyKeyRow.request_hash,
    IdempotencyKeyRow.status,
    IdempotencyKeyRow.response_status,
    IdempotencyKeyRow.response_headers,
    IdempotencyKeyRow.response_body,
    IdempotencyKeyRow.expires_at,
).where(
    IdempotencyKeyRow.party_id == bindparam("party_id"),
    IdempotencyKeyRow.key == bindparam("key"),
)


async def find_key(session: AsyncSession, party_id: str, key: str) -> Row[Any] | None:
    """The stored outcome of a key (a plain row: one indexed query, no ORM state)."""
    return (await session.execute(_FIND, {"party_id": party_id, "key": key})).first()


async def store_key(session: AsyncSession, values: dict[str, Any]) -> None:
    """Store a completed key with its response (in the transaction of the change)."""
    await session.execute(insert(IdempotencyKeyRow), [values])


async def delete_key(session: AsyncSession, party_id: str, key: str) -> None:
    """Forget an expired key so that it can be used again."""
    await session.execute(
        delete(IdempotencyKeyRow).where(
            IdempotencyKeyRow.party_id == party_id, IdempotencyKeyRow.key == key
        )
    )


async def try_lock_key(session: AsyncSession, party_id: str, key: str) -> bool:
    """Take a transaction-scoped lock on the key; False when another request holds it.

    PostgreSQL uses an advisory lock (released at commit). SQLite transactions are already
    serialised by `BEGIN IMMEDIATE`, so the lock is always free there.
    """
    if session.get_bind().dialect.name != "postgresql":
        return True
    locked = await session.scalar(
        text("SELECT pg_try_advisory_xact_lock(hashtextextended(:lock_key, 0))"),
        {"lock_key": f"idempotency\x1f{party_id}\x1f{key}"},
    )
    return bool(locked)


async def delete_expired(session: AsyncSession, now: datetime) -> int:
    """Purge keys past their expiry; returns how many were removed."""
    result = await session.execute(
        delete(IdempotencyKeyRow).where(IdempotencyKeyRow.expires_at <= now)
    )
    return int(getattr(result, "rowcount", 0) or 0)
