"""Group commit: the write sets of many requests in one transaction, one durable commit.

A durable commit costs the same flush to disk for one row as for a hundred. On SQLite with
`synchronous=FULL` a disk does a few hundred flushes per second, so one transaction per accept
caps the accept rate at that; on PostgreSQL each commit is also a round trip and a WAL flush
the server process waits for. `GroupCommit` runs one writer task per process: a request hands
its write set (`run(write)`, an async function of a session) and waits; the writer takes every
write set waiting, runs them in one transaction, commits once, and only then answers each
request with its result. So:

- durability is unchanged: a request is answered only after the commit that holds its rows;
- nothing waits for a timer: while one batch commits, the next one gathers, so under light
  load a batch is one write set (latency as before) and under heavy load the batch grows with
  the queue. The price is at most one batch window of added latency (the commit in flight);
- one request's bad row fails only that request: a write set that raises an error of its own
  (a constraint violation, a refused value, a domain error) is answered with that error and
  the batch runs again without it, each write set under a savepoint of its own, so the others
  still commit. A failure of the database itself (connection lost, outage) fails the batch,
  and every request in it is answered with that error (503 at the API) - none was committed;
- a batch that is one statement (accepts only, on PostgreSQL: `run(one_statement=True)`) runs
  as that statement alone, which is atomic and durable by itself: no BEGIN and COMMIT round
  trips. Should it fail on a row of its own, the write sets run one by one as above;
- on an SQLite file, a batch of write sets of one kind that can say their statements
  (`run(lite_bulk=...)`, accepts) is written by the `LiteWriter` in one hop to its thread,
  BEGIN and COMMIT included, while the writer holds the engine's only connection; should one
  of its rows be refused, the write sets run one by one as above;
- write sets of one batch run in a fixed order (`order`, e.g. party and fs_id), so two
  replicas committing overlapping batches take their row locks in the same order.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy.exc import DataError, DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from fcsbe.server.storage.fast.batching import Batcher
from fcsbe.server.storage.fast.driver import statement_is_transaction
from fcsbe.server.storage.fast.lite_write import LiteStatements, LiteWriter

__all__ = ["Bulk", "GroupCommit", "LiteBulk", "Write"]


T = TypeVar("T")
Write = Callable[[AsyncSession], Awaitable[Any]]
"""A write set: statements run on the batch's session (never committing it)."""
Bulk = Callable[[AsyncSession, list[Any]], Awaitable[None]]
"""The write sets of one kind together: `bulk(session, items)` writes every item's rows in as
few statements as it can (multi-row statements); equivalent to each item's own write."""
LiteBulk = Callable[[list[Any]], LiteStatements]
"""The same on SQLite, as statements and parameter rows for the `LiteWriter`."""

MAX_BATCH = 512
"""Write sets per transaction at most: bounds the transaction (and a retry after a bad row)."""


@dataclass(slots=True)
class _Pending:
    write: Write
    order: tuple[str, ...]
    future: asyncio.Future[Any]
    bulk: Bulk | None = None
    item: Any = None
    one_statement: bool = False
    lite_bulk: LiteBulk | None = None
    failure: BaseException | None = field(default=None)
    result: Any = None


def _is_its_own(exc: BaseException) -> bool:
    """Whether `exc` is the write set's own fault (its row or its logic), not the database's."""
    if isinstance(exc, IntegrityError | DataError):
        return True
    if isinstance(exc, DBAPIError | PoolTimeoutError | ConnectionError | TimeoutError):
        return False
    return isinstance(exc, Exception)


