"""FO access tokens expire: the lifetime is a setting, the FO is warned once before (feed,
CREDENTIAL_EXPIRING), rotates with the client, and an expired token is a 401 `token-expired`.

The warning step runs as the worker runs it, at chosen moments (tests never sleep).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from fastapi import FastAPI

from fcsbe.client import AuthenticationError, FcsbeClient
from fcsbe.model import CredentialExpiringNotification, Notification, NotificationType
from fcsbe.server.notifications.sequencer import assign_sequence
from fcsbe.server.services.enrolments.credential_expiry import warn_expiring_credentials
from fcsbe.server.settings import Settings
from fcsbe.server.storage.base import utcnow
from tests.support.flows import asgi_client, enrol_fo, init_server


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """A rotated token stops at once (no overlap), so its expiry is seen without waiting."""
    return settings.model_copy(update={"credential_rotation_overlap_s": 0})


async def _warn(app: FastAPI, at: datetime) -> int:
    async with app.state.session_factory() as db:
        sent = await warn_expiring_credentials(
            db, at, app.state.settings.credential_expiry_warning_days
        )
        await db.commit()
    return sent


async def _expiring(app: FastAPI, client: FcsbeClient) -> list[Notification]:
    async with app.state.session_factory() as db:
        await assign_sequence(db)
        await db.commit()
    items = await client.notifications.feed().to_list()
    return [n for n in items if n.type is NotificationType.CREDENTIAL_EXPIRING]


async def test_access_token_expiry_is_announced_once_then_rotated(app: FastAPI) -> None:
    settings: Settings = app.state.settings
    assert settings.access_token_ttl_days == 90
    assert settings.credential_expiry_warning_days == 14
    operator = await init_server(app)
    before = utcnow()
    fo = await enrol_fo(app, operator, "NL-FLX")
    expires = fo.result.token_expires_at
    assert expires is not None, "an access token has an expiry"
    assert before + timedelta(days=90) <= expires <= utcnow() + timedelta(days=90)

    assert await _warn(app, expires - timedelta(days=15)) == 0, "not yet"
    assert await _warn(app, expires - timedelta(days=13)) == 1
    assert await _warn(app, expires - timedelta(days=12)) == 0, "once"
    assert await _warn(app, expires - timedelta(days=1)) == 0, "once"
    (notice,) = await _expiring(app, fo.client)
    assert isinstance(notice, CredentialExpiringNotification)
    assert notice.data.kind == "ACCESS_TOKEN"
    assert notice.data.expires_at == expires
    assert notice.data.credential_id is not None

    old = fo.client.token
    assert old is not None
    rotation = await fo.client.enrolments.rotate_credentials()
    assert rotation.token_expires_at is not None
    assert rotation.token_expires_at > expires, "the new token lives a full lifetime"
    assert await _warn(app, rotation.token_expires_at - timedelta(days=2)) == 1, "its own"
    assert await _warn(app, rotation.token_expires_at - timedelta(days=1)) == 0
    _, second = await _expiring(app, fo.client)
    assert isinstance(second, CredentialExpiringNotification)
    assert second.data.expires_at == rotation.token_expires_at
    assert second.data.credential_id != notice.data.credential_id

    async with asgi_client(app, token=old) as stale:
        with pytest.raises(AuthenticationError) as refused:
            await stale.enrolments.get()
    problem = refused.value.problem
    assert (problem.status, problem.slug) == (401, "token-expired")
    assert str(problem.type).endswith("/token-expired")
    await fo.client.aclose()


async def test_no_warning_when_disabled(app: FastAPI) -> None:
    operator = await init_server(app)
    fo = await enrol_fo(app, operator, "NL-FLX")
    assert fo.result.token_expires_at is not None
    async with app.state.session_factory() as db:
        at = fo.result.token_expires_at - timedelta(days=1)
        assert await warn_expiring_credentials(db, at, 0) == 0
    await fo.client.aclose()
