"""Prometheus metrics at /metrics: route templates, database gauges, decisions, worker loops."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from fcsbe.cli import render_openapi
from fcsbe.server.app import create_app
from fcsbe.server.platform import metrics_hooks
from fcsbe.server.platform.metrics import AppMetrics
from fcsbe.server.settings import Settings
from fcsbe.server.storage.base import utcnow
from fcsbe.server.storage.notifications import OutboxRow
from fcsbe.server.workers import WorkerGroup, decision_step
from tests.support.factories import make_fo
from tests.support.fs_fixtures import make_contract, make_site, plug_ev, request_body

pytestmark = pytest.mark.own_app  # counts requests app-wide

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def samples(text: str) -> Samples:
    """Every sample of an exposition, keyed by (name, labels)."""
    found: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def value(found: Samples, name: str, **labels: str) -> float | None:
    return found.get((name, frozenset(labels.items())))


async def scrape(http: httpx.AsyncClient) -> Samples:
    response = await http.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return samples(response.text)


async def test_requests_are_counted_per_route_template(
    app: FastAPI, http: httpx.AsyncClient
) -> None:
    token = await make_fo(app.state.session_factory)
    auth = {"authorization": f"Bearer {token}"}
    for fs_id in ("fs-secret-1", "fs-secret-2"):
        assert (
            await http.get(f"/v1/flexibility-services/{fs_id}", headers=auth)
        ).status_code == 404
    assert (await http.get("/no/such/path/abc123")).status_code == 404
    assert (await http.request("BREW", "/versions")).status_code == 405

    text = (await http.get("/metrics")).text
    found = samples(text)
    template = "/v1/flexibility-services/{fs_id}"
    counted = value(found, "fcsbe_http_requests_total", method="GET", route=template, status="404")
    assert counted == 2
    timed = value(found, "fcsbe_http_request_duration_seconds_count", method="GET", route=template)
    assert timed == 2
    assert value(found, "fcsbe_http_requests_total", method="GET", route="unmatched", status="404")
    assert value(
        found, "fcsbe_http_requests_total", method="OTHER", route="/versions", status="405"
    )
    assert "fs-secret" not in text
    assert "abc123" not in text


async def test_database_gauges_and_decision_latency(app: FastAPI, http: httpx.AsyncClient) -> None:
    factory = app.state.session_factory
    token = await make_fo(factory, "FO-A")
    evses = await make_site(factory, "s1")
    await plug_ev(factory, evses[0])
    await make_contract(factory, "FO-A")
    headers = {"authorization": f"Bearer {token}", "idempotency-key": "k-1"}
    posted = await http.post("/v1/flexibility-services", json=request_body("fs-1"), headers=headers)
    assert posted.status_code == 202

    before = await scrape(http)
    assert value(before, "fcsbe_database_up") == 1
    assert value(before, "fcsbe_flexibility_services", state="RECEIVED") == 1
    metrics: AppMetrics = app.state.metrics
    metrics._snapshot_at = float("-inf")  # the next scrape reads the database again

    with metrics_hooks.reporting_to(metrics):
        assert await decision_step(factory, app.state.keys)() == 1
    after = await scrape(http)
    assert value(after, "fcsbe_flexibility_services", state="RECEIVED") is None
    assert value(after, "fcsbe_flexibility_services", state="ACCEPTED") == 1
    decided = value(
        after, "fcsbe_fs_decision_latency_seconds_count", fs_type="SETPOINT", result="ACCEPTED"
    )
    assert decided == 1
    async with factory() as session:
        pending = len((await session.execute(select(OutboxRow.id))).all())
    assert pending >= 1
    assert value(after, "fcsbe_outbox_pending") == pending
    age = value(after, "fcsbe_outbox_oldest_pending_age_seconds")
    assert age is not None
    assert 0 <= age < 3600


async def test_database_down_is_reported_not_raised(tmp_path: Path) -> None:
    metrics = AppMetrics()
    engine = create_async_engine(
        "postgresql+asyncpg://nobody@127.0.0.1:9/none", connect_args={"timeout": 1}
    )
    try:
        await metrics.refresh(async_sessionmaker(engine))
    finally:
        await engine.dispose()
    found = samples(metrics.render().decode())
    assert value(found, "fcsbe_database_up") == 0
    assert value(found, "fcsbe_outbox_pending") is None


async def test_worker_failures_and_decisions_from_loops() -> None:
    metrics = AppMetrics()
    group = WorkerGroup(sink=metrics)
    metrics.workers = group
    calls = 0
    done = asyncio.Event()

    async def step() -> int:
        nonlocal calls
        calls += 1
        if calls <= 2:
            raise RuntimeError("database gone")
        metrics_hooks.record_decision("SETPOINT", "REJECTED", 0.2)
        done.set()
        return 0

    group.add("probe", 0.001, step)
    group.start()
    try:
        await asyncio.wait_for(done.wait(), timeout=5)
    finally:
        await group.stop()
    found = samples(metrics.render().decode())
    assert value(found, "fcsbe_worker_failures_total", worker="probe") == 2
    assert value(found, "fcsbe_worker_consecutive_failures", worker="probe") == 0
    assert value(found, "fcsbe_worker_last_success_timestamp_seconds", worker="probe")
    latency = ("fcsbe_fs_decision_latency_seconds_count", "SETPOINT", "REJECTED")
    assert value(found, latency[0], fs_type=latency[1], result=latency[2]) == 1


def test_apps_keep_their_own_registries() -> None:
    first, second = AppMetrics(), AppMetrics()
    first.observe_request("GET", "/versions", 200, 0.001)
    assert value(samples(second.render().decode()), "fcsbe_http_requests_total") is None
    assert "fcsbe_http_requests_total" in first.render().decode()
    assert metrics_hooks.record_decision("SETPOINT", "ACCEPTED", 1.0) is None  # no sink: no-op


def test_metrics_stay_out_of_the_openapi_document() -> None:
    assert '"/metrics"' not in render_openapi()


@pytest.fixture
async def guarded(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(
        settings.model_copy(update={"metrics_token": SecretStr("scrape-secret")})
    )
    async with application.router.lifespan_context(application):
        yield application


async def test_metrics_token(guarded: FastAPI) -> None:
    transport = httpx.ASGITransport(app=guarded)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        refused = await http.get("/metrics", headers={"authorization": "Bearer wrong"})
        assert refused.status_code == 401
        assert refused.headers["content-type"] == "application/problem+json"
        allowed = await http.get("/metrics", headers={"authorization": "Bearer scrape-secret"})
        assert allowed.status_code == 200


async def test_metrics_can_be_turned_off(settings: Settings) -> None:
    application = create_app(settings.model_copy(update={"metrics_enabled": False}))
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            assert (await http.get("/metrics")).status_code == 404


async def test_correlation_id_reaches_the_decision_notification(
    app: FastAPI, http: httpx.AsyncClient
) -> None:
    factory = app.state.session_factory
    token = await make_fo(factory, "FO-A")
    await make_site(factory, "s1")
    await make_contract(factory, "FO-A")
    headers = {
        "authorization": f"Bearer {token}",
        "idempotency-key": "k-c",
        "x-correlation-id": "fo-run-42",
    }
    posted = await http.post("/v1/flexibility-services", json=request_body("fs-c"), headers=headers)
    assert posted.status_code == 202
    started = utcnow()
    assert await decision_step(factory, app.state.keys)() == 1
    async with factory() as session:
        rows = (await session.execute(select(OutboxRow))).scalars().all()
    decided = [r for r in rows if r.fs_id == "fs-c" and r.created_at >= started]
    assert decided
    assert {r.payload["correlation_id"] for r in decided} == {"fo-run-42"}


def test_latency_buckets_are_cumulative_and_include_their_bound() -> None:
    metrics = AppMetrics()
    for seconds in (0.001, 0.005, 0.007, 42.0):
        metrics.observe_request("POST", "/v1/flexibility-services", 202, seconds)
    metrics.observe_request("POST", "/v1/flexibility-services", 409, 0.003)
    found = samples(metrics.render().decode())
    labels = {"method": "POST", "route": "/v1/flexibility-services"}
    bucket = "fcsbe_http_request_duration_seconds_bucket"
    assert value(found, bucket, le="0.002", **labels) == 1
    assert value(found, bucket, le="0.005", **labels) == 3
    assert value(found, bucket, le="0.01", **labels) == 4
    assert value(found, bucket, le="10.0", **labels) == 4
    assert value(found, bucket, le="+Inf", **labels) == 5
    assert value(found, "fcsbe_http_request_duration_seconds_sum", **labels) == pytest.approx(
        42.016
    )
    assert value(found, "fcsbe_http_requests_total", status="202", **labels) == 4
    assert value(found, "fcsbe_http_requests_total", status="409", **labels) == 1
