"""At rest (S6): webhook secrets are stored sealed under the server's key, never in clear;
deliveries still verify, after a rotation of the key and for secrets stored in clear before."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from fcsbe.client.webhooks import WebhookReceiver
from fcsbe.server.app import create_app
from fcsbe.server.security.keys import ServerKeys
from fcsbe.server.security.secret_keyring import SecretKeyring, SecretKeyringError
from fcsbe.server.services.enrolments.webhook_endpoints import rotate_secret
from fcsbe.server.settings import Settings
from tests.support.factories import make_fo
from tests.support.webhooks import FakeClock, LoopbackReceiver, enqueue, open_worker, register


@pytest.fixture
async def receiver() -> AsyncIterator[LoopbackReceiver]:
    loopback = LoopbackReceiver()
    await loopback.start()
    yield loopback
    await loopback.stop()


async def _stored(app: FastAPI) -> tuple[str, str | None]:
    """The secret columns as the database holds them (raw SQL, no model in between)."""
    query = text("SELECT secret, previous_secret FROM webhook_endpoints WHERE fo_party_id = :p")
    async with app.state.session_factory() as session:
        row = (await session.execute(query, {"p": "FO-A"})).one()
    return row[0], row[1]


async def _deliver(app: FastAPI, receiver: LoopbackReceiver, secret: str) -> None:
    """One notification, delivered and verified with `secret` by the FO's receiver."""
    clock = FakeClock()
    receiver.requests.clear()
    receiver.verifier = WebhookReceiver(secret, clock=clock.timestamp)
    await enqueue(app.state.session_factory, "FO-A")
    async with open_worker(app, clock) as worker:
        while await worker.step():
            pass
    assert receiver.requests
    assert all(seen.error is None and seen.notification for seen in receiver.requests)


async def test_the_stored_secret_is_sealed_and_deliveries_verify(
    app: FastAPI, http: httpx.AsyncClient, receiver: LoopbackReceiver
) -> None:
    await make_fo(app.state.session_factory, "FO-A")
    secret = await register(
        app.state.session_factory, "FO-A", receiver.base_url, app.state.settings
    )
    stored, _ = await _stored(app)
    assert secret not in stored
    assert secret.removeprefix("whsec_") not in stored
    assert stored.startswith("s1:")
    await _deliver(app, receiver, secret)

    async with app.state.session_factory() as session:
        _, new_secret = await rotate_secret(session, "FO-A", settings=app.state.settings)
        await session.commit()
    current, previous = await _stored(app)
    assert previous == stored  # the previous secret stays sealed, as it was
    assert new_secret not in current
    await _deliver(app, receiver, new_secret)
    await _deliver(app, receiver, secret)  # still co-signed during the overlap


async def _restart(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


async def test_clear_secrets_are_sealed_at_start_and_rotation_reseals(
    app: FastAPI, settings: Settings, receiver: LoopbackReceiver
) -> None:
    await make_fo(app.state.session_factory, "FO-A")
    secret = await register(
        app.state.session_factory, "FO-A", receiver.base_url, app.state.settings
    )
    # As an older release stored it: in clear.
    async with app.state.session_factory() as session:
        await session.execute(
            text("UPDATE webhook_endpoints SET secret = :s WHERE fo_party_id = 'FO-A'"),
            {"s": secret},
        )
        await session.commit()
    async for restarted in _restart(settings):
        stored, _ = await _stored(restarted)
        assert stored.startswith("s1:")
        assert secret not in stored
        await _deliver(restarted, receiver, secret)

    # Rotate the server's keys (`fcsbe admin party rotate-key`): the next start re-seals.
    before = SecretKeyring.load_or_create(settings.data_dir)
    ServerKeys.load_or_create(settings.data_dir).rotate(settings.data_dir)
    after = SecretKeyring.load_or_create(settings.data_dir)
    assert after.active != before.active
    assert set(after.keys) == {*before.keys, after.active}
    async for restarted in _restart(settings):
        resealed, _ = await _stored(restarted)
        assert resealed.startswith(f"s1:{after.active}:")
        await _deliver(restarted, receiver, secret)
    # Once re-sealed, the retired key may go.
    pruned = after.prune(settings.data_dir)
    assert pruned.open(resealed) == secret
    with pytest.raises(SecretKeyringError):
        pruned.open(stored)


async def test_a_secret_whose_key_is_gone_holds_back_only_its_own_deliveries(
    app: FastAPI, settings: Settings, receiver: LoopbackReceiver
) -> None:
    factory = app.state.session_factory
    await make_fo(factory, "FO-A")
    await make_fo(factory, "FO-B")
    secret = await register(factory, "FO-A", receiver.base_url, app.state.settings)
    await register(factory, "FO-B", receiver.base_url, app.state.settings)
    lost = "s1:00000000:" + "A" * 40  # sealed under a key the ring no longer has
    async with factory() as session:
        await session.execute(
            text("UPDATE webhook_endpoints SET secret = :s WHERE fo_party_id = 'FO-B'"),
            {"s": lost},
        )
        await session.commit()
    async for restarted in _restart(settings):  # starts; the secret is left as it is
        await enqueue(restarted.state.session_factory, "FO-B")
        await _deliver(restarted, receiver, secret)
        async with restarted.state.session_factory() as session:
            waiting = (
                await session.execute(
                    text("SELECT status, last_error FROM outbox WHERE fo_party_id = 'FO-B'")
                )
            ).one()
        assert waiting[0] == "PENDING"
        assert "cannot sign" in waiting[1]
        assert len(receiver.requests) == 1  # FO-A's only, verified with its secret
