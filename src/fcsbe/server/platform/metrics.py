"""Prometheus metrics of one app: HTTP traffic, FS decisions, database backlog, worker loops.

Each app owns its `CollectorRegistry` (tests build many apps in one process). Request counts and
latencies are kept per route *template* (`/v1/flexibility-services/{fs_id}`), never per raw
path, and unknown methods and paths fold into `OTHER` and `unmatched`, so no caller can blow
up the label cardinality. Database figures are read lazily when scraped (a cheap grouped
count, cached for a second); worker figures are read from the `WorkerGroup` at the same time.
Exposition is the Prometheus text format at `GET /metrics` (kept out of the OpenAPI document).
"""

from __future__ import annotations

import asyncio
import logging
import time
from bisect import bisect_left
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from prometheus_client import (
    CONTENT_TYPE_PLAIN_0_0_4,
    CollectorRegistry,
    Histogram,
    generate_latest,
)
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fcsbe.server.platform import metrics_hooks
from fcsbe.server.storage.base import utcnow
from fcsbe.server.storage.metrics import fs_counts_by_state, outbox_backlog

if TYPE_CHECKING:
    from fcsbe.server.workers import WorkerGroup

__all__ = ["CONTENT_TYPE", "AppMetrics", "DatabaseSnapshot", "MetricsMiddleware"]

CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
"""The Prometheus text format that `generate_latest` writes."""
log = logging.getLogger("fcsbe.metrics")

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_HTTP_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_BUCKET_LABELS = (*(str(bound) for bound in _HTTP_BUCKETS), "+Inf")
_DECISION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
_DB_REFRESH_S = 1.0


@dataclass(frozen=True, slots=True)
class DatabaseSnapshot:
    """The database figures of the last scrape; `ok` is False when the database failed."""

    ok: bool
    fs_by_state: dict[str, int] = field(default_factory=dict)
    outbox_pending: int = 0
    outbox_oldest_age_s: float = 0.0


class _DatabaseCollector(Collector):
    def __init__(self, owner: AppMetrics) -> None:
        self.owner = owner

    def collect(self) -> Iterable[Metric]:
        snapshot = self.owner.snapshot
        up = GaugeMetricFamily(
            "fcsbe_database_up", "1 if the last scrape could read the database, else 0."
        )
        up.add_metric([], 1.0 if snapshot.ok else 0.0)
        yield up
        if not snapshot.ok:
            return
        states = GaugeMetricFamily(
            "fcsbe_flexibility_services", "Flexibility services by state.", labels=["state"]
        )
        for state, count in sorted(snapshot.fs_by_state.items()):
            states.add_metric([state], float(count))
        yield states
        yield GaugeMetricFamily(
            "fcsbe_outbox_pending",
            "Notifications written but not yet delivered.",
            value=float(snapshot.outbox_pending),
        )
        yield GaugeMetricFamily(
            "fcsbe_outbox_oldest_pending_age_seconds",
            "Age of the oldest undelivered notification (0 when none).",
            value=snapshot.outbox_oldest_age_s,
        )


class _WorkerCollector(Collector):
    def __init__(self, owner: AppMetrics) -> None:
        self.owner = owner

    def collect(self) -> Iterator[Metric]:
        workers = self.owner.workers
        failures = CounterMetricFamily(
            "fcsbe_worker_failures", "Failed steps of each background loop.", labels=["worker"]
        )
        streak = GaugeMetricFamily(
            "fcsbe_worker_consecutive_failures",
            "Failed steps in a row (readiness fails at 5).",
            labels=["worker"],
        )
        last = GaugeMetricFamily(
            "fcsbe_worker_last_success_timestamp_seconds",
            "Unix time of the last successful step.",
            labels=["worker"],
        )
        for task in workers.tasks if workers is not None else ():
            failures.add_metric([task.name], float(task.failures))
            streak.add_metric([task.name], float(task.consecutive_errors))
            if task.last_success is not None:
                last.add_metric([task.name], task.last_success.timestamp())
        yield failures
        yield streak
        yield last


class _Series:
    __slots__ = ("buckets", "statuses", "total")

    def __init__(self) -> None:
        self.buckets = [0] * (len(_HTTP_BUCKETS) + 1)
        self.statuses: dict[int, int] = {}
        self.total = 0.0


