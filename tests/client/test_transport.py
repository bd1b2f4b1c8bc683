"""The client's transport against failure transports: retries, Retry-After, idempotency keys."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from fcsbe.client import (
    ConflictError,
    FcsbeClient,
    FcsbeConnectionError,
    NotFoundError,
    RetryPolicy,
    ServiceUnavailableError,
    UnprocessableEntityError,
)
from fcsbe.client.transport import _retry_after_s

PROBLEM_404 = {
    "type": "https://fcsbe.org/problems/not-found",
    "title": "Not found",
    "status": 404,
    "detail": "no such contract",
    "instance": "urn:request:r1",
}


class Recorder:
    """A mock transport (a process boundary: the network) that records what it was sent."""

    def __init__(self, script: list[Callable[[httpx.Request], httpx.Response]]) -> None:
        self.script = script
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        step = self.script[min(len(self.requests) - 1, len(self.script) - 1)]
        return step(request)


def _status(code: int, headers: dict[str, str] | None = None, body: object = None):  # type: ignore[no-untyped-def]
    def respond(_request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            code, headers=headers, json=body if body is not None else {"ok": True}
        )

    return respond


def _reset(_request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("connection reset")


def _client(recorder: Recorder, sleeps: list[float], attempts: int = 4) -> FcsbeClient:
    async def fake_sleep(seconds: float) -> None:
        sleeps.append(seconds)

    return FcsbeClient(
        "http://fcsbe.test",
        token="tok",
        transport=httpx.MockTransport(recorder),
        retry=RetryPolicy(max_attempts=attempts, initial_backoff_s=0.5, max_backoff_s=4),
        sleep=fake_sleep,
    )


async def test_retries_reuse_the_idempotency_key_and_honour_retry_after() -> None:
    recorder = Recorder([_status(503, {"Retry-After": "7"}), _reset, _status(200)])
    sleeps: list[float] = []
    async with _client(recorder, sleeps) as client:
        response = await client._transport.request("POST", "/v1/x", json={"a": 1})
    assert response.status_code == 200
    keys = {r.headers["idempotency-key"] for r in recorder.requests}
    assert len(recorder.requests) == 3
    assert len(keys) == 1
    assert sleeps[0] == 7.0
    assert 0 <= sleeps[1] <= 1.0
    assert all(r.headers["authorization"] == "Bearer tok" for r in recorder.requests)


async def test_backoff_grows_and_is_capped() -> None:
    recorder = Recorder([_reset])
    sleeps: list[float] = []
    async with _client(recorder, sleeps, attempts=6) as client:
        with pytest.raises(FcsbeConnectionError):
            await client._transport.request("GET", "/v1")
    assert len(recorder.requests) == 6
    assert len(sleeps) == 5
    ceilings = [0.5, 1, 2, 4, 4]
    assert all(0 <= s <= c for s, c in zip(sleeps, ceilings, strict=True))


async def test_gives_up_with_the_decoded_problem() -> None:
    recorder = Recorder([_status(503, {"Retry-After": "1"})])
    sleeps: list[float] = []
    async with _client(recorder, sleeps, attempts=3) as client:
        with pytest.raises(ServiceUnavailableError) as info:
            await client._transport.request("GET", "/v1")
    assert len(recorder.requests) == 3
    assert info.value.status_code == 503


async def test_retry_after_is_capped() -> None:
    recorder = Recorder([_status(429, {"Retry-After": "99999"}), _status(200)])
    sleeps: list[float] = []
    async with _client(recorder, sleeps) as client:
        await client._transport.request("GET", "/v1")
    assert sleeps == [60.0]


@pytest.mark.parametrize(("code", "error"), [(404, NotFoundError), (422, UnprocessableEntityError)])
async def test_client_errors_are_not_retried(code: int, error: type[Exception]) -> None:
    body = {**PROBLEM_404, "status": code}
    recorder = Recorder([_status(code, {"content-type": "application/problem+json"}, body)])
    async with _client(recorder, []) as client:
        with pytest.raises(error) as info:
            await client._transport.request("GET", "/v1/contracts/x")
    assert len(recorder.requests) == 1
    assert info.value.problem.detail == "no such contract"  # type: ignore[attr-defined]


async def test_conflict_after_retries_is_conflict_error() -> None:
    in_use = {
        **PROBLEM_404,
        "status": 409,
        "type": "https://fcsbe.org/problems/idempotency-key-in-use",
    }
    recorder = Recorder([_status(409, body=in_use)])
    async with _client(recorder, [], attempts=2) as client:
        with pytest.raises(ConflictError):
            await client._transport.request("POST", "/v1/x", json={})
    assert len(recorder.requests) == 2


async def test_other_conflicts_are_not_retried() -> None:
    recorder = Recorder([_status(409, body={**PROBLEM_404, "status": 409})])
    async with _client(recorder, [], attempts=2) as client:
        with pytest.raises(ConflictError):
            await client._transport.request("POST", "/v1/x", json={})
    assert len(recorder.requests) == 1


async def test_non_problem_error_body_still_decodes() -> None:
    recorder = Recorder([lambda _r: httpx.Response(404, text="<html>nope</html>")])
    async with _client(recorder, []) as client:
        with pytest.raises(NotFoundError) as info:
            await client._transport.request("GET", "/v1/x")
    assert info.value.problem.status == 404


async def test_given_idempotency_key_is_sent() -> None:
    recorder = Recorder([_status(200)])
    async with _client(recorder, []) as client:
        await client._transport.request("PUT", "/v1/x", json={}, idempotency_key="k-1")
        await client._transport.request("GET", "/v1/x")
    assert recorder.requests[0].headers["idempotency-key"] == "k-1"
    assert "idempotency-key" not in recorder.requests[1].headers


def test_retry_after_parsing() -> None:
    assert _retry_after_s(httpx.Response(503, headers={"Retry-After": "3"})) == 3.0
    assert _retry_after_s(httpx.Response(503, headers={"Retry-After": "soon"})) is None
    past = "Wed, 21 Oct 2015 07:28:00 GMT"
    assert _retry_after_s(httpx.Response(503, headers={"Retry-After": past})) == 0.0
    assert _retry_after_s(httpx.Response(503)) is None
