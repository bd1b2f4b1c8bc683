"""P8-P10: the OCPP endpoint under many stations, against a bare `ocpp`-library CSMS, same run.

Both CSMS run as child processes (the server as `fcsbe serve` with `FCSBE_STATION_ADAPTER=ocpp`,
the baseline as `bench/bench_ocpp_stations.py --bare-csms`); the stations are `FakeStation`s in
this process (pre-rendered frames, so the load generator is not what is measured). CPU is the
child's own user+system time from /proc, steadier than rates on a shared machine.

- P8: N stations connected at once: the CSMS's resident memory per connection, and its CPU per
  Heartbeat (N heartbeats spread over a few seconds, minus the idle CPU of as long a pause).
- P9: MeterValues and TransactionEvent ingestion (closed loop, one call in flight per station,
  as OCPP-J allows): rate against the baseline's (goal >= 50 %).
- P10 (bare side): SetChargingProfile fan-out to N stations: p99 from the trigger to each
  station's receipt, and CSMS CPU per station.

    .venv/bin/python -m bench.bench_ocpp [--stations 1000] [--seconds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from bench.bench_accept import free_port, process_cpu_s
from bench.bench_ocpp_stations import (
    FakeStation,
    connect_many,
    meter_values_frame,
    transaction_frame,
)
from bench.report import BenchFigure

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PASSWORD = "bench-station-password-01"


@dataclass
class Target:
    """A CSMS under test: where stations connect, its process, their passwords."""

    name: str
    url: str
    pid: int
    passwords: dict[str, str] | None = None
    extra: dict[str, object] = field(default_factory=dict)


def raise_fd_limit(wanted: int) -> int:
    """Raise this process's open-file limit towards `wanted` (children inherit it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = min(hard, max(soft, wanted))
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def rss_kib(pid: int) -> int:
    """Resident memory of `pid` (KiB, Linux)."""
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def _wait_port(port: int, process: subprocess.Popen[bytes], seconds: float = 120) -> None:
    import socket

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"child exited with {process.returncode}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listens on {port}")


@contextmanager
def bare_csms() -> Iterator[Target]:
    """The baseline: the `ocpp` library's ChargePoint that only answers."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.bench_ocpp_stations", "--bare-csms", str(port)],
        cwd=ROOT,
    )
    try:
        _wait_port(port, process)
        yield Target("bare ocpp CSMS", f"ws://127.0.0.1:{port}/ocpp", process.pid)
    finally:
        process.terminate()
        process.wait(timeout=10)


@contextmanager
def fcsbe_server(stations: int) -> Iterator[Target]:
    """`fcsbe serve` with the OCPP adapter; the registry is the `large` scenario with one
    station per two EVSEs, and every station has the same password (one scrypt hash stored for
    all: issuing 10,000 hashes would take minutes of CPU and measure nothing of the endpoint)."""
    port = free_port()
    with tempfile.TemporaryDirectory() as folder:
        env = {
            "FCSBE_DATABASE_URL": f"sqlite+aiosqlite:///{folder}/fcsbe.db",
            "FCSBE_DATA_DIR": f"{folder}/var",
            "FCSBE_STATION_ADAPTER": "ocpp",
            "FCSBE_LOG_LEVEL": "WARNING",
            "FCSBE_STATION_SYNC_INTERVAL_S": "1",
            "FCSBE_OCPP_CALL_TIMEOUT_S": "60",
        }
        token = provision(env["FCSBE_DATABASE_URL"], stations, PASSWORD)
        process = subprocess.Popen(
            [sys.executable, "-m", "fcsbe.cli", "serve", "--port", str(port)],
            cwd=folder,
            env={**os.environ, **env},
        )
        try:
            _wait_port(port, process, 300)
            passwords = dict.fromkeys(station_ids(stations), PASSWORD)
            url = f"ws://127.0.0.1:{port}/ocpp"
            extra: dict[str, object] = {"http": f"http://127.0.0.1:{port}", "token": token}
            yield Target("fcsbe OCPP endpoint", url, process.pid, passwords, extra)
        finally:
            process.terminate()
            process.wait(timeout=30)


def provision(database_url: str, stations: int, password: str) -> str:
    """A migrated database with the registry of `large` (two EVSEs per station), the same
    password hash stored for every station, and an aggregator `FO-A` with a contract on every
    site; returns the aggregator's token."""
    from tests.support.factories import make_fo
    from tests.support.fs_fixtures import make_contract

    from fcsbe.server.adapters.scenario_registry import registry_of, scenario_fleet
    from fcsbe.server.security.station_passwords import hash_password
    from fcsbe.server.services.registry.registry import import_registry
    from fcsbe.server.storage import migrations
    from fcsbe.server.storage.base import utcnow
    from fcsbe.server.storage.ocpp_stations import set_credential

    migrations.upgrade(database_url)
    hashed = hash_password(password)
    fleet = scenario_fleet("large", size=2 * stations)

    async def work() -> str:
        from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

        engine = create_async_engine(database_url)
        factory = async_sessionmaker(engine)
        async with factory() as db:
            await import_registry(db, registry_of(fleet))
            now = utcnow()
            for cs_id in station_ids(stations):
                await set_credential(db, cs_id, hashed, now)
            await db.commit()
        token = await make_fo(factory, "FO-A")
        await make_contract(factory, "FO-A", targets=[("SITE", s.site_id) for s in fleet.sites])
        await engine.dispose()
        return token

    return asyncio.run(work())


