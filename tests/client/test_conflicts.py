"""Which 409s the client retries: only transient ones (`idempotency-key-in-use`: the same key
still being processed; `proof-pending`; `conflict`: a race for a unique row; any 409 with
`Retry-After`); business conflicts are raised after one request."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from fcsbe.client import ConflictError
from fcsbe.server.storage.fast.keys import try_lock_key
from tests.client.fs_world import Counting, fo_client, fs_request, setup_fo


async def test_business_conflicts_are_not_retried(app: FastAPI) -> None:
    token = await setup_fo(app)
    counting = Counting(app)
    async with fo_client(counting, token) as client:
        await client.flexibility_services.create(fs_request("fs-1"))
        await client.flexibility_services.cancel("fs-1", "changed plans")
        sent = len(counting.requests)
        with pytest.raises(ConflictError) as exists:  # a new key, an fs_id already taken
            await client.flexibility_services.create(fs_request("fs-1"))
        assert exists.value.problem.slug == "fs-exists"
        assert len(counting.requests) == sent + 1
        with pytest.raises(ConflictError) as transition:  # cancelled already
            await client.flexibility_services.cancel("fs-1", "again")
        assert transition.value.problem.slug in {"illegal-transition", "fs-not-active"}
        assert len(counting.requests) == sent + 2


async def test_a_key_in_use_is_retried_until_it_is_free(app: FastAPI, backend: str) -> None:
    if backend != "postgresql":
        pytest.skip("SQLite serialises writers; there is no key lock to hold")
    token = await setup_fo(app)
    counting = Counting(app)
    async with app.state.session_factory() as holder:
        assert await try_lock_key(holder, "FO-A", "held")

        async def release(_seconds: float) -> None:
            await holder.rollback()  # the other request with this key ends

        async with fo_client(counting, token, sleep=release) as client:
            receipt = await client.flexibility_services.create(
                fs_request("fs-h"), idempotency_key="held"
            )
    assert receipt.fs_id == "fs-h"
    # Refused once (409 in use), then sent again with the same key and accepted.
    assert [r.headers["idempotency-key"] for r in counting.requests] == ["held", "held"]


def _answer(status: int, slug: str) -> httpx.Response:
    problem = {"type": f"https://fcsbe.org/problems/{slug}", "title": "t", "status": status}
    return httpx.Response(
        status, json=problem, headers={"content-type": "application/problem+json"}
    )


@pytest.mark.parametrize(
    ("slug", "attempts"),
    [
        ("idempotency-key-in-use", 3),
        ("proof-pending", 3),
        ("conflict", 3),
        ("fs-exists", 1),
        ("proof-already-validated", 1),
        ("illegal-transition", 1),
        ("stale-setpoint", 1),
    ],
)
async def test_only_key_in_use_conflicts_are_retried(slug: str, attempts: int) -> None:
    """The same rule on both backends, against a server that always answers this 409."""
    seen: list[httpx.Request] = []

    def respond(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return _answer(409, slug)

    async with fo_client(httpx.MockTransport(respond), "t", attempts=3) as client:
        with pytest.raises(ConflictError) as info:
            await client.flexibility_services.cancel("fs-1")
    assert info.value.problem.slug == slug
    assert len(seen) == attempts


async def test_a_conflict_with_retry_after_is_retried() -> None:
    seen: list[httpx.Request] = []

    def respond(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        answer = _answer(409, "some-new-transient-state")
        answer.headers["retry-after"] = "0"
        return answer

    async with fo_client(httpx.MockTransport(respond), "t", attempts=2) as client:
        with pytest.raises(ConflictError):
            await client.flexibility_services.cancel("fs-1")
    assert len(seen) == 2