class GroupCommit(Batcher[_Pending]):
    """The process's writer of batched write sets (see the module docstring).

    `batches` and `writes` count what was committed (a benchmark reads the mean batch size).
    """

    def __init__(
        self,
        factory: async_sessionmaker[AsyncSession],
        *,
        max_batch: int = MAX_BATCH,
        lite: tuple[AsyncEngine, LiteWriter] | None = None,
    ) -> None:
        """`lite`: on an SQLite file, the engine (its one pooled connection) and the writer of
        batches whose write sets say their statements (`run(lite_bulk=...)`)."""
        super().__init__("group commit", max_batch)
        self._factory = factory
        self._lite = lite
        self.batches = 0
        self.writes = 0

    async def run(
        self,
        write: Callable[[AsyncSession], Awaitable[T]],
        order: tuple[str, ...] = (),
        *,
        bulk: Bulk | None = None,
        item: Any = None,
        one_statement: bool = False,
        lite_bulk: LiteBulk | None = None,
    ) -> T:
        """Run `write` in the next batch's transaction; its result once that batch committed.

        With `bulk`, the batch's write sets of the same `bulk` are written together by one
        call `bulk(session, [item, ...])` (their result is None); `write` is still what runs
        when the batch is run again, write set by write set, after one of them failed.

        `one_statement`: `write`, and `bulk` for any number of items, is one statement on
        PostgreSQL; a batch of such write sets of one kind then runs as that statement alone,
        atomic and durable without a transaction of its own (no BEGIN, no COMMIT round trip).

        `lite_bulk`: the SQLite form of `bulk`, the statements writing the items; a batch of
        write sets of one such kind is written by the `LiteWriter` in one hop.

        Raises what `write` raised (its own error: the others of the batch still commit), or the
        database's error when the batch as a whole could not commit.
        """
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._submit(_Pending(write, order, future, bulk, item, one_statement, lite_bulk))
        return await future

    async def _serve(self) -> None:
        batch: list[_Pending] = []
        try:
            if self._lite is not None:
                await self._serve_lite(*self._lite, batch)
            else:
                async with self._factory() as session:
                    # The connection first (SQLite has one, requests' reads use it too): the
                    # write sets that arrive while the writer waits for it join this batch.
                    await session.connection()
                    batch = self._take()
                    if batch:
                        await self._commit(session, batch)
        except BaseException as exc:  # the database's failure: nobody's rows committed
            self._fail(batch or self._take(), exc)
            return
        if not batch:
            return
        self.batches += 1
        for pending in batch:
            if pending.future.done():
                continue
            if pending.failure is not None:
                pending.future.set_exception(pending.failure)
            else:
                self.writes += 1
                pending.future.set_result(pending.result)

    async def _serve_lite(
        self, engine: AsyncEngine, writer: LiteWriter, batch: list[_Pending]
    ) -> None:
        """A batch on an SQLite file (taken into `batch`): by the `LiteWriter` when it can,
        else on a session."""
        # The engine's one connection, held while the batch is written: no other writer of
        # the process waits on SQLite's lock meanwhile. Taken without a transaction, so that
        # giving it back costs no hop (storage/engine.py skips the reset of an idle one).
        async with engine.connect() as connection:
            batch += self._take()
            if not batch:
                return
            kinds = {pending.lite_bulk for pending in batch}
            lite_bulk = next(iter(kinds))
            first_pass = True
            if len(kinds) == 1 and lite_bulk is not None:
                try:
                    await writer.write(lite_bulk([pending.item for pending in batch]))
                    return
                except Exception as exc:
                    if not _is_its_own(exc):
                        raise
                first_pass = False  # a row was refused: find whose, write set by write set
            async with self._factory(bind=connection) as session:
                await self._commit(session, batch, first_pass=first_pass)

    def _take(self) -> list[_Pending]:
        """The next batch, in the write sets' fixed order."""
        return sorted(super()._take(), key=lambda p: p.order)

    async def _commit(
        self, session: AsyncSession, batch: list[_Pending], *, first_pass: bool = True
    ) -> None:
        """Run the batch in one transaction and commit it. First without savepoints (the
        usual case costs nothing more); when a write set fails on its own, that one is set
        aside and the rest runs again, each under a savepoint. Without `first_pass` (it
        failed already), one by one at once."""
        if first_pass:
            kinds = {pending.bulk for pending in batch}
            if all(p.one_statement for p in batch) and len(kinds) == 1 and None not in kinds:
                statement_is_transaction(session)
            try:
                if await self._first_pass(session, batch):
                    await session.commit()
                    return
            except BaseException:
                await session.rollback()
                raise
            await session.rollback()
            statement_is_transaction(session, alone=False)  # one by one, under savepoints
        for pending in batch:
            if pending.failure is not None:
                continue
            try:
                async with session.begin_nested():
                    # SQLAlchemy emits the SAVEPOINT when the connection is next asked for,
                    # and a fast statement may not ask (storage/fast/driver.py).
                    await session.connection()
                    pending.result = await pending.write(session)
            except Exception as exc:
                if not _is_its_own(exc):
                    await session.rollback()
                    raise
                pending.failure = exc
        await session.commit()

    @staticmethod
    async def _first_pass(session: AsyncSession, batch: list[_Pending]) -> bool:
        """Run the batch without savepoints, bulk write sets together (a kind with one write set
        in the batch runs its own write: the single-row statement is the cheaper one); False
        when a write set failed on its own (marked when known: a bulk call does not say which
        of its items)."""
        bulks: dict[Bulk, list[_Pending]] = {}
        for pending in batch:
            if pending.bulk is not None:
                bulks.setdefault(pending.bulk, []).append(pending)
        lone = {id(members[0]) for members in bulks.values() if len(members) == 1}
        bulks = {bulk: members for bulk, members in bulks.items() if len(members) > 1}
        for pending in batch:
            if pending.bulk is not None and id(pending) not in lone:
                continue  # written below with the others of its kind
            try:
                pending.result = await pending.write(session)
            except Exception as exc:
                if not _is_its_own(exc):
                    raise
                pending.failure = exc
                return False
        for bulk, members in bulks.items():
            try:
                await bulk(session, [p.item for p in members])
            except Exception as exc:
                if not _is_its_own(exc):
                    raise
                return False
        return True
