"""CREDENTIAL_EXPIRING: an FO is told, once, that its access token expires soon.

FO access tokens expire `access_token_ttl_days` after issue (enrolment or rotation); an expired
token is refused with 401 `token-expired`. `credential_expiry_warning_days` before that, the
worker step tells the FO, so that it rotates in time (`PUT /v1/enrolments/self/credentials`).
Only the newest token of an ACTIVE enrolment is announced: an older one is already being
replaced (its shortened expiry is the rotation's overlap window). The notice is marked on the
credential row (`expiry_notified_at`) in the same transaction, so it is sent exactly once.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from fcsbe.model import CredentialExpiringData, NotificationType
from fcsbe.server.notifications.outbox import enqueue_notification
from fcsbe.server.storage.parties import credentials_to_warn

__all__ = ["warn_expiring_credentials"]


async def warn_expiring_credentials(
    session: AsyncSession, now: datetime, warning_days: float, limit: int = 500
) -> int:
    """Queue CREDENTIAL_EXPIRING for FO tokens expiring within `warning_days`; returns how
    many (0 when `warning_days` is 0)."""
    if warning_days <= 0:
        return 0
    rows = await credentials_to_warn(session, now, now + timedelta(days=warning_days), limit)
    for row in rows:
        assert row.expires_at is not None  # selected by it
        data = CredentialExpiringData(
            kind="ACCESS_TOKEN", expires_at=row.expires_at, credential_id=row.credential_id
        )
        await enqueue_notification(
            session,
            fo_party_id=row.party_id,
            type=NotificationType.CREDENTIAL_EXPIRING.value,
            data=data.model_dump(mode="json"),
            occurred_at=now,
        )
        row.expiry_notified_at = now
    return len(rows)
