"""Group read: the credential look-ups of concurrent FS accepts in one statement (PostgreSQL).

Every FS accept first reads its credential, with its enrolment, its party's contracts that
require signed requests, and its stored idempotency key, trying the key's advisory lock on the
way (`credentials.CREDENTIAL_WITH_KEY`): one round trip, outside any transaction. Under load that
round trip was the largest cost of the accept (its send and receive, on loopback mostly kernel
work charged to the server), larger than its share of the group-committed write. So, as the
writes are committed in groups (`group_commit.py`), the reads are read in groups: a request
hands its token hash and key (`find`) and waits; one reader task takes every look-up waiting
and answers them all with one statement over arrays (`unnest ... WITH ORDINALITY`), then the
next group. Nothing waits for a timer: under light load a group is one look-up.

The answers are those of `CREDENTIAL_WITH_KEY`, row for row: each look-up is its own row of
the statement (a token hash asked twice is two rows), and each statement is its own snapshot,
as each look-up was. The advisory lock is tried and released within the statement, as before;
two look-ups of one group with the same key both get it (the lock is the same session's), and
the unique key row of the write decides between them, as it decides between two groups.

A failure of the database fails the group: every look-up in it gets the error (503 at the API).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Text, and_, bindparam, func, literal_column, select, true
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncEngine

from fcsbe.server.storage.fast.batching import Batcher
from fcsbe.server.storage.fast.credentials import CREDENTIAL_QUERY, SIGNED_CONTRACTS
from fcsbe.server.storage.fast.driver import PgStatement
from fcsbe.server.storage.fast.keys import KEY_COLUMNS_READ, LOCK_PREFIX, LOCK_SEPARATOR
from fcsbe.server.storage.idempotency import IdempotencyKeyRow
from fcsbe.server.storage.parties import CredentialRow, EnrolmentRow

__all__ = ["CREDENTIALS_WITH_KEYS", "CredentialReads"]

MAX_GROUP = 512
"""Look-ups per statement at most."""

_ASKED = (
    func.unnest(bindparam("token_hashes", type_=ARRAY(Text)), bindparam("keys", type_=ARRAY(Text)))
    .table_valued("token_hash", "key", with_ordinality="position")
    .render_derived(name="asked")
)
_LOCK = func.pg_try_advisory_xact_lock(
    func.hashtextextended(
        bindparam("lock_prefix", type_=Text)
        + CredentialRow.party_id
        + bindparam("lock_separator", type_=Text)
        + _ASKED.c.key,
        0,
    )
)
_ONE = (
    select(
        *CREDENTIAL_QUERY.selected_columns,
        literal_column(SIGNED_CONTRACTS.text).label("signed_fsc_ids"),
        _LOCK,
        *KEY_COLUMNS_READ,
    )
    .select_from(CredentialRow)
    .outerjoin(EnrolmentRow, EnrolmentRow.enrolment_id == CredentialRow.enrolment_id)
    .outerjoin(
        IdempotencyKeyRow,
        and_(
            IdempotencyKeyRow.party_id == CredentialRow.party_id,
            IdempotencyKeyRow.key == _ASKED.c.key,
        ),
    )
    .where(CredentialRow.token_hash == _ASKED.c.token_hash)
    .lateral("found")
)
"""One look-up, as `CREDENTIAL_WITH_KEY` makes it, for the pair of `_ASKED` beside it: a
lateral subquery, so that each pair is found through the indexes whatever the planner
believes of the tables' sizes (a join over the array could scan every stored key)."""
CREDENTIALS_WITH_KEYS = PgStatement(
    select(_ASKED.c.position, _ONE).select_from(_ASKED.join(_ONE, true()))
)
"""`CREDENTIAL_WITH_KEY` for many (token hash, key) pairs: each row starts with the 1-based
position of its pair; a pair whose token is unknown has no row."""


@dataclass(slots=True)
class _Asked:
    token_hash: str
    key: str
    future: asyncio.Future[Sequence[Any] | None]


class CredentialReads(Batcher[_Asked]):
    """The process's reader of grouped credential look-ups (see the module docstring)."""

    def __init__(self, engine: AsyncEngine, *, max_group: int = MAX_GROUP) -> None:
        super().__init__("group read", max_group)
        self._engine = engine
        self.groups = 0
        self.reads = 0

    async def find(self, token_hash: str, key: str) -> Sequence[Any] | None:
        """The row of `CREDENTIAL_WITH_KEY` for this token hash and key (without the position),
        None when the token is unknown."""
        future: asyncio.Future[Sequence[Any] | None] = asyncio.get_running_loop().create_future()
        self._submit(_Asked(token_hash, key, future))
        return await future

    async def _serve(self) -> None:
        group: list[_Asked] = []
        try:
            async with self._engine.connect() as connection:
                # The connection first: look-ups arriving meanwhile join this group.
                fairy = await connection.get_raw_connection()
                group = self._take()
                if not group:
                    return
                rows = await CREDENTIALS_WITH_KEYS.fetch(
                    fairy.driver_connection,
                    {
                        "token_hashes": [a.token_hash for a in group],
                        "keys": [a.key for a in group],
                        "lock_prefix": LOCK_PREFIX,
                        "lock_separator": LOCK_SEPARATOR,
                    },
                )
        except BaseException as exc:  # the database's failure: the whole group fails
            self._fail(group or self._take(), exc)
            return
        self.groups += 1
        self.reads += len(group)
        found = {row[0]: row for row in rows}
        for position, asked in enumerate(group, start=1):
            if not asked.future.done():
                row = found.get(position)
                asked.future.set_result(None if row is None else tuple(row)[1:])
