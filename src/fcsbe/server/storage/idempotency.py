"""Table of idempotency keys (IETF httpapi Idempotency-Key semantics), scoped per party."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import Index, LargeBinary, String, bindparam, delete, func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from fcsbe.server.storage.base import Base
from fcsbe.server.storage.driver import PgStatement, pg_connection, transaction_memo

__all__ = [
    "LOCK_PREFIX",
    "LOCK_SEPARATOR",
    "IdempotencyKeyRow",
    "delete_expired",
    "delete_key",
    "find_key",
    "lock_name",
    "remember_lock",
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


_PG_FIND = PgStatement(_FIND)
_STORE = insert(IdempotencyKeyRow).values(
    {column.key: bindparam(column.key) for column in IdempotencyKeyRow.__table__.c}
)
_PG_STORE = PgStatement(_STORE)
_PG_LOCK = PgStatement(
    select(func.pg_try_advisory_xact_lock(func.hashtextextended(bindparam("lock_key"), 0)))
)


async def find_key(session: AsyncSession, party_id: str, key: str) -> Any | None:
    """The stored outcome of a key: a plain row with attribute access (one indexed query)."""
    values = {"party_id": party_id, "key": key}
    driver = await pg_connection(session)
    if driver is None:
        return (await (await session.connection()).execute(_FIND, values)).first()
    row = await _PG_FIND.fetchrow(driver, values)
    return _Found(*row) if row is not None else None


class _Found:
    """A stored key as read on the driver connection (the attributes `_FIND` selects)."""

    __slots__ = (
        "expires_at",
        "request_hash",
        "response_body",
        "response_headers",
        "response_status",
        "status",
    )

    def __init__(
        self,
        request_hash: str,
        status: str,
        response_status: int | None,
        response_headers: dict[str, Any] | None,
        response_body: bytes | None,
        expires_at: datetime,
    ) -> None:
        self.request_hash = request_hash
        self.status = status
        self.response_status = response_status
        self.response_headers = response_headers
        self.response_body = response_body
        self.expires_at = expires_at


async def store_key(session: AsyncSession, values: dict[str, Any]) -> None:
    """Store a completed key with its response (in the transaction of the change)."""
    driver = await pg_connection(session)
    if driver is None:
        await (await session.connection()).execute(_STORE, values)
        return
    headers = values.get("response_headers")
    document = {**values, "response_headers": None if headers is None else json.dumps(headers)}
    await _PG_STORE.execute(driver, document)


async def delete_key(session: AsyncSession, party_id: str, key: str) -> None:
    """Forget an expired key so that it can be used again."""
    await session.execute(
        delete(IdempotencyKeyRow).where(
            IdempotencyKeyRow.party_id == party_id, IdempotencyKeyRow.key == key
        )
    )


LOCK_PREFIX = "idempotency\x1f"
LOCK_SEPARATOR = "\x1f"


def lock_name(party_id: str, key: str) -> str:
    """The text whose hash names the key's advisory lock (storage/parties.find_credential
    builds it in SQL from the same parts)."""
    return f"{LOCK_PREFIX}{party_id}{LOCK_SEPARATOR}{key}"


def remember_lock(session: AsyncSession, party_id: str, key: str, locked: bool) -> None:
    """Record that this transaction tried the key's lock (taken early, in a statement run
    anyway), so that `try_lock_key` needs no round trip of its own."""
    transaction_memo(session)[lock_name(party_id, key)] = locked


async def try_lock_key(session: AsyncSession, party_id: str, key: str) -> bool:
    """Take a transaction-scoped lock on the key; False when another request holds it.

    PostgreSQL uses an advisory lock (released at commit). SQLite transactions are already
    serialised by `BEGIN IMMEDIATE`, so the lock is always free there. A lock tried earlier in
    the same transaction (`remember_lock`) answers at once; a commit since forgets it.
    """
    if session.get_bind().dialect.name != "postgresql":
        return True
    tried: bool | None = transaction_memo(session).get(lock_name(party_id, key))
    if tried is not None:
        return tried
    values = {"lock_key": lock_name(party_id, key)}
    driver = await pg_connection(session)
    if driver is None:
        locked = await session.scalar(
            text("SELECT pg_try_advisory_xact_lock(hashtextextended(:lock_key, 0))"), values
        )
        return bool(locked)
    row = await _PG_LOCK.fetchrow(driver, values)
    return bool(row[0]) if row is not None else False


async def delete_expired(session: AsyncSession, now: datetime) -> int:
    """Purge keys past their expiry; returns how many were removed."""
    result = await session.execute(
        delete(IdempotencyKeyRow).where(IdempotencyKeyRow.expires_at <= now)
    )
    return int(getattr(result, "rowcount", 0) or 0)
