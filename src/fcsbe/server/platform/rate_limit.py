"""Request rate limits: a token bucket per authenticated party, and per client IP otherwise.

Buckets live in the memory of each replica, so with N replicas behind a load balancer a caller
gets up to N times the configured rate; size `rate_limit_per_s` for one replica. Authenticated
requests draw on their party's bucket (`authenticate` in api/edge/authentication.py does it once
the credential is known, so every credential of a party shares one bucket). Requests without
credentials draw on their client IP's bucket here, before any work; requests whose credentials
turn out to be invalid are charged to the IP afterwards, and an IP in debt is refused whatever
it sends, so guessing tokens is throttled too. Health, readiness and metrics are never limited.
A refusal is 429 with `Retry-After` and a problem+json body of type `rate-limited`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from starlette.types import ASGIApp, Receive, Scope, Send

from fcsbe.server.errors import problem_response

__all__ = ["EXEMPT_PATHS", "RateLimitMiddleware", "TokenBuckets", "rate_limited_response"]

EXEMPT_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
"""Probes and scrapes must keep answering whatever a caller does."""


class TokenBuckets:
    """Token buckets by key: `rate_per_s` tokens a second, holding at most `burst`.

    Memory stays bounded: past `max_keys` buckets, the full (idle) ones are dropped, and if
    none is idle every bucket is forgotten (failing open rather than growing without bound).
    """

    def __init__(
        self,
        rate_per_s: float,
        burst: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 100_000,
    ) -> None:
        self.rate = rate_per_s
        self.burst = float(burst)
        self.clock = clock
        self.max_keys = max_keys
        self._buckets: dict[str, list[float]] = {}

    def _bucket(self, key: str, now: float) -> list[float]:
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self.max_keys:
                self._sweep(now)
            bucket = self._buckets[key] = [self.burst, now]
            return bucket
        tokens = bucket[0] + (now - bucket[1]) * self.rate
        bucket[0] = tokens if tokens < self.burst else self.burst
        bucket[1] = now
        return bucket

    def _sweep(self, now: float) -> None:
        idle = [
            key
            for key, (tokens, at) in self._buckets.items()
            if tokens + (now - at) * self.rate >= self.burst
        ]
        for key in idle:
            del self._buckets[key]
        if len(self._buckets) >= self.max_keys:
            self._buckets.clear()

    def _wait_s(self, tokens: float) -> float:
        return (1.0 - tokens) / self.rate

    def take(self, key: str) -> float:
        """Take one token: 0.0 if granted, else the seconds until one is available."""
        bucket = self._bucket(key, self.clock())
        if bucket[0] >= 1.0:
            bucket[0] -= 1.0
            return 0.0
        return self._wait_s(bucket[0])

    def peek(self, key: str) -> float:
        """Like `take` without taking: 0.0 if a token is there."""
        bucket = self._buckets.get(key)
        if bucket is None:
            return 0.0
        bucket = self._bucket(key, self.clock())
        return 0.0 if bucket[0] >= 1.0 else self._wait_s(bucket[0])

    def charge(self, key: str) -> None:
        """Take one token after the fact (never below empty)."""
        bucket = self._bucket(key, self.clock())
        bucket[0] = max(0.0, bucket[0] - 1.0)


def rate_limited_response(wait_s: float, who: str) -> ASGIApp:
    """The 429 problem for a caller that must wait `wait_s` seconds."""
    retry_after = max(1, math.ceil(wait_s))
    return problem_response(
        429,
        "rate-limited",
        "Too many requests",
        f"The request rate of this {who} is over the limit; retry after {retry_after} s.",
        headers={"Retry-After": str(retry_after)},
    )


def _client_ip(scope: Scope) -> str:
    client = scope.get("client")
    return f"ip:{client[0]}" if client else "ip:unknown"


class RateLimitMiddleware:
    """Pure ASGI middleware: the per-IP part of the rate limit (see the module docstring)."""

    def __init__(self, app: ASGIApp, buckets: TokenBuckets) -> None:
        self.app = app
        self.buckets = buckets

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in EXEMPT_PATHS:
            await self.app(scope, receive, send)
            return
        key = _client_ip(scope)
        credentialed = any(name == b"authorization" for name, _ in scope["headers"])
        wait = self.buckets.peek(key) if credentialed else self.buckets.take(key)
        if wait:
            await rate_limited_response(wait, "client")(scope, receive, send)
            return
        await self.app(scope, receive, send)
        if credentialed and "principal" not in scope.get("state", {}):
            self.buckets.charge(key)