class _HttpCollector(Collector):
    """Request counts and latency histograms in plain lists, turned into metrics when scraped.

    Recording is a bisect and three integer updates, without the locks of prometheus_client's
    own metric objects: it runs on every request, always on the event loop's thread (as does the
    scrape), so nothing else can interleave with it.
    """

    def __init__(self) -> None:
        self._series: dict[tuple[str, str], _Series] = {}

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method if method in _METHODS else "OTHER", route)
        series = self._series.get(key)
        if series is None:
            series = self._series[key] = _Series()
        series.buckets[bisect_left(_HTTP_BUCKETS, seconds)] += 1
        series.total += seconds
        series.statuses[status] = series.statuses.get(status, 0) + 1

    def collect(self) -> Iterator[Metric]:
        requests = CounterMetricFamily(
            "fcsbe_http_requests",
            "HTTP requests answered, by method, route template and status.",
            labels=["method", "route", "status"],
        )
        latency = HistogramMetricFamily(
            "fcsbe_http_request_duration_seconds",
            "Time from receiving a request to finishing its response, by route template.",
            labels=["method", "route"],
        )
        for (method, route), series in sorted(self._series.items()):
            for status, count in sorted(series.statuses.items()):
                requests.add_metric([method, route, str(status)], float(count))
            cumulative, running = [], 0
            for bound, count in zip(_BUCKET_LABELS, series.buckets, strict=True):
                running += count
                cumulative.append((bound, float(running)))
            latency.add_metric([method, route], cumulative, sum_value=series.total)
        yield requests
        yield latency


class AppMetrics:
    """The metrics of one app; also the `MetricsSink` its services report to."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.decisions = Histogram(
            "fcsbe_fs_decision_latency_seconds",
            "Time from receiving an FS request (RECEIVED) to its decision.",
            ["fs_type", "result"],
            buckets=_DECISION_BUCKETS,
            registry=self.registry,
        )
        self.workers: WorkerGroup | None = None
        self.snapshot = DatabaseSnapshot(ok=False)
        self._snapshot_at = -_DB_REFRESH_S
        self._refresh_lock = asyncio.Lock()
        self.http = _HttpCollector()
        self.registry.register(self.http)
        self.registry.register(_DatabaseCollector(self))
        self.registry.register(_WorkerCollector(self))

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one answered request (on the hot path; see `_HttpCollector`)."""
        self.http.observe(method, route, status, seconds)

    def decision_made(self, fs_type: str, result: str, latency_s: float) -> None:
        self.decisions.labels(fs_type, result).observe(latency_s)

    async def refresh(self, factory: async_sessionmaker[AsyncSession]) -> None:
        """Read the database figures, at most once a second however often scraped."""
        async with self._refresh_lock:
            if time.monotonic() - self._snapshot_at < _DB_REFRESH_S:
                return
            try:
                async with factory() as session:
                    states = await fs_counts_by_state(session)
                    backlog = await outbox_backlog(session)
            except (SQLAlchemyError, OSError, TimeoutError) as exc:
                log.warning("metrics: database not readable: %s", exc.__class__.__name__)
                self.snapshot = DatabaseSnapshot(ok=False)
            else:
                self.snapshot = DatabaseSnapshot(
                    ok=True,
                    fs_by_state=states,
                    outbox_pending=backlog.pending,
                    outbox_oldest_age_s=_age_s(backlog.oldest_created_at),
                )
            self._snapshot_at = time.monotonic()

    def render(self) -> bytes:
        """The text exposition of every metric of this app."""
        return generate_latest(self.registry)


def _age_s(oldest: datetime | None) -> float:
    return max(0.0, (utcnow() - oldest).total_seconds()) if oldest is not None else 0.0


class MetricsMiddleware:
    """Pure ASGI middleware (it is on every request): counts and times each answered request.

    It sits outside every other layer, so it also sees the 413s, 429s and 500s they render.
    The route template is read from the scope after routing; it also binds the app's metrics
    sink for the request, so services called from a route can report through `metrics_hooks`.
    """

    def __init__(self, app: ASGIApp, metrics: AppMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        token = metrics_hooks.bind(self.metrics)
        try:
            await self.app(scope, receive, send_status)
        finally:
            metrics_hooks.unbind(token)
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            self.metrics.observe_request(
                scope["method"], template, status, time.perf_counter() - started
            )
