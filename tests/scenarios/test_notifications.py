"""Scenario (FS execution notifications, interface data item 5): push, verify, miss, replay.

The FO registers its webhook endpoint through the client, verifies and de-duplicates pushes
with the client's receiver helper, misses some while its receiver is down, sees the gap in
`seq` and replays them from the feed; the CSO operator inspects the delivery log and
redelivers a dead letter.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from fcsbe.client import FcsbeClient
from fcsbe.client.webhooks import WebhookReceiver
from fcsbe.model import (
    CommLostNotification,
    DeliveryStatus,
    FsState,
    FsStateChangedNotification,
    NotificationType,
    RedeliveryRequest,
)
from fcsbe.server.notifications.outbox import enqueue_notification
from fcsbe.server.notifications.sequencer import assign_sequence
from fcsbe.server.settings import Settings
from fcsbe.server.storage.notifications import OutboxRow
from tests.support.factories import make_fo, make_operator
from tests.support.webhooks import Action, FakeClock, LoopbackReceiver, enqueue, open_worker


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"webhook_allow_loopback": True, "webhook_require_https": False}
    )


@pytest.fixture
async def receiver() -> AsyncIterator[LoopbackReceiver]:
    loopback = LoopbackReceiver()
    await loopback.start()
    yield loopback
    await loopback.stop()


async def test_fo_receives_pushes_and_replays_what_it_missed(
    app: FastAPI, client: FcsbeClient, receiver: LoopbackReceiver
) -> None:
    factory = app.state.session_factory
    clock = FakeClock()
    client.token = await make_fo(factory, "NL-FLX")
    endpoint = await client.webhook_endpoints.put(receiver.base_url)
    assert endpoint.secret is not None
    fo = WebhookReceiver(endpoint.secret, clock=clock.timestamp)
    receiver.verifier = fo

    first = await enqueue(factory, "NL-FLX", 3)
    async with open_worker(app, clock) as worker:
        await worker.step()
        handled = [fo.receive(seen.body, seen.headers) for seen in receiver.requests]
        assert sorted(r.notification.seq for r in handled) == [1, 2, 3]
        assert {r.webhook_id for r in handled} == set(first)

        await receiver.stop()  # the FO's receiver goes down
        missed = await enqueue(factory, "NL-FLX", 2)
        await worker.step()
        await receiver.start()
        later = await enqueue(factory, "NL-FLX", 1)
        await worker.step()

    pushed = [fo.receive(seen.body, seen.headers) for seen in receiver.requests[3:]]
    assert [r.notification.seq for r in pushed] == [6], "seq 4 and 5 are missing: a gap"
    replay = [n async for n in client.notifications.feed(after_seq=3, page_size=1)]
    assert [n.notification_id for n in replay] == [*missed, *later]
    assert [n.seq for n in replay] == [4, 5, 6]
    assert replay[0].typed_data().model_dump()["to_state"] == "ACCEPTED"

    client.token = await make_operator(factory)
    pending = [r async for r in client.notifications.admin_list(status=DeliveryStatus.PENDING)]
    assert {r.notification_id for r in pending} == set(missed)
    attempts = [a async for a in client.notifications.admin_attempts(missed[0])]
    assert attempts[0].outcome == "FAILED"
    assert "ConnectError" in str(attempts[0].error)


async def test_operator_redelivers_a_dead_letter(
    app: FastAPI, client: FcsbeClient, receiver: LoopbackReceiver
) -> None:
    factory = app.state.session_factory
    clock = FakeClock()
    client.token = await make_fo(factory, "NL-FLX")
    secret = (await client.webhook_endpoints.put(receiver.base_url)).secret
    assert secret is not None
    receiver.verifier = WebhookReceiver(secret, clock=clock.timestamp)
    receiver.behaviour = lambda _seen: Action(status=500)
    (notification_id,) = await enqueue(factory, "NL-FLX", 1)
    async with open_worker(app, clock) as worker:
        await worker.step()
        clock.advance(25 * 3600)  # past the retry window
        await worker.step()
        client.token = await make_operator(factory)
        dead = [r async for r in client.notifications.admin_list(status=DeliveryStatus.DEAD)]
        assert [r.notification_id for r in dead] == [notification_id]

        receiver.behaviour = lambda _seen: Action(status=204)
        result = await client.notifications.admin_redeliver(
            RedeliveryRequest(status=DeliveryStatus.DEAD, fo_party_id="NL-FLX")
        )
        assert result.count == 1
        clock.advance(1)
        await worker.step()
    assert [seen.webhook_id for seen in receiver.accepted()] == [notification_id]
    records = [r async for r in client.notifications.admin_list()]
    assert records[0].status is DeliveryStatus.DELIVERED
    assert records[0].attempts == 3


async def test_fo_rotates_its_secret_without_losing_a_notification(
    app: FastAPI, client: FcsbeClient, receiver: LoopbackReceiver
) -> None:
    factory = app.state.session_factory
    clock = FakeClock()
    client.token = await make_fo(factory, "NL-FLX")
    old = (await client.webhook_endpoints.put(receiver.base_url)).secret
    rotated = await client.webhook_endpoints.rotate_secret()
    assert old is not None
    assert rotated.secret is not None
    assert rotated.previous_secret_valid_until is not None
    await enqueue(factory, "NL-FLX", 1)
    async with open_worker(app, clock) as worker:
        await worker.step()
    (seen,) = receiver.requests
    for secret in (old, rotated.secret):
        WebhookReceiver(secret, clock=clock.timestamp).verify(seen.body, seen.headers)
    state = await client.webhook_endpoints.get()
    assert state.secret is None
    assert state.status == "ACTIVE"


async def test_feed_items_are_typed_by_type_and_served_as_stored(
    app: FastAPI, client: FcsbeClient, http: httpx.AsyncClient
) -> None:
    """The feed declares a union of per-type notifications (discriminated by `type`); the
    client decodes each as its typed subclass, and the JSON is what was written, unchanged."""
    factory = app.state.session_factory
    token = await make_fo(factory, "NL-FLX")
    client.token = token
    async with factory() as session:
        await enqueue_notification(
            session,
            fo_party_id="NL-FLX",
            type="FS_STATE_CHANGED",
            fs_id="fs-1",
            data={"revision": 2, "to_state": "ACTIVE"},
        )
        await enqueue_notification(
            session,
            fo_party_id="NL-FLX",
            type="COMM_LOST",
            data={"since": "2026-03-02T17:00:00Z", "fallback_applied": True},
        )
        await session.commit()
    async with factory() as session:
        await assign_sequence(session)
        await session.commit()
        # Read from the rows: what is checked is that the feed serves them unchanged.
        rows = await session.scalars(select(OutboxRow).order_by(OutboxRow.id))
        stored = [row.payload for row in rows.all()]

    raw = await http.get("/v1/notifications", headers={"authorization": f"Bearer {token}"})
    assert raw.status_code == 200
    items = raw.json()["items"]
    assert [{k: v for k, v in item.items() if k != "seq"} for item in items] == stored
    assert items[0]["data"] == {"revision": 2, "to_state": "ACTIVE"}, "nothing added"

    state, lost = await client.notifications.feed().to_list()
    assert isinstance(state, FsStateChangedNotification)
    assert state.data.to_state is FsState.ACTIVE
    assert state.data.from_state is None
    assert isinstance(lost, CommLostNotification)
    assert lost.data.fallback_applied is True
    assert lost.typed_data() is lost.data

    schema = (await http.get("/openapi.json")).json()
    ok = schema["paths"]["/v1/notifications"]["get"]["responses"]["200"]["content"]
    page = _resolve(schema, ok["application/json"]["schema"])
    union = page["properties"]["items"]["items"]
    assert union["discriminator"]["propertyName"] == "type"
    mapping = union["discriminator"]["mapping"]
    assert set(mapping) == {t.value for t in NotificationType}
    deviation = _resolve(schema, {"$ref": mapping["FS_DEVIATION"]})
    data = _resolve(schema, deviation["properties"]["data"])
    assert {"requested_w", "measured_w", "cause"} <= set(data["properties"])


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[-1]]
    return node
