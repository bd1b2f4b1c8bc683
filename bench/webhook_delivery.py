"""P4: webhook delivery latency, commit to first attempt, at 500 events/s.

    .venv/bin/python -m bench.webhook_delivery [--backend sqlite|postgresql] [--rate 500]
        [--seconds 10]

Each event is one committed transaction writing one notification (open loop at `--rate`);
the real delivery worker loop (sequencer, leased claim, signed POST) pushes them to a loopback
receiver in another process, which notes arrival times. Latency = arrival - commit. Baseline,
same run, same receiver, same client settings: plain unsigned POSTs sent directly at the rate
the commits actually reached (send -> arrival). Goal: p99 <= 1 s. On a shared, loaded machine
the commit rate may fall short of `--rate`; the achieved rate is printed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import asyncpg
import httpx

from fcsbe.server.notifications.delivery import DeliveryWorker
from fcsbe.server.notifications.outbox import enqueue_notification
from fcsbe.server.notifications.sender import WebhookSender
from fcsbe.server.services.enrolments.webhook_endpoints import register_endpoint
from fcsbe.server.settings import Settings
from fcsbe.server.storage import migrations
from fcsbe.server.storage.base import utcnow
from fcsbe.server.storage.engine import create_engine, create_session_factory
from fcsbe.server.storage.parties import PartyRow

PG_ADMIN_DSN = os.environ.get(
    "FCSBE_BENCH_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _line(label: str, latencies: list[float], expected: int) -> str:
    ms = [v * 1000 for v in latencies]
    return (
        f"{label:34} n={len(ms)}/{expected}  p50={statistics.median(ms):7.1f} ms  "
        f"p99={_percentile(ms, 0.99):7.1f} ms  max={max(ms):7.1f} ms"
    )


async def _open_loop(rate: float, count: int, fire: Callable[[int], Awaitable[None]]) -> float:
    """Start `fire(i)` at `start + i / rate`; returns the achieved start rate."""
    started = time.perf_counter()
    tasks = []
    for index in range(count):
        delay = started + index / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(fire(index)))
    await asyncio.gather(*tasks)
    return count / (time.perf_counter() - started)


async def _arrivals(http: httpx.AsyncClient, base: str) -> dict[str, float]:
    response = await http.get(f"{base}/stats")
    data: dict[str, float] = response.json()
    return data


async def _baseline(base: str, rate: float, count: int) -> list[float]:
    sent: dict[str, float] = {}
    # The same connection settings as the delivery worker's client, so only the outbox differs.
    async with WebhookSender.make_client(30, 64) as http:

        async def fire(index: int) -> None:
            key = f"baseline-{index}"
            sent[key] = time.time()
            await http.post(f"{base}/notifications", content=b"{}", headers={"webhook-id": key})

        await _open_loop(rate, count, fire)
        arrived = await _arrivals(http, base)
    return [arrived[k] - sent[k] for k in sent if k in arrived]


async def _delivery(
    settings: Settings, base: str, rate: float, count: int
) -> tuple[list[float], float]:
    engine = create_engine(settings)
    factory = create_session_factory(engine)
    async with factory() as session:
        session.add(
            PartyRow(
                party_id="FO-BENCH",
                roles=["FO"],
                legal_name="Bench FO",
                country="NL",
                identifiers={},
                jwks={"keys": []},
                created_at=utcnow(),
            )
        )
        await session.flush()
        await register_endpoint(session, "FO-BENCH", base, settings=settings)
        await session.commit()
    http = WebhookSender.make_client(
        settings.notification_timeout_s, settings.notification_concurrency
    )
    worker = DeliveryWorker(
        factory,
        WebhookSender(
            http,
            timeout_s=settings.notification_timeout_s,
            concurrency=settings.notification_concurrency,
            allow_loopback=True,
        ),
        settings,
    )
    stop = asyncio.Event()

    async def loop() -> None:
        while not stop.is_set():
            if await worker.step() == 0:
                await asyncio.sleep(settings.notification_interval_s)

    committed: dict[str, float] = {}
    # A server's request concurrency into the database (SQLite has one writer at a time).
    writers = asyncio.Semaphore(1 if settings.is_sqlite else 4)

    async def fire(index: int) -> None:
        async with writers, factory() as session:
            notification_id = await enqueue_notification(
                session,
                fo_party_id="FO-BENCH",
                type="FS_STATE_CHANGED",
                fs_id=f"fs-{index}",
                data={"revision": 1, "from_state": "SCHEDULED", "to_state": "ACTIVE"},
            )
            await session.commit()
        committed[notification_id] = time.time()

    running = asyncio.gather(*(loop() for _ in range(settings.notification_loops)))
    achieved = await _open_loop(rate, count, fire)
    deadline = time.time() + 30
    async with httpx.AsyncClient() as probe:
        while time.time() < deadline:
            arrived = await _arrivals(probe, base)
            if all(key in arrived for key in committed):
                break
            await asyncio.sleep(0.2)
    stop.set()
    await running
    await http.aclose()
    await engine.dispose()
    return [arrived[k] - committed[k] for k in committed if k in arrived], achieved


async def _database(backend: str, folder: Path) -> tuple[str, Callable[[], Awaitable[None]]]:
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{folder / 'bench.db'}"

        async def nothing() -> None:
            return None

        return url, nothing
    name = f"fcsbe_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(PG_ADMIN_DSN)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    base = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)

    async def drop() -> None:
        connection = await asyncpg.connect(PG_ADMIN_DSN)
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await connection.close()

    return f"{base}/{name}", drop


async def main(backend: str, rate: float, seconds: float) -> None:
    count = int(rate * seconds)
    port = _free_port()
    receiver = await asyncio.create_subprocess_exec(
        *[
            sys.executable,
            "-m",
            "uvicorn",
            "bench.webhook_receiver:app",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
    )
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as folder:
        url, drop = await _database(backend, Path(folder))
        try:
            await asyncio.to_thread(migrations.upgrade, url)
            async with httpx.AsyncClient() as probe:
                for _ in range(600):
                    try:
                        await probe.get(f"{base}/stats")
                        break
                    except httpx.TransportError:
                        await asyncio.sleep(0.05)
                else:
                    raise SystemExit("the receiver did not start")
            settings = Settings(
                database_url=url,
                webhook_allow_loopback=True,
                webhook_require_https=False,
                log_level="WARNING",
                data_dir=Path(folder) / "var",
                sqlite_busy_timeout_ms=30_000,
            )
            latencies, achieved = await _delivery(settings, base, rate, count)
            # Same receiver, same load: the baseline sends at the rate the commits reached.
            baseline = await _baseline(base, achieved, count)
        finally:
            receiver.terminate()
            await receiver.wait()
            await drop()
    print(
        f"P4 webhook delivery on {backend}: {count} events at {rate:.0f}/s for {seconds:.0f} s "
        f"(achieved commit rate {achieved:.0f}/s)"
    )
    print(_line(f"baseline: plain POST at {achieved:.0f}/s", baseline, count))
    print(_line("outbox: commit->first attempt", latencies, count))
    ratio = _percentile(latencies, 0.99) / max(_percentile(baseline, 0.99), 1e-9)
    verdict = "meets" if _percentile(latencies, 0.99) <= 1.0 else "MISSES"
    print(f"p99 ratio to baseline: {ratio:.1f}x; goal p99 <= 1000 ms: {verdict}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--rate", type=float, default=500.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    asyncio.run(main(args.backend, args.rate, args.seconds))