# -- measurements --------------------------------------------------------------------------------


@dataclass
class Connections:
    stations: int
    connect_s: float
    rss_per_connection_kib: float
    heartbeat_cpu_us: float
    handshake_cpu_ms: float


async def measure_connections(
    target: Target, n: int, station_ids: list[str], concurrency: int = 200
) -> Connections:
    """P8: connect `n` stations, memory per connection and CPU per heartbeat."""
    # A first tenth connects before memory is measured: the server's first handshakes grow its
    # heap for good (scrypt takes 16 MiB per verification), which is no cost per connection.
    warm = max(1, n // 10)
    first = await connect_many(
        target.url, station_ids[:warm], target.passwords, concurrency=concurrency
    )
    await asyncio.sleep(1.0)
    before = rss_kib(target.pid)
    cpu0 = process_cpu_s(target.pid)
    t0 = time.perf_counter()
    rest = await connect_many(
        target.url, station_ids[warm:n], target.passwords, concurrency=concurrency
    )
    connect_s = time.perf_counter() - t0
    fleet = first + rest
    await asyncio.sleep(3.0)  # discovery calls after the boots settle
    handshake_cpu = process_cpu_s(target.pid) - cpu0
    after = rss_kib(target.pid)
    idle0 = process_cpu_s(target.pid)
    await asyncio.sleep(3.0)
    idle = process_cpu_s(target.pid) - idle0
    frame = '[2,"h{}","Heartbeat",{{}}]'
    cpu1 = process_cpu_s(target.pid)
    t1 = time.perf_counter()
    gate = asyncio.Semaphore(200)

    async def beat(k: int, station: FakeStation) -> None:
        async with gate:
            await station.call(frame.format(k))

    await asyncio.gather(*(beat(k, s) for k, s in enumerate(fleet)))
    spent = time.perf_counter() - t1
    busy = process_cpu_s(target.pid) - cpu1 - idle * spent / 3.0
    await asyncio.gather(*(s.close() for s in fleet), return_exceptions=True)
    added = max(1, n - warm)
    return Connections(
        n,
        connect_s,
        (after - before) / added,
        max(busy, 0.0) / n * 1e6,
        handshake_cpu / added * 1e3,
    )


async def measure_ingestion(
    target: Target, station_ids: list[str], seconds: float
) -> tuple[float, float]:
    """P9: answered MeterValues + TransactionEvent per second, and CSMS CPU per message (us)."""
    fleet = await connect_many(target.url, station_ids, target.passwords, concurrency=100)
    await asyncio.sleep(2.0)
    for k, station in enumerate(fleet):
        await station.call(transaction_frame(f"tx-bench-{k}", 0, "Started", 0.0))
    done = 0
    stop = time.perf_counter() + seconds
    cpu0 = process_cpu_s(target.pid)

    async def loop(k: int, station: FakeStation) -> None:
        nonlocal done
        seq, energy = 1, 0.0
        while time.perf_counter() < stop:
            energy += 10.0
            if seq % 2:
                await station.call(meter_values_frame(1, energy))
            else:
                await station.call(transaction_frame(f"tx-bench-{k}", seq, "Updated", energy))
            seq += 1
            done += 1

    t0 = time.perf_counter()
    await asyncio.gather(*(loop(k, s) for k, s in enumerate(fleet)))
    elapsed = time.perf_counter() - t0
    cpu = process_cpu_s(target.pid) - cpu0
    await asyncio.gather(*(s.close() for s in fleet), return_exceptions=True)
    return done / elapsed, cpu / max(done, 1) * 1e6


async def measure_bare_fan_out(target: Target, station_ids: list[str]) -> tuple[float, float]:
    """P10 baseline: SetChargingProfile to every station, sent bare (p99 s, CPU ms/station)."""
    fleet = await connect_many(target.url, station_ids, None, concurrency=200)
    await asyncio.sleep(1.0)
    cpu0 = process_cpu_s(target.pid)
    t0 = time.perf_counter()
    await fleet[0].call('[2,"dt1","DataTransfer",{"vendorId":"bench"}]')
    deadline = time.perf_counter() + 60
    while any(not s.profiles for s in fleet) and time.perf_counter() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.2)
    cpu = process_cpu_s(target.pid) - cpu0
    latencies = sorted(s.profiles[0] - t0 for s in fleet if s.profiles)
    await asyncio.gather(*(s.close() for s in fleet), return_exceptions=True)
    p99 = latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))]
    return p99, cpu / len(fleet) * 1e3


