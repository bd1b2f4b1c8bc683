"""What the delivery worker needs of a webhook endpoint: the keys a delivery is signed with,
and disabling an endpoint whose receiver is gone.

They live with notifications (not with the endpoint's use cases in
`services/enrolments/webhook_endpoints.py`, which re-exports them) so that the delivery worker,
which sits below the services layer, never imports upwards.
"""

from __future__ import annotations

from datetime import datetime

from fcsbe.model import WebhookEndpointStatus, WebhookSignatureScheme
from fcsbe.server.security.secret_keyring import SecretKeyring
from fcsbe.server.storage.webhook_endpoints import WebhookEndpointRow

__all__ = ["V1", "V1A", "disable_endpoint", "signing_secrets"]

V1: WebhookSignatureScheme = "v1"
"""HMAC-SHA256 with the endpoint's shared secret (Standard Webhooks)."""
V1A: WebhookSignatureScheme = "v1a"
"""Ed25519 with the server's webhook signing key (Standard Webhooks, asymmetric)."""


def signing_secrets(
    row: WebhookEndpointRow,
    now: datetime,
    signing_key: str | None = None,
    *,
    keyring: SecretKeyring,
) -> list[str]:
    """The keys a delivery is signed with, one signature each: with `v1` the current secret
    plus the previous one in overlap (opened with `keyring`); with `v1a` the server's `whsk_`
    key."""
    found: list[str] = []
    if V1 in row.schemes:
        found.append(keyring.open(row.secret))
        expires = row.previous_secret_expires_at
        if row.previous_secret and expires is not None and expires > now:
            found.append(keyring.open(row.previous_secret))
    if V1A in row.schemes:
        if signing_key is None:
            raise RuntimeError("v1a deliveries need the server's webhook signing key")
        found.append(signing_key)
    return found


def disable_endpoint(row: WebhookEndpointRow, reason: str, now: datetime) -> None:
    """Stop pushing to this endpoint (the receiver answered 410 Gone)."""
    row.status = WebhookEndpointStatus.DISABLED.value
    row.disabled_reason = reason[:500]
    row.disabled_at = now
    row.updated_at = now
