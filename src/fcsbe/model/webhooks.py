"""Webhook endpoints and the delivery state of notifications (interface data item 5).

The FO registers one callback URL per enrolment; the FCSBE pushes every notification to
`{callback_base_url}/notifications` with Standard Webhooks headers, signed as the FO chose when it
registered: `v1` (HMAC-SHA256 with a secret the FCSBE generated for that endpoint), `v1a` (Ed25519
with the FCSBE's own key, published in its JWKS and as `whpk_...`), or both. The delivery models
below are what the CSO operator sees of the outbox (`/admin/v1/notifications`). This module must do
no I/O.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import Field, field_validator

from fcsbe.model._validation import check_unique
from fcsbe.model.base import Id, InputModel, OutputModel, UtcDateTime
from fcsbe.model.enums import NotificationType
from fcsbe.model.party import CallbackUrl

__all__ = [
    "MAX_REDELIVERY_IDS",
    "DeliveryAttempt",
    "DeliveryOutcome",
    "DeliveryStatus",
    "NotificationRecord",
    "RedeliveryRequest",
    "RedeliveryResult",
    "WebhookEndpoint",
    "WebhookEndpointStatus",
    "WebhookEndpointUpdate",
    "WebhookSignatureScheme",
]

MAX_REDELIVERY_IDS = 500
"""Most notification ids one redelivery request may name."""


class WebhookEndpointStatus(StrEnum):
    """Whether the FCSBE pushes to an endpoint."""

    ACTIVE = "ACTIVE"
    DISABLED = "DISABLED"


WebhookSignatureScheme = Literal["v1", "v1a"]
"""How a webhook is signed, spelt as the Standard Webhooks signature versions: `v1` HMAC-SHA256
with the endpoint's shared secret (`whsec_...`), `v1a` Ed25519 with the FCSBE's signing key,
verified with its public key (`whpk_...`)."""


def _hmac_only() -> list[WebhookSignatureScheme]:
    return ["v1"]


class DeliveryStatus(StrEnum):
    """Where a notification is in its push delivery (the feed serves it in every state).

    `PENDING`: due or waiting for a retry. `DELIVERED`: a 2xx was received. `DEAD`: retries
    exhausted (after at least 24 h); the operator may redeliver. `PARKED`: not pushed because
    the FO has no active webhook endpoint (none registered, or disabled after a 410).
    """

    PENDING = "PENDING"
    DELIVERED = "DELIVERED"
    DEAD = "DEAD"
    PARKED = "PARKED"


class DeliveryOutcome(StrEnum):
    """What one delivery attempt came to."""

    DELIVERED = "DELIVERED"
    FAILED = "FAILED"
    GONE = "GONE"
    BLOCKED = "BLOCKED"


class WebhookEndpointUpdate(InputModel):
    """`PUT /v1/webhook-endpoint`: where the FCSBE pushes notifications."""

    callback_base_url: CallbackUrl = Field(
        description="Base URL of the FO's receiver; notifications are POSTed to "
        "`{callback_base_url}/notifications`. HTTPS; private, loopback, link-local and "
        "metadata addresses are refused.",
    )
    signature_schemes: list[WebhookSignatureScheme] | None = Field(
        default=None,
        min_length=1,
        max_length=2,
        description="How deliveries are signed: `v1` (HMAC-SHA256 with a shared `whsec_` secret, "
        "shown once), `v1a` (Ed25519 with the FCSBE's key, verified with its public `whpk_` key), "
        'or both (one `webhook-signature` token each). Omitted: unchanged (`["v1"]` for a new '
        "endpoint). Adding `v1` to an endpoint that did not use it makes a fresh secret.",
    )

    @field_validator("signature_schemes")
    @classmethod
    def _distinct(
        cls, value: list[WebhookSignatureScheme] | None
    ) -> list[WebhookSignatureScheme] | None:
        if value is not None:
            check_unique(value, "signature_schemes", from_field_validator=True)
        return value


class WebhookEndpoint(OutputModel):
    """The FO's webhook endpoint and its state.

    `secret` is shown once: in the answer that created or rotated it (or added `v1`). Keep it
    like a password; it verifies the `v1` (HMAC-SHA256) signature. `public_key` verifies the
    `v1a` (Ed25519) one and is not secret.
    """

    callback_base_url: str = Field(description="Base URL the FCSBE pushes to.")
    url: str = Field(description="The URL each notification is POSTed to.")
    status: WebhookEndpointStatus = Field(description="ACTIVE, or DISABLED (no pushes).")
    disabled_reason: str | None = Field(default=None, description="Why it was disabled.")
    disabled_at: UtcDateTime | None = Field(default=None, description="When it was disabled.")
    paused_until: UtcDateTime | None = Field(
        default=None, description="No pushes before this time (the receiver sent Retry-After)."
    )
    secret: str | None = Field(
        default=None,
        description="The signing secret (`whsec_...`), present only when just created or rotated.",
    )
    secret_rotated_at: UtcDateTime = Field(description="When the current secret was made.")
    signature_schemes: list[WebhookSignatureScheme] = Field(
        default_factory=_hmac_only,
        description="How deliveries are signed (`v1` HMAC-SHA256, `v1a` Ed25519).",
    )
    public_key: str | None = Field(
        default=None,
        description="With `v1a`: the FCSBE's public key (`whpk_` + base64 of the 32-byte Ed25519 "
        "key) that verifies the signatures; the same key is in its JWKS (`GET /v1`).",
    )
    previous_secret_valid_until: UtcDateTime | None = Field(
        default=None,
        description="Until then deliveries carry a second signature made with the previous "
        "secret, so a receiver can switch secrets without losing a notification.",
    )


class NotificationRecord(OutputModel):
    """One outbox row as the operator sees it: the notification and its delivery state."""

    notification_id: Id = Field(description="The notification (and webhook-id).")
    fo_party_id: Id = Field(description="The FO it is for.")
    seq: int | None = Field(
        default=None, description="Per-FO sequence number (null until sequenced, a few ms)."
    )
    type: NotificationType = Field(description="Kind of notification.")
    fs_id: Id | None = Field(default=None, description="The FS concerned, if any.")
    status: DeliveryStatus = Field(description="Delivery state.")
    attempts: int = Field(ge=0, description="Delivery attempts so far.")
    created_at: UtcDateTime = Field(description="When it was written (with the change).")
    next_attempt_at: UtcDateTime | None = Field(
        default=None, description="When the next attempt is due (PENDING only)."
    )
    delivered_at: UtcDateTime | None = Field(default=None, description="When a 2xx came back.")
    last_error: str | None = Field(default=None, description="Why the last attempt failed.")


class DeliveryAttempt(OutputModel):
    """One entry of the delivery log."""

    notification_id: Id = Field(description="The notification sent.")
    attempt: int = Field(ge=1, description="1 for the first attempt.")
    attempted_at: UtcDateTime = Field(description="When the request was started.")
    url: str = Field(description="Where it was sent.")
    outcome: DeliveryOutcome = Field(description="What came of it.")
    status_code: int | None = Field(default=None, description="HTTP status, if one came back.")
    duration_ms: int = Field(ge=0, description="Time until the answer or the failure.")
    error: str | None = Field(default=None, description="Transport error or refusal reason.")


class RedeliveryRequest(InputModel):
    """`POST /admin/v1/notifications/redeliver`: which notifications to push again.

    Either name them, or select every notification in `status` (optionally for one FO).
    """

    notification_ids: list[Id] | None = Field(
        default=None,
        max_length=MAX_REDELIVERY_IDS,
        description="Notifications to push again (any state).",
    )
    status: DeliveryStatus | None = Field(
        default=None, description="Select every notification in this state (DEAD or PARKED)."
    )
    fo_party_id: Id | None = Field(default=None, description="Limit the selection to one FO.")


class RedeliveryResult(OutputModel):
    """How many notifications were made due again."""

    count: int = Field(ge=0, description="Notifications scheduled for immediate delivery.")
