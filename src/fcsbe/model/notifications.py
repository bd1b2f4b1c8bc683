"""Notifications the FCSBE pushes to the FO (webhook) and lists in the replayable feed
(interface data item 5, FS execution notifications).

`Notification` is the common shape, with `data` as a plain JSON object. For every
`NotificationType` there is a subclass whose `type` is that one value and whose `data` is the
type's own model (`FsStateChangedNotification`, ...); `AnyNotification` is their union,
discriminated by `type`, which is what the feed and the webhook body are declared as (so the
OpenAPI document shows every type's `data`) and what the client decodes into
(`parse_notification`). The JSON is the same either way. The data models are in
`fcsbe.model.notification_data` (re-exported here). This module must not deliver anything: the
outbox and the webhook worker live in `fcsbe.server.notifications`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, TypeAdapter

from fcsbe.model.base import Id, OutputModel, UtcDateTime
from fcsbe.model.common import Target
from fcsbe.model.enums import NotificationType
from fcsbe.model.notification_data import (
    NOTIFICATION_DATA_MODELS,
    AvailabilityUpdatedData,
    CapabilityChangedData,
    CommStatusData,
    ConsentWithdrawnData,
    ContractChangedData,
    CredentialExpiringData,
    DerAlarmData,
    DisputeStepData,
    EvConnectedData,
    EvDisconnectedData,
    EvLimitsChangedData,
    FsActivatedData,
    FsDeviationData,
    FsStateChangedData,
    SecurityEventData,
)
from fcsbe.model.paging import Page

__all__ = [
    "NOTIFICATION_DATA_MODELS",
    "AnyNotification",
    "AvailabilityUpdatedData",
    "AvailabilityUpdatedNotification",
    "CapabilityChangedData",
    "CapabilityChangedNotification",
    "CommLostNotification",
    "CommRestoredNotification",
    "CommStatusData",
    "ConsentWithdrawnData",
    "ConsentWithdrawnNotification",
    "ContractChangedData",
    "ContractChangedNotification",
    "CredentialExpiringData",
    "CredentialExpiringNotification",
    "DerAlarmData",
    "DerAlarmNotification",
    "DisputeAcceptedNotification",
    "DisputeAnsweredNotification",
    "DisputeEscalatedNotification",
    "DisputeOpenedNotification",
    "DisputeStepData",
    "EvConnectedData",
    "EvConnectedNotification",
    "EvDisconnectedData",
    "EvDisconnectedNotification",
    "EvLimitsChangedData",
    "EvLimitsChangedNotification",
    "FsActivatedData",
    "FsActivatedNotification",
    "FsDeviationData",
    "FsDeviationNotification",
    "FsStateChangedData",
    "FsStateChangedNotification",
    "Notification",
    "NotificationFeedPage",
    "SecurityEventData",
    "SecurityEventNotification",
    "parse_notification",
]


class Notification(OutputModel):
    """A notification: webhook body `POST {callback}/notifications` and a feed item.

    `seq` increases per FO without gaps, so a receiver detects losses and replays from the feed
    (`GET /v1/notifications?cursor=`). Peers: OpenADR 3 subscription callbacks, OCPP
    `TransactionEvent`/`NotifyEvent`, UFTP messages.
    """

    model_config = OutputModel.model_config | ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "notification_id": "9a7f3c21-0e4b-4d6a-8f1c-2b5e7d9a3c48",
                    "seq": 1042,
                    "type": "FS_STATE_CHANGED",
                    "fs_id": "0b8e2f4c-6a1d-4c3e-9f7a-5d2b8c1e4a6f",
                    "target": None,
                    "occurred_at": "2026-03-02T17:00:00.250000Z",
                    "correlation_id": "fo-run-2026-03-02-17",
                    "data": {"revision": 1, "from_state": "SCHEDULED", "to_state": "ACTIVE"},
                }
            ]
        }
    )

    notification_id: Id = Field(description="Unique id; the webhook-id header carries it too.")
    seq: int = Field(ge=1, description="Per-FO sequence number, increasing without gaps.")
    type: NotificationType = Field(description="Kind of notification.")
    fs_id: Id | None = Field(default=None, description="The FS concerned, if any.")
    target: Target | None = Field(default=None, description="The target concerned, if any.")
    occurred_at: UtcDateTime = Field(description="When the event happened.")
    correlation_id: str | None = Field(
        default=None, max_length=128, description="The `X-Correlation-ID` of the causing request."
    )
    data: dict[str, Any] = Field(
        default_factory=dict, description="Details; shape given by `type` (see the data models)."
    )

    def typed_data(self) -> OutputModel:
        """`data` as the model of `type` (already so in a typed notification)."""
        data: object = self.data
        if isinstance(data, OutputModel):
            return data
        return NOTIFICATION_DATA_MODELS[self.type].model_validate(data)


_TYPED = ConfigDict(json_schema_extra=None)
"""Typed notifications carry no example of their own (the base's is an FS_STATE_CHANGED)."""


class FsStateChangedNotification(Notification):
    """A `FS_STATE_CHANGED` notification, its `data` typed."""

    model_config = _TYPED

    type: Literal[NotificationType.FS_STATE_CHANGED] = Field(description="Kind of notification.")
    data: FsStateChangedData = Field(description="Details of a `FS_STATE_CHANGED`.")  # type: ignore[assignment]


class FsDeviationNotification(Notification):
    """A `FS_DEVIATION` notification, its `data` typed."""

    model_config = _TYPED

    type: Literal[NotificationType.FS_DEVIATION] = Field(description="Kind of notification.")
    data: FsDeviationData = Field(description="Details of a `FS_DEVIATION`.")  # type: ignore[assignment]


class FsActivatedNotification(Notification):
    """A `FS_ACTIVATED` notification, its `data` typed."""

    model_config = _TYPED

    type: Literal[NotificationType.FS_ACTIVATED] = Field(description="Kind of notification.")
    data: FsActivatedData = Field(description="Details of a `FS_ACTIVATED`.")  # type: ignore[assignment]


class EvConnectedNotification(Notification):
    """A `EV_CONNECTED` notification, its `data` typed."""

    model_config = _TYPED

    type: Literal[NotificationType.EV_CONNECTED] = Field(description="Kind of notification.")
    data: EvConnectedData = Field(description="Details of a `EV_CONNECTED`.")  # type: ignore[assignment]


class EvDisconnectedNotification(Notification):
    """A `EV_DISCONNECTED` notification, its `data` typed."""

    model_config = _TYPED

    type: Literal[NotificationType.EV_DISCONNECTED] = Field(description="Kind of notification.")
    data: EvDisconnectedData = Field(description="Details of a `EV_DISCONNECTED`.")  # type: ignore[assignment]


class ConsentWithdrawnNotification(Notification):
    """A `CONSENT_WITHDRAWN` notification, its `data` typed."""

    model_config = _TYPED

    type: Literal[NotificationType.CONSENT_WITHDRAWN] = Field(description="Kind of notification.")
    data: ConsentWithdrawnData = Field(description="Details of a `CONSENT_WITHDRAWN`.")  # type: ignore[assignment]


class EvLimitsChangedNotification(Notification):
    """A `EV_LIMITS_CHANGED` notification, its `data` typed."""

    model_config = _TYPED

    type: Literal[NotificationType.EV_LIMITS_CHANGED] = Field(description="Kind of notification.")
    data: EvLimitsChangedData = Field(description="Details of a `EV_LIMITS_CHANGED`.")  # type: ignore[assignment]


class CapabilityChangedNotification(Notification):
    """A `CAPABILITY_CHANGED` notification, its `data` typed."""

    model_config = _TYPED

    type: Literal[NotificationType.CAPABILITY_CHANGED] = Field(description="Kind of notification.")
    data: CapabilityChangedData = Field(description="Details of a `CAPABILITY_CHANGED`.")  # type: ignore[assignment]


class AvailabilityUpdatedNotification(Notification):
    """A `AVAILABILITY_UPDATED` notification, its `data` typed."""

    model_config = _TYPED

    type: Literal[NotificationType.AVAILABILITY_UPDATED] = Field(
        description="Kind of notification."
    )
    data: AvailabilityUpdatedData = Field(description="Details of a `AVAILABILITY_UPDATED`.")  # type: ignore[assignment]


class DerAlarmNotification(Notification):
    """A `DER_ALARM` notification, its `data` typed."""

    model_config = _TYPED

    type: Literal[NotificationType.DER_ALARM] = Field(description="Kind of notification.")
    data: DerAlarmData = Field(description="Details of a `DER_ALARM`.")  # type: ignore[assignment]


class CommLostNotification(Notification):
    """A `COMM_LOST` notification, its `data` typed."""

    model_config = _TYPED

    type: Literal[NotificationType.COMM_LOST] = Field(description="Kind of notification.")
    data: CommStatusData = Field(description="Details of a `COMM_LOST`.")  # type: ignore[assignment]


class CommRestoredNotification(Notification):
    """A `COMM_RESTORED` notification, its `data` typed."""

    model_config = _TYPED

    type: Literal[NotificationType.COMM_RESTORED] = Field(description="Kind of notification.")
    data: CommStatusData = Field(description="Details of a `COMM_RESTORED`.")  # type: ignore[assignment]


class CredentialExpiringNotification(Notification):
    """A `CREDENTIAL_EXPIRING` notification, its `data` typed."""

    model_config = _TYPED

    type: Literal[NotificationType.CREDENTIAL_EXPIRING] = Field(description="Kind of notification.")
    data: CredentialExpiringData = Field(description="Details of a `CREDENTIAL_EXPIRING`.")  # type: ignore[assignment]


class ContractChangedNotification(Notification):
    """A `CONTRACT_CHANGED` notification, its `data` typed."""

    model_config = _TYPED

    type: Literal[NotificationType.CONTRACT_CHANGED] = Field(description="Kind of notification.")
    data: ContractChangedData = Field(description="Details of a `CONTRACT_CHANGED`.")  # type: ignore[assignment]


class SecurityEventNotification(Notification):
    """A `SECURITY_EVENT` notification, its `data` typed."""

    model_config = _TYPED

    type: Literal[NotificationType.SECURITY_EVENT] = Field(description="Kind of notification.")
    data: SecurityEventData = Field(description="Details of a `SECURITY_EVENT`.")  # type: ignore[assignment]


class DisputeOpenedNotification(Notification):
    """A `DISPUTE_OPENED` notification, its `data` typed."""

    model_config = _TYPED

    type: Literal[NotificationType.DISPUTE_OPENED] = Field(description="Kind of notification.")
    data: DisputeStepData = Field(description="Details of a `DISPUTE_OPENED`.")  # type: ignore[assignment]


class DisputeAnsweredNotification(Notification):
    """A `DISPUTE_ANSWERED` notification, its `data` typed."""

    model_config = _TYPED

    type: Literal[NotificationType.DISPUTE_ANSWERED] = Field(description="Kind of notification.")
    data: DisputeStepData = Field(description="Details of a `DISPUTE_ANSWERED`.")  # type: ignore[assignment]


class DisputeAcceptedNotification(Notification):
    """A `DISPUTE_ACCEPTED` notification, its `data` typed."""

    model_config = _TYPED

    type: Literal[NotificationType.DISPUTE_ACCEPTED] = Field(description="Kind of notification.")
    data: DisputeStepData = Field(description="Details of a `DISPUTE_ACCEPTED`.")  # type: ignore[assignment]


class DisputeEscalatedNotification(Notification):
    """A `DISPUTE_ESCALATED` notification, its `data` typed."""

    model_config = _TYPED

    type: Literal[NotificationType.DISPUTE_ESCALATED] = Field(description="Kind of notification.")
    data: DisputeStepData = Field(description="Details of a `DISPUTE_ESCALATED`.")  # type: ignore[assignment]


AnyNotification = Annotated[
    FsStateChangedNotification
    | FsDeviationNotification
    | FsActivatedNotification
    | EvConnectedNotification
    | EvDisconnectedNotification
    | ConsentWithdrawnNotification
    | EvLimitsChangedNotification
    | CapabilityChangedNotification
    | AvailabilityUpdatedNotification
    | DerAlarmNotification
    | CommLostNotification
    | CommRestoredNotification
    | CredentialExpiringNotification
    | ContractChangedNotification
    | SecurityEventNotification
    | DisputeOpenedNotification
    | DisputeAnsweredNotification
    | DisputeAcceptedNotification
    | DisputeEscalatedNotification,
    Field(discriminator="type"),
]
"""Any notification, its `data` typed by its `type`: the feed's items and the webhook body."""


_ANY_NOTIFICATION: TypeAdapter[Notification] = TypeAdapter(AnyNotification)


class NotificationFeedPage(Page[AnyNotification]):
    """A page of the notification feed (`GET /v1/notifications`): each item typed by `type`."""


def parse_notification(document: str | bytes | dict[str, Any]) -> Notification:
    """A notification (JSON text or a decoded object) as its typed subclass; `ValidationError`
    when it does not fit its type."""
    if isinstance(document, str | bytes):
        return _ANY_NOTIFICATION.validate_json(document)
    return _ANY_NOTIFICATION.validate_python(document)
