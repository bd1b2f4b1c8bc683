"""Notifications the FCSBE pushes to the FO (webhook) and lists in the replayable feed
(interface data item 5, FS execution notifications).

`Notification` is the common shape, with `data` as a plain JSON object. For every
`NotificationType` there is a subclass whose `type` is that one value and whose `data` is the
type's own model (`FsStateChangedNotification`, ...); `AnyNotification` is their union,
discriminated by `type`, which is what the feed and the webhook body are declared as (so the
OpenAPI document shows every type's `data`) and what the client decodes into
(`parse_notification`). The JSON is the same either way. This module must not deliver
anything: the outbox and the webhook worker live in `fcsbe.server.notifications`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, TypeAdapter

from fcsbe.model.base import Id, OutputModel, UtcDateTime
from fcsbe.model.common import Target
from fcsbe.model.enums import (
    ContractStatus,
    DeviationCause,
    DisputeReasonCode,
    DisputeStatus,
    FsState,
    FsType,
    NotificationType,
    PersonalDataCategory,
    Severity,
    TargetStatus,
)
from fcsbe.model.paging import Page
from fcsbe.model.sessions import SessionRef

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


class FsStateChangedData(OutputModel):
    """`FS_STATE_CHANGED`: one lifecycle transition of an FS."""

    revision: int = Field(ge=1, description="Revision of the FS.")
    from_state: FsState | None = Field(default=None, description="Previous state.")
    to_state: FsState = Field(description="New state.")
    reason: str | None = Field(default=None, max_length=500, description="Why, for a human.")


class FsDeviationData(OutputModel):
    """`FS_DEVIATION`: the FS left its tolerance, once per episode.

    `MEASURED`: the measured power of the FS's targets stayed outside the tolerance band around
    the ordered power for the configured time. `COMMAND_REJECTED`: a station refused or failed
    a command of the FS (`detail` says why). A new episode (a new notification) starts only
    after the FS was back in tolerance (or every command was taken again).
    """

    interval_start: UtcDateTime = Field(description="When the deviation began.")
    requested_w: float = Field(description="Ordered power of the FS then; + import.")
    measured_w: float = Field(description="Measured power of the FS's targets; + import.")
    deviation_pct: float = Field(
        description="|measured - ordered| in % of |ordered| (of the tolerance floor when "
        "|ordered| is smaller)."
    )
    tolerance_pct: float = Field(ge=0, description="Tolerance in force.")
    cause: DeviationCause = Field(
        default=DeviationCause.MEASURED, description="Why the FS is out of tolerance."
    )
    detail: str | None = Field(default=None, max_length=500, description="For a human.")


class FsActivatedData(OutputModel):
    """`FS_ACTIVATED`: an FFR trigger fired locally, or a reserve activation started."""

    activation_id: Id | None = Field(default=None, description="Reserve activation, if any.")
    trigger_frequency_hz: float | None = Field(default=None, description="FFR trigger crossed.")
    delta_p_w: float = Field(description="Power change applied; - = less import / more export.")
    activated_at: UtcDateTime = Field(description="When the activation began.")


class EvConnectedData(OutputModel):
    """`EV_CONNECTED`: a pseudonymous EV session started at an EVSE."""

    session_ref: SessionRef = Field(description="Pseudonym of the session.")
    evse_id: str = Field(description="EVSE id (eMI3).")
    departure_time: UtcDateTime | None = Field(
        default=None,
        description="Expected departure; only when the contract shares SESSION_TIMES.",
        json_schema_extra={"x-personal-data-category": PersonalDataCategory.SESSION_TIMES.value},
    )
    v2g_capable: bool = Field(default=False, description="The EV can discharge.")


class EvDisconnectedData(OutputModel):
    """`EV_DISCONNECTED`: a session ended, with the energy exchanged."""

    session_ref: SessionRef = Field(description="Pseudonym of the session.")
    evse_id: str = Field(description="EVSE id (eMI3).")
    energy_charged_wh: float = Field(ge=0, description="Energy imported in the session.")
    energy_injected_wh: float = Field(ge=0, description="Energy exported in the session.")


class ConsentWithdrawnData(OutputModel):
    """`CONSENT_WITHDRAWN`: the EV user withdrew consent; affected sessions leave all FS."""

    consent_ref: Id = Field(description="The consent withdrawn.")
    session_refs: list[SessionRef] = Field(
        default_factory=list, description="Sessions no longer usable."
    )
    withdrawn_at: UtcDateTime = Field(description="When it was withdrawn.")


class EvLimitsChangedData(OutputModel):
    """`EV_LIMITS_CHANGED`: the EV user changed their limits; they bind these sessions from the
    next control step (re-read them with `GET /v1/sessions/{session_ref}` where shared)."""

    session_refs: list[SessionRef] = Field(
        default_factory=list, description="Sessions the new limits apply to."
    )
    changed_at: UtcDateTime = Field(description="When they changed.")


class CapabilityChangedData(OutputModel):
    """`CAPABILITY_CHANGED`: what a covered target can do changed (power ratings, V2G, EVSEs
    added or removed); re-read `GET /v1/capabilities` for these FS types. `target` names the
    object at the contract's data-sharing level."""

    fs_types: list[FsType] = Field(description="FS types whose capability changed.")
    reason: str | None = Field(
        default=None,
        max_length=64,
        description="`REGISTRY_UPDATED` (the CSO changed the registry) or `STATION_REPORTED`.",
    )


