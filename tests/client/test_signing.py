"""The client signs every state-changing request, afresh on each attempt."""

from __future__ import annotations

import json

import httpx

from fcsbe.client import FcsbeClient, RetryPolicy
from fcsbe.model import (
    SIGNATURE_HEADER,
    generate_signing_key,
    public_jwk,
    signature_header,
    verify_detached,
)


async def test_each_attempt_is_signed_with_a_new_jti() -> None:
    key = generate_signing_key("fo-1")
    seen: list[httpx.Request] = []

    def respond(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if len(seen) == 1:
            return httpx.Response(
                503, headers={"retry-after": "0"}, json={"title": "busy", "status": 503}
            )
        return httpx.Response(
            200,
            json={
                "server_time": "2026-03-02T17:00:00Z",
                "heartbeat_interval_s": 60,
                "offline_timeout_s": 300,
                "next_heartbeat_at": "2026-03-02T17:01:00Z",
            },
        )

    async def no_sleep(_seconds: float) -> None:
        return None

    async with FcsbeClient(
        "https://cso.example/base",
        token="t",
        signing_key=key,
        transport=httpx.MockTransport(respond),
        retry=RetryPolicy(max_attempts=2),
        sleep=no_sleep,
    ) as client:
        await client.heartbeat.send()
    first, second = seen
    signatures = [r.headers[SIGNATURE_HEADER] for r in seen]
    headers = [signature_header(s) for s in signatures]
    assert headers[0]["jti"] != headers[1]["jti"]
    assert first.headers["idempotency-key"] == second.headers["idempotency-key"]
    assert headers[0]["htu"] == "/base/v1/heartbeat"
    assert headers[0]["htm"] == "POST"
    body = json.loads(second.content)
    assert verify_detached(signatures[1], body, [public_jwk(key)]) == "fo-1"


async def test_reads_are_not_signed_and_no_key_means_no_signature() -> None:
    seen: list[httpx.Request] = []

    def respond(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"versions": []})

    async with FcsbeClient(
        "https://cso.example",
        signing_key=generate_signing_key(),
        transport=httpx.MockTransport(respond),
    ) as signed:
        await signed.discovery.versions()
    async with FcsbeClient("https://cso.example", transport=httpx.MockTransport(respond)) as plain:
        await plain.discovery.versions()
    assert all(SIGNATURE_HEADER not in r.headers for r in seen)
