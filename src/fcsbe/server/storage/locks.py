"""Advisory locks: one replica at a time for a step that must not run twice at once."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

__all__ = ["advisory_lock", "try_advisory_lock"]


async def try_advisory_lock(session: AsyncSession, lock_id: int) -> bool:
    """Take a transaction-scoped advisory lock if it is free (PostgreSQL); True on other
    backends, whose single writer already serialises."""
    if session.get_bind().dialect.name != "postgresql":
        return True
    taken = await session.scalar(text("SELECT pg_try_advisory_xact_lock(:id)"), {"id": lock_id})
    return bool(taken)


async def advisory_lock(session: AsyncSession, lock_id: int) -> None:
    """Wait for a transaction-scoped advisory lock (PostgreSQL); nothing on other backends,
    whose single writer already serialises. For steps that must run, one after the other."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": lock_id})
