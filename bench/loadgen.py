"""A small HTTP/1.1 load generator on raw asyncio streams (keep-alive, no pipelining).

httpx costs more CPU per request than the server under test on a 2-core machine, so the
benchmarks drive the server with pre-rendered requests instead: closed loop (N connections as
fast as they can) for throughput, open loop (a fixed arrival rate) for latency percentiles.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

__all__ = ["LoadResult", "closed_loop", "open_loop"]

RequestFactory = Callable[[int], bytes]


@dataclass
class LoadResult:
    """Completed requests, their latencies (s) and status counts."""

    seconds: float
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


async def _send(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, raw: bytes) -> int:
    writer.write(raw)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    if length:
        await reader.readexactly(length)
    return status


def render(method: str, path: str, host: str, body: bytes, headers: dict[str, str]) -> bytes:
    """One HTTP/1.1 request, ready to write."""
    lines = [f"{method} {path} HTTP/1.1", f"host: {host}", f"content-length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def _without_gc(
    run: Callable[..., Coroutine[Any, Any, LoadResult]],
) -> Callable[..., Coroutine[Any, Any, LoadResult]]:
    """Run a load with the generator's cyclic garbage collector off (collected before): a
    collection pauses the generator's loop for tens of milliseconds on a heap of thousands of
    pending requests, and every request due meanwhile would count that pause as the server's
    latency."""

    @functools.wraps(run)
    async def without_gc(*args: Any, **kwargs: Any) -> LoadResult:
        gc.collect()
        gc.disable()
        try:
            return await run(*args, **kwargs)
        finally:
            gc.enable()

    return without_gc


@_without_gc
async def closed_loop(
    host: str, port: int, make: RequestFactory, connections: int, seconds: float
) -> LoadResult:
    """`connections` clients sending back to back for `seconds`."""
    result = LoadResult(seconds=seconds)
    deadline = time.perf_counter() + seconds
    counter = iter(range(10**9))

    async def client() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while time.perf_counter() < deadline:
                raw = make(next(counter))
                started = time.perf_counter()
                status = await _send(reader, writer, raw)
                result.latencies.append(time.perf_counter() - started)
                result.statuses[status] = result.statuses.get(status, 0) + 1
        finally:
            writer.close()

    await asyncio.gather(*(client() for _ in range(connections)))
    return result


@_without_gc
async def open_loop(
    host: str, port: int, make: RequestFactory, rate: float, seconds: float, connections: int = 64
) -> LoadResult:
    """Requests arriving at `rate` per second for `seconds`, latency measured from arrival."""
    result = LoadResult(seconds=seconds)
    pool: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()
    for _ in range(connections):
        pool.put_nowait(await asyncio.open_connection(host, port))
    total = int(rate * seconds)
    start = time.perf_counter()

    async def one(n: int, due: float) -> None:
        reader, writer = await pool.get()
        try:
            status = await _send(reader, writer, make(n))
        finally:
            pool.put_nowait((reader, writer))
        result.latencies.append(time.perf_counter() - due)
        result.statuses[status] = result.statuses.get(status, 0) + 1

    tasks = []
    for n in range(total):
        due = start + n / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(n, due)))
    await asyncio.gather(*tasks)
    result.seconds = time.perf_counter() - start
    while not pool.empty():
        pool.get_nowait()[1].close()
    return result
