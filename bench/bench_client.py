"""P6: the FO client against the real server, vs the raw load generator against the same server.

Starts the real server (uvicorn, PostgreSQL if reachable else SQLite, workers off: the accept
path only), then alternates
two closed loops of the same length: the raw-socket load generator (bench/loadgen.py) with 32
connections, and `FcsbeClient` with 32 requests in flight, each building its request model,
sending it with an Idempotency-Key and parsing the receipt as an aggregator's code would. The
goal: the client sustains >= 70 % of the raw rate (no client-side collapse). Medians of the
rounds are reported; client and server share the machine's cores, as they would on one host.

    .venv/bin/python -m bench.bench_client
"""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.bench_accept import (
    database,
    free_port,
    postgres_reachable,
    request_factory,
    seed_fo,
    server,
    server_env,
)
from bench.loadgen import closed_loop
from bench.report import BenchFigure
from fcsbe.client import FcsbeClient
from fcsbe.model import FlexibilityServiceRequest

IN_FLIGHT = 32
GOAL_RATIO = 0.70


def _request(fs_id: str, window: dict[str, str]) -> FlexibilityServiceRequest:
    document: dict[str, Any] = {
        "fs_id": fs_id,
        "fsc_id": "fsc-bench",
        "fs_type": "SETPOINT",
        "targets": [{"level": "SITE", "id": "site-1"}],
        "window": window,
        "parameters": {
            "fs_type": "SETPOINT",
            "resolution_s": 900,
            "periods": [{"start_offset_s": 0, "p_w": 11000.0}],
        },
    }
    return FlexibilityServiceRequest.model_validate(document)


async def client_loop(port: int, token: str, seconds: float, run: str) -> tuple[float, int]:
    """(requests per second, requests) of `FcsbeClient` with IN_FLIGHT outstanding."""
    start = datetime.now(UTC) + timedelta(hours=1)
    window = {"start": start.isoformat(), "end": (start + timedelta(hours=1)).isoformat()}
    done = 0
    deadline = time.perf_counter() + seconds
    async with FcsbeClient(f"http://127.0.0.1:{port}", token=token) as client:

        async def worker(w: int) -> None:
            nonlocal done
            n = 0
            while time.perf_counter() < deadline:
                n += 1
                await client.flexibility_services.create(_request(f"{run}-{w}-{n}", window))
                done += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker(w) for w in range(IN_FLIGHT)))
        return done / (time.perf_counter() - started), done


@dataclass
class ClientRun:
    """Rates per round, and the CPU this process spent per request (load generator, client)."""

    raw_rates: list[float] = field(default_factory=list)
    client_rates: list[float] = field(default_factory=list)
    raw_cpu_s: list[float] = field(default_factory=list)
    client_cpu_s: list[float] = field(default_factory=list)


def measure(backend: str, seconds: float = 3.0, rounds: int = 3) -> ClientRun:
    """Alternating rounds of the load generator and the client against one server."""
    result = ClientRun()
    with database(backend) as url:
        token = seed_fo(url)
        port = free_port()  # a fixed port may be held by another run on a shared machine
        with server(["fcsbe.server.app:create_app", "--factory"], port, server_env(url)):
            asyncio.run(closed_loop("127.0.0.1", port, request_factory(token, "w"), 8, 1.0))
            for r in range(rounds):
                run = uuid.uuid4().hex[:6]
                started, cpu = time.perf_counter(), time.process_time()
                raw = asyncio.run(
                    closed_loop(
                        "127.0.0.1", port, request_factory(token, f"r{run}"), IN_FLIGHT, seconds
                    )
                )
                # Both rates count every completion over the real elapsed time, including the
                # requests still in flight at the deadline.
                result.raw_rates.append(len(raw.latencies) / (time.perf_counter() - started))
                result.raw_cpu_s.append((time.process_time() - cpu) / len(raw.latencies))
                cpu = time.process_time()
                rate, count = asyncio.run(client_loop(port, token, seconds, f"c{run}{r}"))
                result.client_rates.append(rate)
                result.client_cpu_s.append((time.process_time() - cpu) / count)
    return result


def backend() -> str:
    """PostgreSQL when reachable: its group commit gives a higher, steadier ceiling."""
    return "postgresql" if postgres_reachable() else "sqlite"


def run_for_report() -> list[BenchFigure]:
    chosen = backend()
    run = measure(chosen)
    raw, client = statistics.median(run.raw_rates), statistics.median(run.client_rates)
    client_cpu, raw_cpu = statistics.median(run.client_cpu_s), statistics.median(run.raw_cpu_s)
    return [
        BenchFigure(
            "P6",
            f"FcsbeClient, {IN_FLIGHT} in flight, accept path on {chosen}",
            client,
            "req/s",
            f">= {GOAL_RATIO * 100:.0f} % of baseline",
            client >= GOAL_RATIO * raw,
            raw,
            f"raw load generator, {IN_FLIGHT} connections",
        ),
        BenchFigure(
            "P6",
            "client CPU per request (build model, send, parse receipt)",
            client_cpu * 1e6,
            "µs",
            "informative: 1 core / this = the client's ceiling",
            None,
            raw_cpu * 1e6,
            "raw load generator CPU per request",
        ),
    ]


def main() -> None:
    run = measure(backend())
    for raw, client, cpu in zip(run.raw_rates, run.client_rates, run.client_cpu_s, strict=True):
        print(
            f"raw {raw:,.0f} req/s | client {client:,.0f} req/s | {client / raw * 100:.0f} % | "
            f"client CPU {cpu * 1e6:,.0f} µs/request"
        )


if __name__ == "__main__":
    main()
