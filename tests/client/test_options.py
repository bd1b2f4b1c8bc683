"""Per-call options (`with_options`) and raw responses (`with_raw_response`, `raw_response`)
through the real server."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from fcsbe.client import (
    FcsbeClient,
    NotFoundError,
    RawResponse,
    RetryPolicy,
    ServiceUnavailableError,
)
from fcsbe.model import FlexibilityService, FsAccepted, VersionDetails
from tests.client.fs_world import Counting, fo_client, fs_request, setup_fo


async def test_with_options_adds_headers_and_shares_pool_and_credentials(app: FastAPI) -> None:
    token = await setup_fo(app)
    counting = Counting(app)
    async with fo_client(counting, token) as client:
        traced = client.with_options(headers={"x-request-id": "trace-0001"})
        raw = await traced.with_raw_response.flexibility_services.create(fs_request("fs-1"))
        assert raw.headers["x-request-id"] == "trace-0001"  # the server echoes it
        assert counting.requests[-1].headers["x-request-id"] == "trace-0001"
        plain = await client.with_raw_response.flexibility_services.get("fs-1")
        assert plain.headers["x-request-id"] != "trace-0001"
        assert traced._transport.http is client._transport.http  # one connection pool
        client.token = "fcsbe_at_unknown"  # e.g. after a rotation: every copy follows
        assert traced.token == "fcsbe_at_unknown"
        await traced.aclose()  # closes nothing: the original owns the pool
        assert not client._transport.http.is_closed


async def test_with_options_sets_timeout_and_retries() -> None:
    seen: list[httpx.Request] = []

    def respond(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(503, json={"title": "busy", "status": 503})

    async def no_sleep(_seconds: float) -> None:
        return None

    async with FcsbeClient(
        "http://fcsbe.test",
        transport=httpx.MockTransport(respond),
        retry=RetryPolicy(max_attempts=4),
        sleep=no_sleep,
        timeout_s=10,
    ) as client:
        with pytest.raises(ServiceUnavailableError):
            await client.with_options(max_retries=0, timeout_s=1.5).heartbeat.send()
        assert len(seen) == 1
        assert seen[0].extensions["timeout"]["read"] == 1.5
        with pytest.raises(ServiceUnavailableError):
            await client.with_options(max_retries=1).heartbeat.send()
        assert len(seen) == 3
        assert seen[-1].extensions["timeout"]["read"] == 10  # the client's own
        with pytest.raises(ValueError, match="max_retries"):
            client.with_options(max_retries=-1)


async def test_raw_responses_carry_the_parsed_model(app: FastAPI, client: FcsbeClient) -> None:
    client.token = await setup_fo(app)
    details = await client.with_raw_response.discovery.version_details()
    assert details.status_code == 200
    assert isinstance(details.parsed, VersionDetails)
    assert details.parse() is details.parsed
    created: RawResponse[FsAccepted] = await client.raw_response(
        client.flexibility_services.create(fs_request("fs-raw"))
    )
    assert created.status_code == 202
    assert created.headers["location"] == "/v1/flexibility-services/fs-raw"
    assert created.parsed.fs_id == "fs-raw"
    assert created.http_responses == (created.http_response,)
    read = await client.raw_response(client.flexibility_services.get("fs-raw"))
    assert isinstance(read.parsed, FlexibilityService)
    assert read.http_response.json()["fs_id"] == "fs-raw"
    with pytest.raises(NotFoundError) as missing:  # error answers stay exceptions
        await client.with_raw_response.flexibility_services.get("fs-none")
    assert missing.value.response.status_code == 404
    with pytest.raises(AttributeError, match="no raw form"):
        client.with_raw_response.flexibility_services.list  # noqa: B018 - a pager
    with pytest.raises(AttributeError, match="no namespace"):
        client.with_raw_response.nothing  # noqa: B018
