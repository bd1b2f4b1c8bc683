"""The example aggregator receiver runs: verifies, de-duplicates and repairs gaps from the feed."""

from __future__ import annotations

import asyncio
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import httpx
from fastapi import FastAPI

from fcsbe.client import FcsbeClient
from fcsbe.model import generate_signing_key
from fcsbe.server.notifications.delivery import notification_body
from fcsbe.server.notifications.sender import webhook_headers
from fcsbe.server.notifications.sequencer import assign_sequence
from fcsbe.server.security.keys import ServerKeys
from fcsbe.server.services.enrolments.webhook_endpoints import new_webhook_secret
from fcsbe.server.storage.base import utcnow
from fcsbe.server.storage.notifications import OutboxRow
from tests.support.factories import make_fo
from tests.support.webhooks import enqueue

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "aggregator_receiver.py"


def _example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("aggregator_receiver", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


async def test_example_receiver_handles_pushes_and_repairs_a_gap(
    app: FastAPI, client: FcsbeClient
) -> None:
    factory = app.state.session_factory
    client.token = await make_fo(factory, "NL-FLX")
    await enqueue(factory, "NL-FLX", 3)
    async with factory() as session:
        await assign_sequence(session)
        await session.commit()
        rows = (await session.execute(OutboxRow.__table__.select())).all()
    secret = new_webhook_secret()
    receiver_app = _example().create_app([secret], client)
    transport = httpx.ASGITransport(app=receiver_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://fo.test") as fo:

        async def push(row: object, secret: str = secret) -> int:
            body = notification_body(row.payload, row.seq)  # type: ignore[attr-defined]
            headers = webhook_headers(row.notification_id, utcnow(), body, [secret])  # type: ignore[attr-defined]
            response = await fo.post("/notifications", content=body, headers=headers)
            return response.status_code

        by_seq = {row.seq: row for row in rows}
        assert await push(by_seq[1]) == 204
        assert await push(by_seq[1]) == 204  # duplicate, handled once
        assert await push(by_seq[3], new_webhook_secret()) == 400  # forged
        assert await push(by_seq[3]) == 204  # seq 2 missing: repaired from the feed
        await asyncio.gather(*receiver_app.state.repairs)
    inbox = receiver_app.state.inbox
    assert sorted(inbox.handled) == [1, 2, 3]
    assert inbox.contiguous == 3


async def test_example_receiver_verifies_ed25519_signatures_with_the_published_key(
    app: FastAPI, client: FcsbeClient
) -> None:
    factory = app.state.session_factory
    client.token = await make_fo(factory, "NL-FLX")
    await enqueue(factory, "NL-FLX", 1)
    async with factory() as session:
        await assign_sequence(session)
        await session.commit()
        (row,) = (await session.execute(OutboxRow.__table__.select())).all()
    published = (await client.discovery.version_details()).webhook_public_key
    assert published is not None
    receiver_app = _example().create_app([], client, public_keys=[published])
    body = notification_body(row.payload, row.seq)
    transport = httpx.ASGITransport(app=receiver_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://fo.test") as fo:

        async def push(key: str) -> int:
            headers = webhook_headers(row.notification_id, utcnow(), body, [key])
            return (await fo.post("/notifications", content=body, headers=headers)).status_code

        forger = ServerKeys(generate_signing_key()).webhook_signing_key()
        assert await push(forger) == 400
        assert await push(new_webhook_secret()) == 400  # v1 with no secret configured
        assert await push(app.state.keys.webhook_signing_key()) == 204
    assert sorted(receiver_app.state.inbox.handled) == [1]
