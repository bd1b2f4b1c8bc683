"""Outbox retention on a moved clock: settled notifications and their delivery log go after
their retention, only as a prefix of each FO's feed, never the FO's newest one; the feed
answers 410 to a position that was purged."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import pytest
from fastapi import FastAPI
from pydantic import ValidationError
from sqlalchemy import select

from fcsbe.client import FcsbeClient, GoneError
from fcsbe.model import DeliveryStatus
from fcsbe.server.notifications.outbox import purge_outbox
from fcsbe.server.notifications.sequencer import assign_sequence
from fcsbe.server.settings import Settings
from fcsbe.server.storage.notifications import DeliveryAttemptRow, OutboxRow
from tests.support.factories import make_fo
from tests.support.webhooks import (
    Action,
    FakeClock,
    LoopbackReceiver,
    enqueue,
    open_worker,
    register,
)

DAY = timedelta(days=1)


@pytest.fixture
async def receiver() -> AsyncIterator[LoopbackReceiver]:
    loopback = LoopbackReceiver()
    await loopback.start()
    yield loopback
    await loopback.stop()


async def _purge(app: FastAPI, now: datetime) -> int:
    settings: Settings = app.state.settings
    async with app.state.session_factory() as session:
        done = await purge_outbox(
            session,
            now,
            retention_days=settings.outbox_retention_days,
            dead_retention_days=settings.outbox_dead_retention_days,
        )
        await session.commit()
        return done


async def _kept(app: FastAPI) -> dict[int, str]:
    async with app.state.session_factory() as session:
        rows = (await session.execute(select(OutboxRow.seq, OutboxRow.status))).all()
    return {int(seq or 0): status for seq, status in rows}


async def _logged(app: FastAPI) -> list[int]:
    async with app.state.session_factory() as session:
        query = (
            select(OutboxRow.seq)
            .join(DeliveryAttemptRow, DeliveryAttemptRow.outbox_id == OutboxRow.id)
            .order_by(OutboxRow.seq)
        )
        return [int(seq or 0) for seq in (await session.execute(query)).scalars()]


async def _feed(client: FcsbeClient, after_seq: int) -> list[int]:
    return [n.seq async for n in client.notifications.feed(after_seq=after_seq)]


async def test_settled_notifications_are_purged_after_their_retention_only(
    app: FastAPI, client: FcsbeClient, receiver: LoopbackReceiver
) -> None:
    factory = app.state.session_factory
    clock = FakeClock()
    client.token = await make_fo(factory, "FO-A")
    await register(factory, "FO-A", receiver.base_url, app.state.settings)
    start = clock.now
    async with open_worker(app, clock) as worker:
        await enqueue(factory, "FO-A", 3)  # seq 1-3: delivered
        await worker.step()
        receiver.behaviour = lambda _seen: Action(status=500)
        await enqueue(factory, "FO-A", 1)  # seq 4: fails, stays pending
        await worker.step()
        receiver.behaviour = lambda _seen: Action(status=204)
        await enqueue(factory, "FO-A", 1)  # seq 5: delivered
        await worker.step()
    assert await _kept(app) == {
        1: "DELIVERED",
        2: "DELIVERED",
        3: "DELIVERED",
        4: "PENDING",
        5: "DELIVERED",
    }
    assert await _logged(app) == [1, 2, 3, 4, 5]

    # Within the retention (30 days by default) nothing goes.
    assert await _purge(app, start + 29 * DAY) == 0
    assert await _feed(client, 0) == [1, 2, 3, 4, 5]

    # After it, the delivered prefix goes with its log; the pending seq 4 holds the rest.
    assert await _purge(app, start + 31 * DAY) == 3 + 1  # rows 1-3, and seq 5's old log row
    assert await _kept(app) == {4: "PENDING", 5: "DELIVERED"}
    assert await _logged(app) == [4]
    assert await _purge(app, start + 31 * DAY) == 0

    # A reader behind the purged prefix is told, naming the field; the rest reads on.
    with pytest.raises(GoneError) as gone:
        await _feed(client, 0)
    problem = gone.value.problem
    assert problem.status == 410
    assert problem.type.endswith("feed-position-expired")
    assert [e.pointer for e in problem.errors or []] == ["/query/after_seq"]
    assert await _feed(client, 3) == [4, 5]

    # Seq 4 is dead-lettered after its retry window: kept for the operator far longer.
    receiver.behaviour = lambda _seen: Action(status=503)
    clock.advance(25 * 3600)
    async with open_worker(app, clock) as worker:
        await worker.step()
    assert (await _kept(app))[4] == DeliveryStatus.DEAD.value
    assert await _purge(app, start + 60 * DAY) == 0
    assert await _logged(app) == [4, 4]  # a dead letter keeps its delivery log

    # After the dead-letter retention (90 days) it goes too; the newest row always stays,
    # so the FO's seq counter carries on.
    assert await _purge(app, start + 91 * DAY) == 1
    assert await _kept(app) == {5: "DELIVERED"}
    assert await _feed(client, 4) == [5]
    with pytest.raises(GoneError):
        await _feed(client, 3)
    await enqueue(factory, "FO-A", 1)
    async with factory() as session:
        await assign_sequence(session)
        await session.commit()
    assert await _feed(client, 4) == [5, 6]


async def test_parked_notifications_of_each_fo_are_purged_independently(
    app: FastAPI, client: FcsbeClient
) -> None:
    factory = app.state.session_factory
    client.token = await make_fo(factory, "FO-A")
    await make_fo(factory, "FO-B")
    clock = FakeClock()
    await enqueue(factory, "FO-A", 3)
    await enqueue(factory, "FO-B", 2)
    async with open_worker(app, clock) as worker:  # no endpoints: parked, feed only
        await worker.step()
    assert await _purge(app, clock.now + 31 * DAY) == 2 + 1
    async with factory() as session:
        rows = await session.execute(select(OutboxRow.fo_party_id, OutboxRow.seq))
        assert sorted(tuple(row) for row in rows.all()) == [("FO-A", 3), ("FO-B", 2)]
    assert await _feed(client, 2) == [3]


@pytest.mark.parametrize(
    ("retention", "dead"), [(3.0, 90.0), (30.0, 10.0)], ids=["below-replay-window", "dead-short"]
)
def test_retention_never_undercuts_the_feed_replay_window(retention: float, dead: float) -> None:
    with pytest.raises(ValidationError):
        Settings(outbox_retention_days=retention, outbox_dead_retention_days=dead)
