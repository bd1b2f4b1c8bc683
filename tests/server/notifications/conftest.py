"""Deliveries in these tests go to loopback receivers: allow loopback and plain HTTP.

The receivers here answer at once (none of these tests is about a slow receiver: that is R3
and R4 in tests/reliability), so the request timeout is only a hang guard. A short one made a
correct delivery time out on a busy machine and be counted as a failed attempt.
"""

from __future__ import annotations

import pytest

from fcsbe.server.settings import Settings


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "webhook_allow_loopback": True,
            "webhook_require_https": False,
            "notification_timeout_s": 20.0,  # below the lease, as the settings require
            "notification_lease_s": 30.0,
        }
    )
