"""Deliveries in these tests go to loopback receivers: allow loopback and plain HTTP."""

from __future__ import annotations

import pytest

from fcsbe.server.settings import Settings


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "webhook_allow_loopback": True,
            "webhook_require_https": False,
            "notification_timeout_s": 0.5,
            "notification_lease_s": 30.0,
        }
    )
