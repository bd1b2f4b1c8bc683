"""Settings of notification delivery and data retention, a part of `Settings` (server/settings.py)
kept apart because they are many and belong together: how the outbox is delivered and purged,
and how long each category of data is kept.
"""

from __future__ import annotations

from pydantic import BaseModel, Field, model_validator

__all__ = ["FEED_REPLAY_WINDOW_DAYS", "DeliverySettings"]

FEED_REPLAY_WINDOW_DAYS = 7
"""The feed serves every notification at least this long (docs/notifications.md): the outbox
retention can never be set shorter."""


class DeliverySettings(BaseModel):
    """Notification delivery, outbox and data retention (read as `FCSBE_*` through `Settings`)."""

    notification_interval_s: float = Field(
        default=0.05,
        gt=0,
        description="How often the notification worker looks for due notifications when idle.",
    )
    notification_loops: int = Field(
        default=2,
        ge=1,
        le=16,
        description="Delivery loops per replica; while one waits on the network or a commit, "
        "another claims what was just committed (claims never overlap).",
    )
    notification_batch_size: int = Field(
        default=200, ge=1, le=5000, description="Notifications claimed per delivery step."
    )
    notification_concurrency: int = Field(
        default=64, ge=1, le=1000, description="Webhook requests in flight at once per replica."
    )
    notification_timeout_s: float = Field(
        default=10.0, gt=0, le=60, description="Timeout of one webhook request (connect + answer)."
    )
    notification_lease_s: float = Field(
        default=60.0,
        gt=0,
        description="How long a claimed notification is reserved for one worker; a worker that "
        "dies holding it is replaced after this. Must exceed the request timeout.",
    )
    notification_backoff_initial_s: float = Field(
        default=2.0, gt=0, description="Delay before the first retry; doubles on each failure."
    )
    notification_backoff_max_s: float = Field(
        default=3600.0, gt=0, description="Longest delay between two attempts (before jitter)."
    )
    notification_retry_after_max_s: float = Field(
        default=3600.0,
        gt=0,
        description="Longest `Retry-After` from a receiver that is honoured as given.",
    )
    notification_retry_window_s: float = Field(
        default=86_400.0,
        ge=86_400.0,
        description="How long a notification is retried after its first attempt before it is "
        "dead-lettered (at least 24 h).",
    )
    outbox_retention_days: float = Field(
        default=30.0,
        ge=FEED_REPLAY_WINDOW_DAYS,
        description="Delivered notifications, and parked ones (no endpoint), are purged with their "
        "delivery log this many days after delivery (parked: creation); the feed then answers "
        f"410 to older positions. At least the feed's replay window ({FEED_REPLAY_WINDOW_DAYS} "
        "days).",
    )
    outbox_dead_retention_days: float = Field(
        default=90.0,
        ge=FEED_REPLAY_WINDOW_DAYS,
        description="Dead-lettered notifications are kept this many days after creation, for "
        "the operator to redeliver, then purged; at least `outbox_retention_days`.",
    )
    webhook_secret_overlap_s: int = Field(
        default=86_400,
        ge=0,
        description="After a webhook secret rotation, how long deliveries also carry a signature "
        "made with the previous secret.",
    )
    webhook_allow_loopback: bool = Field(
        default=False,
        description="Allow callback URLs on loopback addresses (local development and tests "
        "only; private, link-local and metadata addresses stay refused).",
    )
    webhook_require_https: bool = Field(
        default=True, description="Refuse callback URLs that are not HTTPS."
    )
    retention_meter_readings_days: int = Field(
        default=90,
        ge=1,
        le=3_650,
        description="Raw telemetry (meter readings, with the SoC of connected EVs) is deleted "
        "this long after it was taken; readings an FS still needs for its record are kept.",
    )
    retention_sessions_days: int = Field(
        default=30,
        ge=1,
        le=3_650,
        description="Ended EV sessions (pseudonymous personal data: times, energy request, SoC, "
        "limits) are deleted this long after the EV left, with the per-session consents that "
        "only they used.",
    )
    retention_records_days: int = Field(
        default=730,
        ge=1,
        le=3_650,
        description="Settlement period: detailed service records and proofs of work are kept "
        "at least this long, longer when their contract's `retention_days` says so; disputed "
        "ones are kept until the dispute is settled.",
    )
    retention_batch_size: int = Field(
        default=5_000, ge=1, le=100_000, description="Rows of each kind deleted per purge step."
    )
    retention_interval_s: float = Field(
        default=3_600.0, gt=0, description="How often the retention purge runs."
    )

    @model_validator(mode="after")
    def _lease_outlives_request(self) -> DeliverySettings:
        if self.notification_lease_s <= self.notification_timeout_s:
            raise ValueError("notification_lease_s must exceed notification_timeout_s")
        if self.outbox_dead_retention_days < self.outbox_retention_days:
            raise ValueError("outbox_dead_retention_days must be at least outbox_retention_days")
        return self
