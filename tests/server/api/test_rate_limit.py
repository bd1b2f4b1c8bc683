"""Rate limits (S3): token buckets per party and per client IP; 429 + Retry-After problems."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from fcsbe.client import FcsbeClient, RateLimitError, RetryPolicy
from fcsbe.model import FlexibilityServiceRequest, Problem
from fcsbe.server.app import create_app
from fcsbe.server.platform.rate_limit import TokenBuckets
from fcsbe.server.settings import Settings
from tests.support.databases import empty_all
from tests.support.factories import make_fo
from tests.support.fs_fixtures import request_body


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_bucket_grants_the_burst_then_refills_at_the_rate() -> None:
    clock = FakeClock()
    buckets = TokenBuckets(2.0, 3, clock=clock)
    assert [buckets.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("a") == pytest.approx(0.5)
    assert buckets.take("b") == 0.0  # keys are independent
    clock.now += 0.5
    assert buckets.take("a") == 0.0
    assert buckets.take("a") == pytest.approx(0.5)
    clock.now += 100
    assert [buckets.take("a") for _ in range(4)][-1] > 0  # never more than the burst


def test_peek_and_charge_for_callers_known_only_afterwards() -> None:
    clock = FakeClock()
    buckets = TokenBuckets(1.0, 2, clock=clock)
    assert buckets.peek("ip") == 0.0
    buckets.charge("ip")
    buckets.charge("ip")
    buckets.charge("ip")  # never below empty: the debt is at most one token's wait
    assert buckets.peek("ip") == pytest.approx(1.0)
    clock.now += 1.0
    assert buckets.peek("ip") == 0.0


def test_memory_stays_bounded() -> None:
    clock = FakeClock()
    buckets = TokenBuckets(1.0, 1, clock=clock, max_keys=100)
    for n in range(1000):
        buckets.take(f"ip:{n}")
        clock.now += 0.01
    assert len(buckets._buckets) <= 100


def limited(settings: Settings, rate: float = 0.001, burst: int = 2) -> Settings:
    return settings.model_copy(update={"rate_limit_per_s": rate, "rate_limit_burst": burst})


@pytest.fixture
async def tiny(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(limited(settings))
    async with application.router.lifespan_context(application):
        await empty_all(application.state.engine)
        yield application


@pytest.fixture
async def tiny_http(tiny: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=tiny)
    async with httpx.AsyncClient(transport=transport, base_url="http://fcsbe.test") as http:
        yield http


def assert_rate_limited(response: httpx.Response) -> None:
    assert response.status_code == 429
    assert response.headers["content-type"] == "application/problem+json"
    assert int(response.headers["retry-after"]) >= 1
    problem = Problem.model_validate_json(response.content)
    assert problem.slug == "rate-limited"
    assert problem.instance == f"urn:request:{response.headers['x-request-id']}"


async def test_each_party_has_its_own_bucket(tiny: FastAPI, tiny_http: httpx.AsyncClient) -> None:
    first = await make_fo(tiny.state.session_factory, "FO-A")
    second = await make_fo(tiny.state.session_factory, "FO-B")
    a = {"authorization": f"Bearer {first}"}
    b = {"authorization": f"Bearer {second}"}
    for _ in range(2):
        assert (await tiny_http.get("/v1/flexibility-services", headers=a)).status_code == 200
    assert_rate_limited(await tiny_http.get("/v1/flexibility-services", headers=a))
    assert (await tiny_http.get("/v1/flexibility-services", headers=b)).status_code == 200
    assert (await tiny_http.get("/versions")).status_code == 200  # the IP's bucket is untouched


async def test_anonymous_callers_are_limited_per_ip_but_probes_never(
    tiny_http: httpx.AsyncClient,
) -> None:
    for _ in range(2):
        assert (await tiny_http.get("/versions")).status_code == 200
    assert_rate_limited(await tiny_http.get("/versions"))
    for path in ("/healthz", "/readyz", "/metrics"):
        assert (await tiny_http.get(path)).status_code == 200
    scraped = (await tiny_http.get("/metrics")).text
    assert 'fcsbe_http_requests_total{method="GET",route="unmatched",status="429"} 1.0' in scraped


async def test_failed_authentication_draws_on_the_ip(
    tiny: FastAPI, tiny_http: httpx.AsyncClient
) -> None:
    good = await make_fo(tiny.state.session_factory, "FO-A")
    for n in range(2):
        guess = {"authorization": f"Bearer fcsbe_at_guess{n}"}
        assert (await tiny_http.get("/v1/flexibility-services", headers=guess)).status_code == 401
    guess = {"authorization": "Bearer fcsbe_at_guess9"}
    assert_rate_limited(await tiny_http.get("/v1/flexibility-services", headers=guess))
    refused = await tiny_http.get(
        "/v1/flexibility-services", headers={"authorization": f"Bearer {good}"}
    )
    assert_rate_limited(refused)  # the IP is in debt, whatever credentials it now shows


async def test_client_raises_rate_limit_error_after_honouring_retry_after(
    tiny: FastAPI,
) -> None:
    token = await make_fo(tiny.state.session_factory, "FO-A")
    waits: list[float] = []

    async def record(seconds: float) -> None:
        waits.append(seconds)

    transport = httpx.ASGITransport(app=tiny)
    async with FcsbeClient(
        "http://fcsbe.test",
        token=token,
        transport=transport,
        retry=RetryPolicy(max_attempts=2),
        sleep=record,
    ) as client:
        for n in range(2):
            body = FlexibilityServiceRequest.model_validate(request_body(f"fs-{n}"))
            await client.flexibility_services.create(body)
        with pytest.raises(RateLimitError):
            await client.flexibility_services.create(
                FlexibilityServiceRequest.model_validate(request_body("fs-9"))
            )
    assert waits
    assert waits[0] >= 1  # the server's Retry-After


async def test_zero_disables_the_limit(settings: Settings) -> None:
    application = create_app(limited(settings, rate=0))
    assert application.state.rate_limits is None
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            for _ in range(5):
                assert (await http.get("/versions")).status_code == 200
