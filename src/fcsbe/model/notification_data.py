"""The `data` of each notification type: what an FS state change, a deviation, an EV connecting,
an alarm, a dispute step ... carries, and `NOTIFICATION_DATA_MODELS`, which maps every
`NotificationType` to its model.

The notifications themselves (the envelope, the typed subclasses and their union) are in
`fcsbe.model.notifications`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from fcsbe.model.base import Id, OutputModel, UtcDateTime
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
    "DisputeStepData",
    "EvConnectedData",
    "EvDisconnectedData",
    "EvLimitsChangedData",
    "FsActivatedData",
    "FsDeviationData",
    "FsStateChangedData",
    "SecurityEventData",
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