class AvailabilityUpdatedData(OutputModel):
    """`AVAILABILITY_UPDATED`: the availability of a covered target changed from `start` (an
    EVSE went in or out of service, or an EV connected or left); forecasts over [start, end)
    are to be re-read (`GET /v1/availability`). `target` names the object at the contract's
    data-sharing level; `status` is given only to a contract at EVSE level or finer."""

    start: UtcDateTime = Field(description="Start of the changed period.")
    end: UtcDateTime = Field(description="End of the changed period.")
    status: TargetStatus | None = Field(
        default=None, description="The EVSE's status now (EVSE-level contracts and finer)."
    )


class DerAlarmData(OutputModel):
    """`DER_ALARM`: a DER reported an alarm (OCPP 2.1 `NotifyDERAlarm`)."""

    severity: Severity = Field(description="How bad.")
    code: str = Field(max_length=64, description="Alarm code, e.g. the OCPP grid event type.")
    detail: str | None = Field(default=None, max_length=500, description="For a human.")
    alarm_ended: bool = Field(default=False, description="The alarm condition has cleared.")


class CommStatusData(OutputModel):
    """`COMM_LOST` / `COMM_RESTORED`: a station or the FO link went silent or came back."""

    since: UtcDateTime = Field(description="When the state began.")
    fallback_applied: bool = Field(default=False, description="The fallback policy was applied.")
    affected_fs_ids: list[Id] = Field(default_factory=list, description="FS affected.")


class CredentialExpiringData(OutputModel):
    """`CREDENTIAL_EXPIRING`: a token or certificate must be renewed before `expires_at`
    (an access token: `PUT /v1/enrolments/self/credentials`)."""

    kind: str = Field(
        max_length=32, description="`ACCESS_TOKEN`, `SIGNING_KEY` or `CONFORMITY_CERTIFICATE`."
    )
    expires_at: UtcDateTime = Field(description="When it expires.")
    credential_id: Id | None = Field(default=None, description="The credential concerned.")


class ContractChangedData(OutputModel):
    """`CONTRACT_CHANGED`: a contract's status or revision changed."""

    fsc_id: Id = Field(description="The contract.")
    revision: int = Field(ge=1, description="Revision concerned.")
    status: ContractStatus = Field(description="Contract status now.")


class SecurityEventData(OutputModel):
    """`SECURITY_EVENT`: e.g. a bad signature or repeated authentication failures."""

    kind: str = Field(max_length=64, description="E.g. `INVALID_SIGNATURE`.")
    severity: Severity = Field(description="How bad.")
    detail: str | None = Field(default=None, max_length=500, description="For a human.")


class DisputeStepData(OutputModel):
    """`DISPUTE_OPENED`, `DISPUTE_ANSWERED`, `DISPUTE_ACCEPTED`, `DISPUTE_ESCALATED`: a step of
    a dispute of an FS's record (`GET /v1/flexibility-services/{fs_id}/dispute` has it all)."""

    dispute_id: Id = Field(description="The dispute.")
    revision: int = Field(ge=1, description="The FS revision.")
    status: DisputeStatus = Field(description="Status after the step.")
    by_role: Literal["FO", "CSO", "DEADLINE"] = Field(description="Who took the step.")
    reason_code: DisputeReasonCode | None = Field(default=None, description="What it is about.")
    record_revision: int = Field(ge=1, description="Record revision in force after the step.")
    due: UtcDateTime | None = Field(
        default=None, description="Deadline of the next turn (the CSO's answer or the FO's)."
    )


NOTIFICATION_DATA_MODELS: dict[NotificationType, type[OutputModel]] = {
    NotificationType.FS_STATE_CHANGED: FsStateChangedData,
    NotificationType.FS_DEVIATION: FsDeviationData,
    NotificationType.FS_ACTIVATED: FsActivatedData,
    NotificationType.EV_CONNECTED: EvConnectedData,
    NotificationType.EV_DISCONNECTED: EvDisconnectedData,
    NotificationType.CONSENT_WITHDRAWN: ConsentWithdrawnData,
    NotificationType.EV_LIMITS_CHANGED: EvLimitsChangedData,
    NotificationType.CAPABILITY_CHANGED: CapabilityChangedData,
    NotificationType.AVAILABILITY_UPDATED: AvailabilityUpdatedData,
    NotificationType.DER_ALARM: DerAlarmData,
    NotificationType.COMM_LOST: CommStatusData,
    NotificationType.COMM_RESTORED: CommStatusData,
    NotificationType.CREDENTIAL_EXPIRING: CredentialExpiringData,
    NotificationType.CONTRACT_CHANGED: ContractChangedData,
    NotificationType.SECURITY_EVENT: SecurityEventData,
    NotificationType.DISPUTE_OPENED: DisputeStepData,
    NotificationType.DISPUTE_ANSWERED: DisputeStepData,
    NotificationType.DISPUTE_ACCEPTED: DisputeStepData,
    NotificationType.DISPUTE_ESCALATED: DisputeStepData,
}
"""The typed model of `Notification.data` for each notification type."""


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
