"""Several replicas on one PostgreSQL: the accept rate of 1, 2 and 3 replicas, and the CPU an
idle replica spends (P11).

Each replica is a real `uvicorn` process of the server (workers off for the accept figures, so
only the accept path is measured) on one migrated database; the load generator spreads its
connections evenly over them and the rates add up. On a 2-core machine three replicas share the
cores with the load generator and the database, so the figure says whether adding replicas
costs throughput (lock or commit contention), not how much a bigger machine would gain. The
idle figure runs one replica with its background loops on (simulator off, no requests) and reads
its CPU from `/proc` once it has started.

    .venv/bin/python -m bench.bench_replicas --replicas 1 --replicas 2 --replicas 3
"""

from __future__ import annotations

import argparse
import asyncio
import time
from contextlib import ExitStack

from bench.bench_accept import (
    database,
    free_port,
    postgres_reachable,
    process_cpu_s,
    request_factory,
    seed_fo,
    server,
    server_env,
)
from bench.loadgen import LoadResult, closed_loop
from bench.report import BenchFigure

IDLE_SETTLE_S = 8.0
"""Start-up work (migrations check, first passes of every loop) left out of the idle figure."""


def accept_rate(replicas: int, seconds: float, connections: int) -> tuple[float, float, int]:
    """(accepts/s of all replicas together, server CPU µs per accept, non-2xx answers)."""
    with database("postgresql") as url, ExitStack() as stack:
        token = seed_fo(url)
        ports = [free_port() for _ in range(replicas)]
        target = ["fcsbe.server.app:create_app", "--factory"]
        env = server_env(url, connections)
        pids = [stack.enter_context(server(target, port, env)) for port in ports]
        share = max(1, connections // replicas)

        async def load(prefix: str, span: float) -> list[LoadResult]:
            return list(
                await asyncio.gather(
                    *(
                        closed_loop(
                            "127.0.0.1", port, request_factory(token, f"{prefix}{i}"), share, span
                        )
                        for i, port in enumerate(ports)
                    )
                )
            )

        asyncio.run(load("w", 1.0))
        before = sum(process_cpu_s(pid) for pid in pids)
        results = asyncio.run(load("r", seconds))
        spent = sum(process_cpu_s(pid) for pid in pids) - before
    done = sum(len(r.latencies) for r in results)
    failed = sum(v for r in results for k, v in r.statuses.items() if not 200 <= k < 300)
    rate = sum(r.rate for r in results)
    return rate, spent / done * 1e6 if done else float("nan"), failed


def idle_cpu_share(seconds: float) -> float:
    """Share of one core an idle replica (background loops on, no requests) uses."""
    with database("postgresql") as url:
        env = {
            **server_env(url),
            "FCSBE_WORKERS_ENABLED": "true",
            "FCSBE_SIMULATOR_ENABLED": "false",
        }
        with server(["fcsbe.server.app:create_app", "--factory"], free_port(), env) as pid:
            time.sleep(IDLE_SETTLE_S)
            before, started = process_cpu_s(pid), time.monotonic()
            time.sleep(seconds)
            return (process_cpu_s(pid) - before) / (time.monotonic() - started)


def run_for_report(seconds: float = 4.0, idle_s: float = 20.0) -> list[BenchFigure]:
    """Accepts with 1, 2, 3 replicas (ratio to one replica) and the idle replica's CPU."""
    if not postgres_reachable():
        return []
    figures = []
    one = None
    for replicas in (1, 2, 3):
        rate, cpu, failed = accept_rate(replicas, seconds, 32)
        one = one or rate
        figures.append(
            BenchFigure(
                "P11",
                f"accepts with {replicas} replica(s) on one PostgreSQL, 32 connections "
                f"({cpu:,.0f} µs server CPU per accept, {failed} non-2xx)",
                rate,
                "req/s",
                "informative: not below one replica",
                rate >= 0.9 * one if replicas > 1 else None,
                one if replicas > 1 else None,
                "one replica",
            )
        )
    share = idle_cpu_share(idle_s) * 100
    figures.append(
        BenchFigure("P11", "idle replica CPU", share, "% of a core", "<= 2 %", share <= 2.0)
    )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--replicas", type=int, action="append")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--idle-seconds", type=float, default=20.0)
    args = parser.parse_args()
    print("| replicas | accepts/s | server CPU µs per accept | non-2xx |")
    print("|---|---|---|---|")
    for replicas in args.replicas or [1, 2, 3]:
        rate, cpu, failed = accept_rate(replicas, args.seconds, args.connections)
        print(f"| {replicas} | {rate:,.0f} | {cpu:,.0f} | {failed} |")
    if args.idle_seconds > 0:
        share = idle_cpu_share(args.idle_seconds) * 100
        print(f"\nidle replica: {share:.2f} % of a core over {args.idle_seconds:.0f} s")


if __name__ == "__main__":
    main()
