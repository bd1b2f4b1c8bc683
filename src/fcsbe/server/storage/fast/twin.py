"""A fast statement and its plain twin: one name, two ways to run it, the same rows.

The plain twin is SQLAlchemy Core on the session's connection, and runs everywhere. The fast
one is the same statement (or one that folds more work into the round trip, on PostgreSQL)
compiled once for asyncpg (`driver.PgStatement`). `Twin.first` and `Twin.run` pick the fast
one when the session has a driver connection for it, so the callers never branch.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Executable

from fcsbe.server.storage.fast.driver import (
    LiteStatement,
    PgStatement,
    lite_connection,
    pg_connection,
)

__all__ = ["Twin"]


class Twin:
    """A statement of the fast path: `plain` (SQLAlchemy Core) and its compiled twin (`fast`,
    the same statement unless given). `json` names the parameters that are JSON documents
    (asyncpg takes them as text, SQLAlchemy as Python values)."""

    __slots__ = ("fast", "json", "lite", "name", "plain")

    def __init__(
        self,
        name: str,
        plain: Executable,
        fast: Executable | None = None,
        *,
        json: Sequence[str] = (),
    ) -> None:
        self.name = name
        self.plain = plain
        self.fast = PgStatement(plain if fast is None else fast)
        self.json = tuple(json)
        self.lite = LiteStatement(plain) if getattr(plain, "is_select", False) else None
        """A query's one-hop form on SQLite (`driver.LiteStatement`); writes stay plain there."""

    def encoded(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """`values` as the driver takes them (JSON documents as text)."""
        document = dict(values)
        for name in self.json:
            if name in document and document[name] is not None:
                document[name] = json.dumps(document[name])
        return document

    async def first(self, session: AsyncSession, values: Mapping[str, Any]) -> Sequence[Any] | None:
        """The first row of the statement (None: none), fast where the session allows."""
        driver = await pg_connection(session)
        if driver is None:
            lite = await lite_connection(session) if self.lite is not None else None
            if lite is not None and self.lite is not None:
                return await self.lite.fetchrow(lite, values)
            result = await (await session.connection()).execute(self.plain, dict(values))
            row = result.first()
            return None if row is None else tuple(row)
        return await self.fast.fetchrow(driver, self.encoded(values))

    async def run(self, session: AsyncSession, values: Mapping[str, Any]) -> None:
        """Run the statement, ignoring any rows."""
        driver = await pg_connection(session)
        if driver is None:
            await (await session.connection()).execute(self.plain, dict(values))
            return
        await self.fast.execute(driver, self.encoded(values))
