"""Feed positions: per FO, gap-free, and never behind a notification committed later."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from sqlalchemy import select

from fcsbe.server.notifications.outbox import enqueue_notification, feed_page
from fcsbe.server.notifications.sequencer import assign_sequence
from fcsbe.server.storage.notifications import OutboxRow
from tests.support.webhooks import enqueue


async def _sequence(app: FastAPI) -> int:
    async with app.state.session_factory() as session:
        done = await assign_sequence(session)
        await session.commit()
        return done


async def _feed(app: FastAPI, party: str, after: int = 0) -> list[tuple[int, str]]:
    async with app.state.session_factory() as session:
        items, _ = await feed_page(session, party, after, 500)
    return [(item.seq, item.notification_id) for item in items]


async def test_sequence_is_gap_free_per_fo(app: FastAPI) -> None:
    factory = app.state.session_factory
    a1 = await enqueue(factory, "FO-A", 2)
    b1 = await enqueue(factory, "FO-B", 1)
    a2 = await enqueue(factory, "FO-A", 1)
    assert await _sequence(app) == 4
    b2 = await enqueue(factory, "FO-B", 2)
    assert await _sequence(app) == 2
    assert await _sequence(app) == 0
    assert await _feed(app, "FO-A") == list(enumerate(a1 + a2, start=1))
    assert await _feed(app, "FO-B") == list(enumerate(b1 + b2, start=1))
    assert await _feed(app, "FO-B", after=1) == list(enumerate(b2, start=2))


async def test_unsequenced_rows_are_not_served(app: FastAPI) -> None:
    await enqueue(app.state.session_factory, "FO-A", 1)
    assert await _feed(app, "FO-A") == []
    await _sequence(app)
    assert len(await _feed(app, "FO-A")) == 1


@pytest.mark.parametrize("backend", ["postgresql"])  # SQLite serialises writers
async def test_a_late_commit_with_a_smaller_id_is_not_skipped(app: FastAPI) -> None:
    """Row ids are taken at INSERT; commits come in another order. The feed must not skip."""
    factory = app.state.session_factory
    async with factory() as slow:
        late = await enqueue_notification(
            slow,
            fo_party_id="FO-A",
            type="FS_STATE_CHANGED",
            data={"revision": 1, "to_state": "ACTIVE", "n": "late"},
        )
        await slow.flush()  # takes the smaller id, not committed yet
        (early,) = await enqueue(factory, "FO-A", 1)  # bigger id, committed first
        await _sequence(app)
        seen = await _feed(app, "FO-A")
        assert seen == [(1, early)]
        await slow.commit()
    async with factory() as session:
        ids = dict((await session.execute(select(OutboxRow.notification_id, OutboxRow.id))).all())
    assert ids[late] < ids[early]
    await _sequence(app)
    assert await _feed(app, "FO-A", after=seen[-1][0]) == [(2, late)]


async def test_feed_pages_follow_seq(app: FastAPI) -> None:
    ids = await enqueue(app.state.session_factory, "FO-A", 5)
    await _sequence(app)
    async with app.state.session_factory() as session:
        first, last = await feed_page(session, "FO-A", 0, 2)
        assert [n.notification_id for n in first] == ids[:2]
        assert last == 2
        rest, end = await feed_page(session, "FO-A", 4, 2)
        assert [n.notification_id for n in rest] == ids[4:]
        assert end is None