async def measure_server_fan_out(target: Target, station_ids: list[str]) -> tuple[float, float]:
    """P10: a setpoint update through the API reaching every station as SetChargingProfile:
    p99 from the call to each station's receipt (s), and server CPU per station (ms)."""
    from datetime import UTC, datetime, timedelta

    from fcsbe.client import FcsbeClient
    from fcsbe.model import FlexibilityServiceRequest, FsState, SetpointUpdate

    fleet = await connect_many(target.url, station_ids, target.passwords, concurrency=20)
    for k, station in enumerate(fleet):
        await station.call(transaction_frame(f"tx-p10-{k}", 0, "Started", 0.0))
    await asyncio.sleep(3.0)  # sessions stored
    sites = sorted({f"SITE-{(k * 2) // 50 + 1:05d}" for k in range(len(station_ids))})
    start = datetime.now(UTC) + timedelta(seconds=5)
    body = {
        "fs_id": "p10",
        "fsc_id": "fsc-1",
        "fs_type": "SETPOINT",
        "targets": [{"level": "SITE", "id": s} for s in sites],
        "window": {"start": start.isoformat(), "end": (start + timedelta(minutes=30)).isoformat()},
        "minimum_acceptance_pct": 1,
        "parameters": {
            "fs_type": "SETPOINT",
            "resolution_s": 1800,
            "periods": [{"start_offset_s": 0, "p_w": 3_000.0 * len(station_ids)}],
        },
    }
    async with FcsbeClient(str(target.extra["http"]), token=str(target.extra["token"])) as fo:
        await fo.heartbeat.send()  # the aggregator is online: its FS are not in fallback
        await fo.flexibility_services.create(FlexibilityServiceRequest.model_validate(body))
        deadline = time.monotonic() + 120
        while (await fo.flexibility_services.get("p10")).state is not FsState.ACTIVE:
            if time.monotonic() > deadline:
                raise TimeoutError("the P10 FS did not start")
            await asyncio.sleep(0.5)
        await asyncio.sleep(3.0)  # the first profiles are out
        await fo.heartbeat.send()
        reached = sum(1 for s in fleet if s.profiles)
        for s in fleet:
            s.profiles.clear()
        cpu0 = process_cpu_s(target.pid)
        t0 = time.perf_counter()
        await fo.flexibility_services.update_setpoint(
            "p10", SetpointUpdate(p_w=2_000.0 * len(station_ids), sequence=1)
        )
        called = time.perf_counter() - t0
        await asyncio.sleep(0.5)
        cpu = process_cpu_s(target.pid) - cpu0
    latencies = sorted(s.profiles[0] - t0 for s in fleet if s.profiles)
    await asyncio.gather(*(s.close() for s in fleet), return_exceptions=True)
    print(
        f"P10: {reached} stations had the FS's first profile; {len(latencies)} of "
        f"{len(fleet)} got the update; the API call took {called:.2f} s",
        file=sys.stderr,
    )
    if not latencies:
        return float("nan"), cpu / len(fleet) * 1e3
    p99 = latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))]
    return p99, cpu / len(fleet) * 1e3


def station_ids(n: int) -> list[str]:
    """The ids of the first `n` stations of the `large` scenario (`CS-0000001`, ...)."""
    return [f"CS-{k:07d}" for k in range(1, n + 1)]


