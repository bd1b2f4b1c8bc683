"""The cost of the observability and rate-limit middleware on every request (P1/P2 hot path).

Calls the ASGI stacks in-process, without sockets, so the figure is the middleware's own CPU:
- before: the request-context middleware alone (request id, access log, body limit), as it was
  before metrics and rate limits existed;
- after: metrics -> request context -> rate limit, as `create_app` builds it;
both around the same trivial endpoint. The same-run baseline is one validated FS POST through
FastAPI without a database (bench/baseline_app.py), also in-process: the overhead should stay a
small fraction of the cheapest real request.

    .venv/bin/python -m bench.bench_middleware
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from bench.baseline_app import app as baseline_app
from bench.bench_accept import request_factory
from bench.report import BenchFigure
from fcsbe.server.platform.metrics import AppMetrics, MetricsMiddleware
from fcsbe.server.platform.observability import RequestContextMiddleware
from fcsbe.server.platform.rate_limit import RateLimitMiddleware, TokenBuckets

CALLS = 2000
ROUNDS = 7
GOAL_PCT = 5.0
ASGI = Callable[[dict[str, Any], Any, Any], Awaitable[None]]


@dataclass(frozen=True)
class _Route:
    path: str


_ROUTE = _Route("/v1/flexibility-services")


async def endpoint(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """What the router leaves behind: the matched route in the scope, then a response."""
    scope["route"] = _ROUTE
    await receive()
    await send({"type": "http.response.start", "status": 202, "headers": []})
    await send({"type": "http.response.body", "body": b"{}"})


def _request() -> tuple[list[tuple[bytes, bytes]], bytes]:
    raw = request_factory("fcsbe_at_token", "m")(1)
    head, _, body = raw.partition(b"\r\n\r\n")
    headers = []
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b": ")
        headers.append((name.lower(), value))
    return headers, body


async def per_call_cpu(app: ASGI) -> float:
    """Median CPU seconds of one request through `app`."""
    headers, body = _request()
    message = {"type": "http.request", "body": body, "more_body": False}

    async def receive() -> dict[str, Any]:
        return message

    async def send(_message: dict[str, Any]) -> None:
        return None

    samples = []
    for _ in range(ROUNDS):
        started = time.process_time()
        for _ in range(CALLS):
            scope = {
                "type": "http",
                "method": "POST",
                "path": "/v1/flexibility-services",
                "headers": headers,
                "client": ("127.0.0.1", 50000),
                "query_string": b"",
                "root_path": "",
                "scheme": "http",
                "server": ("127.0.0.1", 8000),
                "http_version": "1.1",
            }
            await app(scope, receive, send)
        samples.append((time.process_time() - started) / CALLS)
    return statistics.median(samples)


def stacks() -> tuple[ASGI, ASGI]:
    before = RequestContextMiddleware(endpoint, max_body_bytes=1_048_576)
    limited = RateLimitMiddleware(endpoint, TokenBuckets(1e9, 10**9))
    after = MetricsMiddleware(
        RequestContextMiddleware(limited, max_body_bytes=1_048_576), metrics=AppMetrics()
    )
    return before, after


async def measure() -> tuple[float, float, float]:
    """(before, after, FastAPI baseline) CPU seconds per request."""
    before, after = stacks()
    await per_call_cpu(after)  # warm up label children and caches
    return (
        await per_call_cpu(before),
        await per_call_cpu(after),
        await per_call_cpu(baseline_app),  # type: ignore[arg-type]
    )


def run_for_report() -> list[BenchFigure]:
    before, after, baseline = asyncio.run(measure())
    overhead = max(0.0, after - before)
    return [
        BenchFigure(
            "P1",
            "metrics + rate-limit middleware, CPU per request",
            overhead * 1e6,
            "µs",
            f"<= {GOAL_PCT:.0f} % of baseline",
            overhead <= GOAL_PCT / 100 * baseline,
            baseline * 1e6,
            "FastAPI validated POST, no DB, in-process",
        )
    ]


def main() -> None:
    before, after, baseline = asyncio.run(measure())
    print(f"request-context middleware alone: {before * 1e6:.1f} µs/request")
    print(f"metrics + request context + rate limit: {after * 1e6:.1f} µs/request")
    print(f"overhead {(after - before) * 1e6:.1f} µs = {(after - before) / baseline * 100:.1f} %")
    print(f"baseline FastAPI validated POST, no DB: {baseline * 1e6:.1f} µs/request")


if __name__ == "__main__":
    main()
