"""R3: the FO's receiver is down, slow, resetting, failing and rate-limiting; nothing is lost.

The delivery step runs against a real loopback HTTP receiver with an injected clock that jumps
to each next retry, so a day of backoff runs in seconds. Every notification must end up
delivered, every request must carry a valid signature, a repeated delivery must carry the same
webhook-id and the same body, and after a 429 nothing may arrive before its Retry-After.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from fastapi import FastAPI
from sqlalchemy import func, select

from fcsbe.client.webhooks import WebhookReceiver
from fcsbe.server.storage.notifications import DeliveryAttemptRow, OutboxRow
from tests.support.factories import make_fo
from tests.support.webhooks import (
    Action,
    FakeClock,
    LoopbackReceiver,
    Seen,
    enqueue,
    open_worker,
    register,
)

NOTIFICATIONS = 40
PHASES = ["down"] * 4 + ["slow"] * 2 + ["reset"] * 4 + ["500"] * 4 + ["429"] * 2


async def _next_due(app: FastAPI) -> tuple[int, datetime | None]:
    async with app.state.session_factory() as session:
        pending = await session.scalar(select(func.count()).where(OutboxRow.status != "DELIVERED"))
        due = await session.scalar(
            select(func.min(OutboxRow.next_attempt_at)).where(OutboxRow.status == "PENDING")
        )
    return int(pending or 0), due


async def test_every_notification_is_delivered_through_receiver_faults(app: FastAPI) -> None:
    factory = app.state.session_factory
    clock = FakeClock()
    receiver = LoopbackReceiver()
    await receiver.start()
    await make_fo(factory, "FO-A")
    secret = await register(factory, "FO-A", receiver.base_url, app.state.settings)
    receiver.verifier = WebhookReceiver(secret, clock=clock.timestamp)
    ids = await enqueue(factory, "FO-A", NOTIFICATIONS)

    phase = "ok"
    arrivals: list[tuple[datetime, Seen]] = []
    not_before: datetime | None = None

    def behave(seen: Seen) -> Action:
        arrivals.append((clock.now, seen))
        if phase == "slow":
            return Action(delay_s=0.3)  # above the 0.2 s request timeout of this test
        if phase == "reset":
            return Action(reset=True)
        if phase == "500":
            return Action(status=500)
        if phase == "429":
            return Action(status=429, headers=(("retry-after", "90"),))
        return Action(status=204)

    receiver.behaviour = behave
    settings = app.state.settings.model_copy(update={"notification_timeout_s": 0.2})
    try:
        async with open_worker(app, clock, settings) as worker:
            for iteration in range(400):
                phase = PHASES[iteration] if iteration < len(PHASES) else "ok"
                if phase == "down":
                    await receiver.stop()
                elif receiver.port and iteration == PHASES.count("down"):
                    await receiver.start()
                before = len(arrivals)
                await worker.step()
                new = arrivals[before:]
                if not_before is not None:
                    assert all(at >= not_before for at, _ in new), "Retry-After not honoured"
                if phase == "429" and new:
                    not_before = max(at for at, _ in new) + timedelta(seconds=90)
                remaining, due = await _next_due(app)
                if remaining == 0:
                    break
                clock.now = max(clock.now + timedelta(seconds=1), due or clock.now)
    finally:
        await receiver.stop()

    assert remaining == 0, f"{remaining} notifications never delivered"
    accepted = {seen.webhook_id for seen in receiver.accepted()}
    assert accepted == set(ids), "every notification delivered"
    assert all(seen.error is None for _, seen in arrivals), "every request verifies"
    bodies: dict[str, set[bytes]] = defaultdict(set)
    for _, seen in arrivals:
        assert seen.notification is not None
        assert seen.notification.notification_id == seen.webhook_id
        bodies[seen.webhook_id].add(seen.body)
    assert all(len(variants) == 1 for variants in bodies.values()), "a repeat is identical"
    assert len(arrivals) > NOTIFICATIONS, "the faults did cause retries"
    assert {s.status for _, s in arrivals} >= {204, 429, 500}
    async with factory() as session:
        errors = set((await session.scalars(select(DeliveryAttemptRow.error))).all())
    kinds = {str(error).split(":")[0] for error in errors}
    assert {"ConnectError", "TimeoutError", "HTTP 500", "HTTP 429"} <= kinds, kinds
    assert kinds & {"ReadError", "RemoteProtocolError"}, kinds
