"""Notifications the FCSBE pushes to the FO (webhook) and lists in the replayable feed
(interface data item 5, FS execution notifications).

On the wire `data` is a plain JSON object so that an older client keeps reading new kinds; for
every `NotificationType` a typed model of `data` is given (`NOTIFICATION_DATA_MODELS`,
`Notification.typed_data()`). This module must not deliver anything: the outbox and the webhook
worker live in `fcsbe.server.notifications`.
"""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field

from fcsbe.model.base import Id, OutputModel, UtcDateTime
from fcsbe.model.common import Target
from fcsbe.model.enums import (
    ContractStatus,
    FsState,
    FsType,
    NotificationType,
    PersonalDataCategory,
    Severity,
)
from fcsbe.model.sessions import SessionRef

__all__ = [
    "NOTIFICATION_DATA_MODELS",
    "AvailabilityUpdatedData",
    "CapabilityChangedData",
    "CommStatusData",
    "ConsentWithdrawnData",
    "ContractChangedData",
    "CredentialExpiringData",
    "DerAlarmData",
    "EvConnectedData",
    "EvDisconnectedData",
    "EvLimitsChangedData",
    "FsActivatedData",
    "FsDeviationData",
    "FsStateChangedData",
    "Notification",
    "SecurityEventData",
]


class FsStateChangedData(OutputModel):
    """`FS_STATE_CHANGED`: one lifecycle transition of an FS."""

    revision: int = Field(ge=1, description="Revision of the FS.")
    from_state: FsState | None = Field(default=None, description="Previous state.")
    to_state: FsState = Field(description="New state.")
    reason: str | None = Field(default=None, max_length=500, description="Why, for a human.")


class FsDeviationData(OutputModel):
    """`FS_DEVIATION`: delivery left the tolerance band during an interval."""

    interval_start: UtcDateTime = Field(description="Start of the interval concerned.")
    requested_w: float = Field(description="Requested power; + import.")
    measured_w: float = Field(description="Measured power; + import.")
    deviation_pct: float = Field(description="Deviation relative to the requested change.")
    tolerance_pct: float = Field(ge=0, description="Tolerance in force.")


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
    """`CAPABILITY_CHANGED`: re-read `GET /v1/capabilities` for these FS types."""

    fs_types: list[FsType] = Field(description="FS types whose capability changed.")


class AvailabilityUpdatedData(OutputModel):
    """`AVAILABILITY_UPDATED`: a new forecast covers [start, end)."""

    start: UtcDateTime = Field(description="Start of the changed period.")
    end: UtcDateTime = Field(description="End of the changed period.")


class DerAlarmData(OutputModel):
    """`DER_ALARM`: a DER reported an alarm (OCPP 2.1 `NotifyDERAlarm`)."""

    severity: Severity = Field(description="How bad.")
    code: str = Field(max_length=64, description="Alarm code, e.g. the OCPP grid event type.")
    detail: str | None = Field(default=None, max_length=500, description="For a human.")


class CommStatusData(OutputModel):
    """`COMM_LOST` / `COMM_RESTORED`: a station or the FO link went silent or came back."""

    since: UtcDateTime = Field(description="When the state began.")
    fallback_applied: bool = Field(default=False, description="The fallback policy was applied.")
    affected_fs_ids: list[Id] = Field(default_factory=list, description="FS affected.")


class CredentialExpiringData(OutputModel):
    """`CREDENTIAL_EXPIRING`: a token or certificate must be renewed."""

    kind: str = Field(
        max_length=32, description="`ACCESS_TOKEN`, `SIGNING_KEY` or `CONFORMITY_CERTIFICATE`."
    )
    expires_at: UtcDateTime = Field(description="When it expires.")


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
        """`data` validated as the model of `type`."""
        return NOTIFICATION_DATA_MODELS[self.type].model_validate(self.data)