def run_for_report(
    stations: int = 10_000,
    ingest_stations: int = 50,
    fan_out: int = 1_000,
    seconds: float = 5.0,
    bare_only: bool = False,
    server_stations: int = 1_000,
    p10_only: bool = False,
) -> list[BenchFigure]:
    """P8, P9, P10 against the bare CSMS baseline. The server holds `server_stations` in P8:
    each connection costs it a scrypt verification (tens of ms of CPU), so 10,000 take many
    minutes on a shared 2-core machine; the baseline holds `stations`."""
    limit = raise_fd_limit(stations + 1_000)
    n = min(stations, limit - 500)
    ids = station_ids(max(n, fan_out, server_stations))
    results: dict[str, object] = {"stations_fan_out": fan_out, "server_stations": server_stations}
    makers: list[Callable[[], contextlib.AbstractContextManager[Target]]] = [bare_csms]
    if not bare_only:
        makers.append(lambda: fcsbe_server(max(server_stations, fan_out)))
    for make in makers:
        with make() as target:
            bare = target.name.startswith("bare")
            count = n if bare else server_stations
            if not p10_only:
                p8 = asyncio.run(measure_connections(target, count, ids, 200 if bare else 20))
                p9 = asyncio.run(measure_ingestion(target, ids[:ingest_stations], seconds))
                results[target.name] = (p8, p9)
                print(target.name, p8, p9, file=sys.stderr)
            if bare:
                results["bare_fan_out"] = asyncio.run(measure_bare_fan_out(target, ids[:fan_out]))
            else:
                results["fan_out"] = asyncio.run(measure_server_fan_out(target, ids[:fan_out]))
            print(target.name, "P10", results.get("bare_fan_out"), results.get("fan_out"))
    if p10_only:
        return []
    return figures_of(results, n)


def figures_of(results: dict[str, object], n: int) -> list[BenchFigure]:
    """The report's figures (server against bare)."""
    bare_p8, bare_p9 = results["bare ocpp CSMS"]  # type: ignore[misc]
    figures = [
        BenchFigure(
            "P8", "connections held by the bare CSMS", float(n), "stations", "10,000", None
        ),
    ]
    server = results.get("fcsbe OCPP endpoint")
    if server is not None:
        p8, p9 = server  # type: ignore[misc]
        figures += [
            BenchFigure(
                "P8",
                "connections held by the server",
                float(p8.stations),
                "stations",
                "10,000",
                None,
            ),
            BenchFigure(
                "P8",
                "memory per connection",
                p8.rss_per_connection_kib,
                "KiB",
                "informative",
                None,
                bare_p8.rss_per_connection_kib,
                "bare CSMS",
            ),
            BenchFigure(
                "P8",
                "CPU per connection set-up (handshake, auth, boot, discovery)",
                p8.handshake_cpu_ms,
                "ms",
                "informative",
                None,
                bare_p8.handshake_cpu_ms,
                "bare CSMS",
            ),
            BenchFigure(
                "P8",
                "CPU per heartbeat",
                p8.heartbeat_cpu_us,
                "us",
                "informative",
                None,
                bare_p8.heartbeat_cpu_us,
                "bare CSMS",
            ),
            BenchFigure(
                "P10",
                f"setpoint update to {results['stations_fan_out']} stations, p99",
                results["fan_out"][0],  # type: ignore[index]
                "s",
                "<= 1 s",
                results["fan_out"][0] <= 1.0,  # type: ignore[index,operator]
                results["bare_fan_out"][0],  # type: ignore[index]
                "bare fan-out",
            ),
            BenchFigure(
                "P10",
                "CPU per station of the update",
                results["fan_out"][1],  # type: ignore[index]
                "ms",
                "<= 3x bare",
                results["fan_out"][1] <= 3 * results["bare_fan_out"][1],  # type: ignore[index,operator]
                results["bare_fan_out"][1],  # type: ignore[index]
                "bare fan-out",
            ),
            BenchFigure(
                "P9",
                "MeterValues/TransactionEvent ingestion",
                p9[0],
                "msg/s",
                ">= 50 % of bare",
                p9[0] >= 0.5 * bare_p9[0],
                bare_p9[0],
                "bare CSMS",
            ),
        ]
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stations", type=int, default=10_000)
    parser.add_argument("--ingest-stations", type=int, default=50)
    parser.add_argument("--fan-out", type=int, default=1_000)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--bare-only", action="store_true")
    parser.add_argument("--server-stations", type=int, default=1_000)
    parser.add_argument("--p10-only", action="store_true")
    args = parser.parse_args()
    from bench.report import render_table

    figures = run_for_report(
        args.stations,
        args.ingest_stations,
        args.fan_out,
        args.seconds,
        args.bare_only,
        args.server_stations,
        args.p10_only,
    )
    print(render_table(figures))


if __name__ == "__main__":
    main()
