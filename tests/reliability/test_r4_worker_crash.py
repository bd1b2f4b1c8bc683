"""R4: a delivery worker killed between commit and send (or mid-send) loses nothing.

A claim is a lease in the database, so whatever a dead worker held becomes due again when the
lease ends; the redelivery carries the same webhook-id, which the FO's receiver de-duplicates.
One test kills a real worker process with SIGKILL while its request is in flight.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator

import pytest
from fastapi import FastAPI
from sqlalchemy import select

from fcsbe.client.webhooks import WebhookReceiver
from fcsbe.server.storage.notifications import OutboxRow
from tests.support.factories import make_fo
from tests.support.webhooks import (
    Action,
    FakeClock,
    LoopbackReceiver,
    enqueue,
    open_worker,
    register,
)

WORKER_SCRIPT = """
import asyncio
from fcsbe.server.notifications.delivery import DeliveryWorker
from fcsbe.server.notifications.sender import WebhookSender
from fcsbe.server.settings import Settings
from fcsbe.server.storage.engine import create_engine, create_session_factory

async def main():
    settings = Settings()
    factory = create_session_factory(create_engine(settings))
    http = WebhookSender.make_client(settings.notification_timeout_s, 4)
    sender = WebhookSender(http, timeout_s=settings.notification_timeout_s, concurrency=4,
                           allow_loopback=True)
    worker = DeliveryWorker(factory, sender, settings)
    while True:
        await worker.step()
        await asyncio.sleep(0.01)

asyncio.run(main())
"""


@pytest.fixture
async def receiver() -> AsyncIterator[LoopbackReceiver]:
    loopback = LoopbackReceiver()
    await loopback.start()
    yield loopback
    await loopback.stop()


async def _setup(app: FastAPI, receiver: LoopbackReceiver, clock: FakeClock) -> list[str]:
    factory = app.state.session_factory
    await make_fo(factory, "FO-A")
    secret = await register(factory, "FO-A", receiver.base_url, app.state.settings)
    receiver.verifier = WebhookReceiver(secret, clock=clock.timestamp)
    return await enqueue(factory, "FO-A", 5)


async def _statuses(app: FastAPI) -> list[str]:
    async with app.state.session_factory() as session:
        return list((await session.scalars(select(OutboxRow.status))).all())


async def _outbox(app: FastAPI, clock: FakeClock) -> str:
    """The outbox rows as a failure message shows them (why a row is not delivered)."""
    columns = (
        OutboxRow.notification_id,
        OutboxRow.seq,
        OutboxRow.status,
        OutboxRow.attempts,
        OutboxRow.next_attempt_at,
        OutboxRow.lease_until,
        OutboxRow.last_error,
    )
    async with app.state.session_factory() as session:
        rows = (await session.execute(select(*columns))).all()
    return f"clock {clock.now.isoformat()}; rows: " + "; ".join(str(tuple(r)) for r in rows)


def _past_lease(app: FastAPI, clock: FakeClock) -> None:
    clock.advance(app.state.settings.notification_lease_s + 1)


async def test_killed_after_claim_commit_before_send(
    app: FastAPI, receiver: LoopbackReceiver
) -> None:
    clock = FakeClock()
    ids = await _setup(app, receiver, clock)
    async with open_worker(app, clock) as doomed:
        await doomed.sequence()
        batch, _ = await doomed.claim("doomed")  # committed lease; then the worker dies
        assert len(batch) == len(ids)
    async with open_worker(app, clock) as survivor:
        assert await survivor.step() == 0, "leased rows are not taken early"
        _past_lease(app, clock)
        await survivor.step()
    assert sorted(seen.webhook_id for seen in receiver.requests) == sorted(ids)
    assert set(await _statuses(app)) == {"DELIVERED"}


async def test_killed_mid_send_is_redelivered_with_the_same_id(
    app: FastAPI, receiver: LoopbackReceiver
) -> None:
    clock = FakeClock()
    ids = await _setup(app, receiver, clock)
    receiver.behaviour = lambda _seen: Action(hang=True)
    async with open_worker(app, clock) as doomed:
        task = asyncio.create_task(doomed.step())
        await asyncio.wait_for(receiver.arrived.wait(), timeout=10)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    receiver.behaviour = lambda _seen: Action(status=200)
    async with open_worker(app, clock) as survivor:
        _past_lease(app, clock)
        await survivor.step()
    assert set(await _statuses(app)) == {"DELIVERED"}
    assert {seen.webhook_id for seen in receiver.accepted()} == set(ids)
    hung = [seen for seen in receiver.requests if seen.status is None]
    assert hung, "the killed worker's requests reached the receiver"
    assert {seen.webhook_id for seen in hung} <= set(ids), "the retry reuses the webhook-id"


async def test_killed_after_send_before_record_only_duplicates_by_id(
    app: FastAPI, receiver: LoopbackReceiver
) -> None:
    clock = FakeClock()
    ids = await _setup(app, receiver, clock)
    async with open_worker(app, clock) as doomed:
        await doomed.sequence()
        batch, _ = await doomed.claim("doomed")
        await doomed.send(batch)  # the FO got them; the outcome is never recorded
    assert len(batch) == len(ids)
    async with open_worker(app, clock) as survivor:
        _past_lease(app, clock)
        await survivor.step()
    assert set(await _statuses(app)) == {"DELIVERED"}, await _outbox(app, clock)
    fo = receiver.verifier
    assert fo is not None
    received = [fo.receive(seen.body, seen.headers) for seen in receiver.requests]
    assert sorted(r.webhook_id for r in received if not r.duplicate) == sorted(ids)
    assert sorted(r.webhook_id for r in received if r.duplicate) == sorted(ids)


async def test_sigkill_of_a_worker_process_loses_nothing(
    app: FastAPI, receiver: LoopbackReceiver
) -> None:
    clock = FakeClock()
    ids = await _setup(app, receiver, clock)
    receiver.behaviour = lambda _seen: Action(hang=True)
    settings = app.state.settings
    env = {
        **os.environ,
        "FCSBE_DATABASE_URL": settings.database_url,
        # The same data folder as the server, as every replica has: its key ring opens the
        # webhook secrets the server sealed.
        "FCSBE_DATA_DIR": str(settings.data_dir),
        "FCSBE_NOTIFICATION_TIMEOUT_S": "20",
        "FCSBE_NOTIFICATION_LEASE_S": str(settings.notification_lease_s),
        "FCSBE_WEBHOOK_ALLOW_LOOPBACK": "true",
        "FCSBE_WEBHOOK_REQUIRE_HTTPS": "false",
        "FCSBE_LOG_LEVEL": "WARNING",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", WORKER_SCRIPT, env=env, stderr=asyncio.subprocess.DEVNULL
    )
    try:
        await asyncio.wait_for(receiver.arrived.wait(), timeout=30)
    finally:
        process.send_signal(signal.SIGKILL)
        await process.wait()
    assert process.returncode == -signal.SIGKILL
    assert any(status == "PENDING" for status in await _statuses(app))
    receiver.behaviour = lambda _seen: Action(status=204)
    async with open_worker(app, clock) as survivor:
        _past_lease(app, clock)
        for _ in range(3):
            await survivor.step()
    assert set(await _statuses(app)) == {"DELIVERED"}
    assert {seen.webhook_id for seen in receiver.accepted()} == set(ids)
