"""The delivery step against a real loopback receiver, with an injected clock."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from fastapi import FastAPI
from sqlalchemy import select

from fcsbe.client.webhooks import WebhookReceiver, WebhookVerificationError
from fcsbe.model import DeliveryStatus, WebhookSignatureScheme, generate_signing_key
from fcsbe.server.security.keys import ServerKeys
from fcsbe.server.services.enrolments.webhook_endpoints import register_endpoint, rotate_secret
from fcsbe.server.storage.notifications import DeliveryAttemptRow, OutboxRow
from fcsbe.server.storage.webhook_endpoints import WebhookEndpointRow
from tests.support.factories import make_fo
from tests.support.webhooks import (
    Action,
    FakeClock,
    LoopbackReceiver,
    enqueue,
    open_worker,
    register,
)


@pytest.fixture
async def receiver() -> AsyncIterator[LoopbackReceiver]:
    loopback = LoopbackReceiver()
    await loopback.start()
    yield loopback
    await loopback.stop()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


async def _setup(app: FastAPI, receiver: LoopbackReceiver, clock: FakeClock) -> str:
    factory = app.state.session_factory
    await make_fo(factory, "FO-A")
    secret = await register(factory, "FO-A", receiver.base_url, app.state.settings)
    receiver.verifier = WebhookReceiver(secret, clock=clock.timestamp)
    return secret


async def _rows(app: FastAPI) -> list[OutboxRow]:
    async with app.state.session_factory() as session:
        return list((await session.execute(select(OutboxRow).order_by(OutboxRow.id))).scalars())


async def _attempts(app: FastAPI) -> list[DeliveryAttemptRow]:
    async with app.state.session_factory() as session:
        query = select(DeliveryAttemptRow).order_by(DeliveryAttemptRow.id)
        return list((await session.execute(query)).scalars())


async def test_delivers_signed_standard_webhooks(
    app: FastAPI, receiver: LoopbackReceiver, clock: FakeClock
) -> None:
    await _setup(app, receiver, clock)
    ids = await enqueue(app.state.session_factory, "FO-A", 3)
    async with open_worker(app, clock) as worker:
        assert await worker.step() == 6  # 3 sequenced + 3 delivered
        assert await worker.step() == 0
    assert sorted(seen.webhook_id for seen in receiver.requests) == sorted(ids)
    for seen in receiver.requests:
        assert seen.error is None
        assert seen.notification is not None
        assert seen.headers["webhook-signature"].startswith("v1,")
        assert seen.headers["webhook-timestamp"] == str(int(clock.timestamp()))
        assert seen.headers["content-type"] == "application/json"
        assert seen.notification.notification_id == seen.webhook_id
    assert sorted(s.notification.seq for s in receiver.requests if s.notification) == [1, 2, 3]
    rows = await _rows(app)
    assert {row.status for row in rows} == {DeliveryStatus.DELIVERED.value}
    assert all(row.attempts == 1 and row.lease_owner is None for row in rows)
    attempts = await _attempts(app)
    assert [(a.outcome, a.status_code) for a in attempts] == [("DELIVERED", 204)] * 3


async def test_failures_back_off_exponentially_with_jitter(
    app: FastAPI, receiver: LoopbackReceiver, clock: FakeClock
) -> None:
    await _setup(app, receiver, clock)
    receiver.behaviour = lambda _seen: Action(status=500)
    await enqueue(app.state.session_factory, "FO-A")
    delays = []
    async with open_worker(app, clock) as worker:
        for _ in range(6):
            await worker.step()
            (row,) = await _rows(app)
            delay = (row.next_attempt_at - clock.now).total_seconds()
            delays.append(delay)
            assert await worker.step() == 0, "not due again before its time"
            clock.advance(delay)
    initial = app.state.settings.notification_backoff_initial_s
    for index, delay in enumerate(delays):
        ceiling = initial * 2**index
        assert ceiling / 2 <= delay <= ceiling
    assert len(receiver.requests) == 6
    assert {seen.webhook_id for seen in receiver.requests} == {row.notification_id}
    assert row.last_error == "HTTP 500"


async def test_retry_after_is_honoured_and_pauses_the_endpoint(
    app: FastAPI, receiver: LoopbackReceiver, clock: FakeClock
) -> None:
    await _setup(app, receiver, clock)
    receiver.behaviour = lambda _seen: Action(status=429, headers=(("retry-after", "120"),))
    await enqueue(app.state.session_factory, "FO-A")
    async with open_worker(app, clock) as worker:
        await worker.step()
        assert len(receiver.requests) == 1
        await enqueue(app.state.session_factory, "FO-A")
        clock.advance(119)
        await worker.step()
        assert len(receiver.requests) == 1, "nothing is sent to a paused endpoint"
        receiver.behaviour = lambda _seen: Action(status=200)
        clock.advance(1)
        await worker.step()
        await worker.step()
    assert len(receiver.accepted()) == 2
    assert {row.status for row in await _rows(app)} == {DeliveryStatus.DELIVERED.value}


async def test_gone_disables_the_endpoint_and_parks_its_notifications(
    app: FastAPI, receiver: LoopbackReceiver, clock: FakeClock
) -> None:
    await _setup(app, receiver, clock)
    receiver.behaviour = lambda _seen: Action(status=410)
    await enqueue(app.state.session_factory, "FO-A")
    async with open_worker(app, clock) as worker:
        await worker.step()
        await enqueue(app.state.session_factory, "FO-A")
        await worker.step()
    assert len(receiver.requests) == 1
    assert [row.status for row in await _rows(app)] == ["PARKED", "PARKED"]
    async with app.state.session_factory() as session:
        endpoint = await session.get(WebhookEndpointRow, "FO-A")
    assert endpoint is not None
    assert endpoint.status == "DISABLED"
    assert "410" in str(endpoint.disabled_reason)


async def test_dead_letter_only_after_the_retry_window(
    app: FastAPI, receiver: LoopbackReceiver, clock: FakeClock
) -> None:
    await _setup(app, receiver, clock)
    receiver.behaviour = lambda _seen: Action(status=503)
    await enqueue(app.state.session_factory, "FO-A")
    start = clock.now
    async with open_worker(app, clock) as worker:
        for _ in range(200):
            await worker.step()
            (row,) = await _rows(app)
            if row.status != "PENDING":
                break
            clock.now = max(clock.now, row.next_attempt_at)
    assert row.status == DeliveryStatus.DEAD.value
    assert clock.now - start >= timedelta(hours=24)
    assert len(receiver.requests) == row.attempts
    times = [attempt.attempted_at for attempt in await _attempts(app)]
    assert max(b - a for a, b in itertools.pairwise(times)) <= timedelta(hours=1)


async def test_no_endpoint_parks_but_the_feed_keeps_it(app: FastAPI, clock: FakeClock) -> None:
    await make_fo(app.state.session_factory, "FO-B")
    await enqueue(app.state.session_factory, "FO-B", 2)
    async with open_worker(app, clock) as worker:
        assert await worker.step() == 4
    rows = await _rows(app)
    assert [(row.status, row.seq) for row in rows] == [("PARKED", 1), ("PARKED", 2)]


async def test_rotation_signs_with_both_secrets_during_the_overlap(
    app: FastAPI, receiver: LoopbackReceiver, clock: FakeClock
) -> None:
    old = await _setup(app, receiver, clock)
    async with app.state.session_factory() as session:
        _, new = await rotate_secret(session, "FO-A", settings=app.state.settings)
        await session.commit()
    await enqueue(app.state.session_factory, "FO-A")
    async with open_worker(app, clock) as worker:
        await worker.step()
    (seen,) = receiver.requests
    assert len(seen.headers["webhook-signature"].split()) == 2
    for secret in (old, new):
        assert WebhookReceiver(secret, clock=clock.timestamp).verify(seen.body, seen.headers)


async def test_loopback_is_refused_at_connect_time_unless_allowed(
    app: FastAPI, receiver: LoopbackReceiver, clock: FakeClock
) -> None:
    await _setup(app, receiver, clock)
    await enqueue(app.state.session_factory, "FO-A")
    strict = app.state.settings.model_copy(update={"webhook_allow_loopback": False})
    async with open_worker(app, clock, strict) as worker:
        await worker.step()
    assert receiver.requests == []
    (attempt,) = await _attempts(app)
    assert attempt.outcome == "BLOCKED"
    assert "127.0.0.1" in str(attempt.error)


async def test_results_of_a_worker_that_lost_its_lease_are_ignored(
    app: FastAPI, receiver: LoopbackReceiver, clock: FakeClock
) -> None:
    await _setup(app, receiver, clock)
    await enqueue(app.state.session_factory, "FO-A")
    async with open_worker(app, clock) as slow, open_worker(app, clock) as fast:
        await slow.sequence()
        batch, _ = await slow.claim("slow")
        clock.advance(app.state.settings.notification_lease_s + 1)
        assert await fast.step() == 1
        results = await slow.send(batch)
        await slow.record("slow", batch, results)
    (row,) = await _rows(app)
    assert (row.status, row.attempts) == ("DELIVERED", 1)
    assert len(receiver.requests) == 2
    assert len({seen.webhook_id for seen in receiver.requests}) == 1


async def test_concurrent_claims_take_disjoint_rows(app: FastAPI, clock: FakeClock) -> None:
    factory = app.state.session_factory
    await make_fo(factory, "FO-A")
    await register(factory, "FO-A", "http://127.0.0.1:9", app.state.settings)
    await enqueue(factory, "FO-A", 40)
    settings = app.state.settings.model_copy(update={"notification_batch_size": 15})
    async with open_worker(app, clock, settings) as one, open_worker(app, clock, settings) as two:
        await one.sequence()
        claims = await asyncio.gather(*(w.claim(f"w{i}") for i, w in enumerate((one, two, one))))
    ids = [item.row_id for batch, _ in claims for item in batch]
    assert len(ids) == len(set(ids)) == 40


@pytest.mark.parametrize("schemes", [["v1a"], ["v1", "v1a"]])
async def test_ed25519_endpoints_get_v1a_signatures_verified_with_the_published_key(
    app: FastAPI,
    receiver: LoopbackReceiver,
    clock: FakeClock,
    schemes: list[WebhookSignatureScheme],
) -> None:
    factory = app.state.session_factory
    await make_fo(factory, "FO-A")
    async with factory() as session:
        secret = await register_endpoint(
            session,
            "FO-A",
            receiver.base_url,
            settings=app.state.settings,
            schemes=schemes,
        )
        await session.commit()
    assert (secret is not None) == ("v1" in schemes)
    jwks = app.state.keys.public_jwks()
    receiver.verifier = WebhookReceiver(public_keys=jwks, clock=clock.timestamp)
    await enqueue(factory, "FO-A", 2)
    async with open_worker(app, clock) as worker:
        await worker.step()
    assert len(receiver.requests) == 2
    for seen in receiver.requests:
        assert seen.error is None
        assert seen.notification is not None
        tokens = seen.headers["webhook-signature"].split()
        assert [t.partition(",")[0] for t in tokens] == schemes
        if secret is not None:
            assert WebhookReceiver(secret, clock=clock.timestamp).verify(seen.body, seen.headers)
        stranger = WebhookReceiver(
            public_keys=ServerKeys(generate_signing_key()).public_jwks(), clock=clock.timestamp
        )
        with pytest.raises(WebhookVerificationError):
            stranger.verify(seen.body, seen.headers)
    assert {row.status for row in await _rows(app)} == {DeliveryStatus.DELIVERED.value}
