"""P11: decisions per second on one replica, one FS per transaction against batches, and with
several deciders on one PostgreSQL.

Seeds a fresh migrated database (an FO, a contract, 20 sites of 2 EVSEs) with N RECEIVED FS
(each on one site, windows spread over the day so that most are accepted), then runs the
decision step until nothing is left: once with one FS per transaction (the step before batches)
and once with `DECISION_BATCH` per transaction. The deciders run in this process, each with an
engine of its own, as replicas would (they contend on the same rows and locks; the CPU of one
process is shared, so several deciders show contention, not a bigger machine's gain). Every SQL
statement the deciders send is counted (`before_cursor_execute`), so each run also says how many
statements one decision costs: on one core and a local database, round trips, not SQL, bound
the rate.

    .venv/bin/python -m bench.bench_decisions --backend sqlite --backend postgresql
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from tests.support.factories import make_fo
from tests.support.fs_fixtures import make_contract, make_site, request_body

from bench.bench_accept import database, postgres_reachable
from bench.report import BenchFigure
from fcsbe.model import FlexibilityServiceRequest
from fcsbe.server.security.keys import ServerKeys
from fcsbe.server.services.event_log.log import event_values
from fcsbe.server.services.flexibility_services.decision_batch import DECISION_BATCH, decide_pending
from fcsbe.server.settings import Settings
from fcsbe.server.storage.base import utcnow
from fcsbe.server.storage.engine import create_engine, create_session_factory
from fcsbe.server.storage.fast.accept_many import insert_received_many

SITES = 20


async def _seed(factory: async_sessionmaker[AsyncSession]) -> None:
    await make_fo(factory, "FO-A")
    for n in range(SITES):
        await make_site(factory, f"s{n}", evses=2)
    await make_contract(
        factory, "FO-A", targets=[("SITE", f"s{n}") for n in range(SITES)], max_activations=10_000
    )


async def _receive(factory: async_sessionmaker[AsyncSession], prefix: str, count: int) -> None:
    """`count` RECEIVED FS, as the accept writes them."""
    now = utcnow()
    accepts: list[tuple[dict[str, Any], dict[str, Any], dict[str, Any] | None]] = []
    for n in range(count):
        body = request_body(
            f"{prefix}-{n}",
            targets=[("SITE", f"s{n % SITES}")],
            p_w=5_000.0,
            start_in=timedelta(hours=1, minutes=15 * (n // SITES)),
            duration=timedelta(minutes=15),
            now=now,
        )
        request = FlexibilityServiceRequest.model_validate(body)
        values: dict[str, Any] = {
            "fo_party_id": "FO-A",
            "fs_id": request.fs_id,
            "fsc_id": request.fsc_id,
            "fs_type": request.fs_type.value,
            "window_start": request.window.start,
            "window_end": request.window.end,
            "response_deadline": now + timedelta(hours=1),
            "request": request.model_dump(mode="json"),
            "correlation_id": None,
            "created_at": now,
        }
        event = event_values(
            type="FS_RECEIVED",
            object_ref=f"fs/{request.fs_id}/1",
            summary="bench",
            party_id="FO-A",
            fs_id=request.fs_id,
            payload=values["request"],
        )
        accepts.append((values, event, None))
    async with factory() as session:
        await insert_received_many(session, accepts)
        await session.commit()


@dataclass(frozen=True, slots=True)
class Run:
    """What one run of the deciders measured."""

    per_second: float
    statements_per_fs: float
    cpu_us_per_fs: float
    """CPU of this process per decision (the deciders, and on SQLite the database's work too):
    steadier than the rate on a shared machine."""


async def _decide(url: str, keys: ServerKeys, batch: int) -> tuple[int, int]:
    """(FS decided, SQL statements sent) by one decider until nothing is left."""
    engine = create_engine(Settings(database_url=url, db_pool_size=2))
    factory = create_session_factory(engine)
    statements = 0

    def count(*_: object) -> None:
        nonlocal statements
        statements += 1

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    decided = 0
    try:
        while True:
            async with factory() as session:
                n = await decide_pending(session, utcnow(), keys.sign, limit=batch)
                await session.commit()
            if n == 0:
                return decided, statements
            decided += n
    finally:
        await engine.dispose()


def rate(backend: str, count: int, batch: int, deciders: int) -> float:
    """Decisions per second of `deciders` concurrent deciders with `batch` FS per transaction."""
    return measure(backend, count, batch, deciders).per_second


def measure(backend: str, count: int, batch: int, deciders: int) -> Run:
    """Decisions per second and SQL statements per decision of `deciders` concurrent deciders
    with `batch` FS per transaction."""

    async def run(url: str) -> Run:
        engine = create_engine(Settings(database_url=url))
        factory = create_session_factory(engine)
        try:
            await _seed(factory)
            await _receive(factory, "fs", count)
        finally:
            await engine.dispose()
        with tempfile.TemporaryDirectory() as folder:
            keys = ServerKeys.load_or_create(Path(folder))
            started, cpu = time.perf_counter(), time.process_time()
            done = await asyncio.gather(*(_decide(url, keys, batch) for _ in range(deciders)))
            elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        assert sum(n for n, _ in done) == count, (done, count)
        return Run(count / elapsed, sum(s for _, s in done) / count, cpu / count * 1e6)

    with database(backend) as url:
        return asyncio.run(run(url))


def run_for_report(count: int = 300) -> list[BenchFigure]:
    """Decisions/s on each backend, single against batches, and 2-3 deciders on PostgreSQL."""
    backends = ["sqlite", "postgresql"] if postgres_reachable() else ["sqlite"]
    figures = []
    for backend in backends:
        single = measure(backend, count, 1, 1)
        batched = measure(backend, count, DECISION_BATCH, 1)
        figures.append(
            BenchFigure(
                "P11",
                f"decisions on {backend}, one decider, {DECISION_BATCH} FS per transaction",
                batched.per_second,
                "FS/s",
                ">= 200 FS/s",
                batched.per_second >= 200,
                single.per_second,
                "one FS per transaction",
            )
        )
        figures.append(
            BenchFigure(
                "P11",
                f"decider CPU per decision on {backend}, {DECISION_BATCH} FS per transaction "
                "(the rate a dedicated core would reach: 1 s / this)",
                batched.cpu_us_per_fs,
                "µs",
                "informative: steadier than rates on a loaded machine",
                None,
                single.cpu_us_per_fs,
                "one FS per transaction",
            )
        )
        figures.append(
            BenchFigure(
                "P11",
                f"SQL statements per decision on {backend}, {DECISION_BATCH} FS per transaction",
                batched.statements_per_fs,
                "statements",
                "informative",
                None,
                single.statements_per_fs,
                "one FS per transaction",
            )
        )
    if "postgresql" in backends:
        for deciders in (2, 3):
            several = rate("postgresql", count, DECISION_BATCH, deciders)
            figures.append(
                BenchFigure(
                    "P11",
                    f"decisions on postgresql, {deciders} deciders, batches",
                    several,
                    "FS/s",
                    "informative",
                    None,
                )
            )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", action="append", choices=["sqlite", "postgresql"])
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--deciders", type=int, action="append")
    args = parser.parse_args()
    print(
        "| backend | deciders | FS per transaction | decisions/s | SQL statements per FS "
        "| CPU µs per FS |"
    )
    print("|---|---|---|---|---|---|")
    for backend in args.backend or ["sqlite", "postgresql"]:
        for deciders in args.deciders or [1]:
            for batch in (1, DECISION_BATCH):
                figure = measure(backend, args.count, batch, deciders)
                print(
                    f"| {backend} | {deciders} | {batch} | {figure.per_second:,.0f} "
                    f"| {figure.statements_per_fs:.1f} | {figure.cpu_us_per_fs:,.0f} |"
                )


if __name__ == "__main__":
    main()
