"""The idempotency keys of the accept path: look-up, storage and the key's lock.

A state-changing request with an `Idempotency-Key` looks its key up before the change and
stores it, with its answer, in the change's transaction (`api/edge/idempotency.py`). On
PostgreSQL the key's advisory lock keeps two requests with one key from both running; it is
tried in a statement run anyway where it can (`credentials.find_credential`), and the key read
with the credential is kept for the request (`prefetch_key`), so that `find_key` needs no
round trip of its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from fcsbe.server.storage.fast.driver import transaction_memo
from fcsbe.server.storage.fast.twin import Twin
from fcsbe.server.storage.idempotency import IdempotencyKeyRow

__all__ = [
    "FIND_KEY",
    "KEY_COLUMNS",
    "KEY_COLUMNS_READ",
    "LOCK_KEY",
    "LOCK_PREFIX",
    "LOCK_SEPARATOR",
    "STORE_KEY",
    "StoredKey",
    "find_key",
    "lock_name",
    "prefetch_key",
    "remember_lock",
    "store_key",
    "try_lock_key",
]

LOCK_PREFIX = "idempotency\x1f"
LOCK_SEPARATOR = "\x1f"
_KEYS = "fcsbe.prefetched_keys"
"""`transaction_memo` key: (party id, key) -> the stored key read with the credential."""


def lock_name(party_id: str, key: str) -> str:
    """The text whose hash names the key's advisory lock (`CREDENTIAL_LOCKING` builds it in SQL
    from the same parts)."""
    return f"{LOCK_PREFIX}{party_id}{LOCK_SEPARATOR}{key}"


KEY_COLUMNS_READ = (  # as `StoredKey` takes them
    IdempotencyKeyRow.request_hash,
    IdempotencyKeyRow.status,
    IdempotencyKeyRow.response_status,
    IdempotencyKeyRow.response_headers,
    IdempotencyKeyRow.response_body,
    IdempotencyKeyRow.expires_at,
)
KEY_COLUMNS = tuple(c.key for c in IdempotencyKeyRow.__table__.c)
"""Every column of a key row, as a write binds them."""

FIND_KEY = Twin(
    "find idempotency key",
    select(*KEY_COLUMNS_READ).where(
        IdempotencyKeyRow.party_id == bindparam("party_id"),
        IdempotencyKeyRow.key == bindparam("key"),
    ),
)
STORE_KEY = Twin(
    "store idempotency key",
    insert(IdempotencyKeyRow).values(
        {column.key: bindparam(column.key) for column in IdempotencyKeyRow.__table__.c}
    ),
    json=("response_headers",),
)
LOCK_KEY = Twin(
    "lock idempotency key",
    text("SELECT pg_try_advisory_xact_lock(hashtextextended(:lock_key, 0))"),
    select(func.pg_try_advisory_xact_lock(func.hashtextextended(bindparam("lock_key"), 0))),
)


@dataclass(slots=True)
class StoredKey:
    """The stored outcome of a key (the columns `KEY_COLUMNS_READ` selects, in its order)."""

    request_hash: str
    status: str
    response_status: int | None
    response_headers: dict[str, Any] | None
    response_body: bytes | None
    expires_at: datetime


async def find_key(session: AsyncSession, party_id: str, key: str) -> StoredKey | None:
    """The stored outcome of a key (one indexed query, or none when the credential query read
    it for this request: `CREDENTIAL_WITH_KEY`; asked again, it is read afresh)."""
    prefetched: dict[tuple[str, str], StoredKey | None] = transaction_memo(session).get(_KEYS, {})
    if (party_id, key) in prefetched:
        return prefetched.pop((party_id, key))
    row = await FIND_KEY.first(session, {"party_id": party_id, "key": key})
    return None if row is None else StoredKey(*row)


async def store_key(session: AsyncSession, values: dict[str, Any]) -> None:
    """Store a completed key with its response (in the transaction of the change)."""
    await STORE_KEY.run(session, values)


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
    row = await LOCK_KEY.first(session, {"lock_key": lock_name(party_id, key)})
    return bool(row[0]) if row is not None else False


def prefetch_key(session: AsyncSession, party_id: str, key: str, stored: StoredKey | None) -> None:
    """Keep the key read with the credential for this request's `find_key`."""
    transaction_memo(session).setdefault(_KEYS, {})[(party_id, key)] = stored
