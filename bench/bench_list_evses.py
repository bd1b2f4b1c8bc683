"""Listing benchmark: 10,000 EVSEs read page by page through the real client and server.

Goal (issue 5): listing 10,000 EVSEs through the API pages takes <= 2 s in total. The server runs
in-process behind `httpx.ASGITransport` (the test setup; add `--database-url` for PostgreSQL),
the registry is the simulator's `large_fleet(10_000)` (5,000 stations of 2 EVSEs) imported the
normal way, and the reads go through `client.charging_stations.list()` with pages of 500
stations: as the operator (no filter) and as an FO whose contract covers every site (the
visibility query in the path). The same-run baseline is the same number of `GET /healthz`
requests through the same client. Figures are printed, never asserted.

    .venv/bin/python -m bench.bench_list_evses [--evses 10000] [--database-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
from tests.support.databases import empty_all
from tests.support.factories import make_contract, make_fo, make_operator

from fcsbe.client import FcsbeClient
from fcsbe.server.adapters.scenario_registry import registry_of
from fcsbe.server.app import create_app
from fcsbe.server.services.registry.registry import import_registry
from fcsbe.server.settings import Settings
from fcsbe.sim.scenarios import large_fleet

GOAL_S = 2.0
PAGE = 500


async def _median_s(action: Callable[[], Awaitable[object]], repeat: int) -> tuple[float, float]:
    """Median wall time and median CPU time of this process (server and client both run in
    it, so CPU time is the cost even when a shared machine stretches the wall time)."""
    walls, cpus = [], []
    for _ in range(repeat):
        c0, t0 = time.process_time(), time.perf_counter()
        await action()
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    return statistics.median(walls), statistics.median(cpus)


async def run(evses: int, database_url: str, data_dir: Path, repeat: int) -> None:
    settings = Settings(
        database_url=database_url,
        auto_migrate=True,
        data_dir=data_dir,
        workers_enabled=False,
        simulator_enabled=False,
        log_level="WARNING",
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        await empty_all(app.state.engine)
        fleet = large_fleet(evses, seed=1)
        document = registry_of(fleet)
        t0 = time.perf_counter()
        async with app.state.session_factory() as session:
            await import_registry(session, document)
            await session.commit()
        import_s = time.perf_counter() - t0
        factory = app.state.session_factory
        operator_token = await make_operator(factory)
        fo_token = await make_fo(factory, "FO-BENCH")
        await make_contract(
            factory, "FO-BENCH", "fsc-all", [("SITE", s.site_id) for s in fleet.sites], level="EVSE"
        )
        transport = httpx.ASGITransport(app=app)
        async with FcsbeClient("http://bench", transport=transport) as client:

            async def listing() -> int:
                pages = client.charging_stations.list(page_size=PAGE).pages()
                return sum([len(e.evses) for p in [p async for p in pages] for e in p.items])

            client.token = operator_token
            assert await listing() == evses
            requests = -(-len(document.charging_stations) // PAGE)

            async def baseline() -> None:
                for _ in range(requests):
                    await client.discovery.health()

            baseline_s = await _median_s(baseline, repeat)
            operator_s = await _median_s(listing, repeat)
            client.token = fo_token
            assert await listing() == evses
            fo_s = await _median_s(listing, repeat)
    rows = [
        (f"baseline: {requests} x GET /healthz", baseline_s, "same-run reference"),
        (f"operator: {evses:,} EVSEs in {requests} pages", operator_s, f"goal <= {GOAL_S} s"),
        (f"FO (contract on all sites): {evses:,} EVSEs", fo_s, f"goal <= {GOAL_S} s"),
    ]
    backend = database_url.split(":", 1)[0]
    print(
        f"listing benchmark on {backend}: {evses:,} EVSEs, {len(fleet.sites)} sites; registry "
        f"imported in {import_s:.2f} s; median of {repeat} runs"
    )
    print(f"{'operation':46} {'wall s':>8} {'cpu s':>8} {'x baseline':>11}  note")
    for name, (wall, cpu), note in rows:
        print(f"{name:46} {wall:8.3f} {cpu:8.3f} {wall / baseline_s[0]:11.1f}  {note}")
    worst = max(operator_s[0], fo_s[0])
    verdict = "meets" if worst <= GOAL_S else "MISSES"
    print(f"listing goal: {worst:.2f} s wall for {evses:,} EVSEs {verdict} the <= {GOAL_S} s goal")


def main() -> None:
    """Parse the options and run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--evses", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = args.database_url or f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}"
        asyncio.run(run(args.evses, url, Path(folder) / "var", args.repeat))


if __name__ == "__main__":
    main()
