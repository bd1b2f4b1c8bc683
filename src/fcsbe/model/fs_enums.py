"""Closed vocabularies of flexibility services and of what is reported while they run: type,
lifecycle, decision and refusal reasons, baselines, fallback, notifications, target status and
event-log severity and source.

Values equal the member names (UPPER_SNAKE), as everywhere in `fcsbe.model.enums`.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "ActivationDirection",
    "BaselineMethod",
    "DeviationCause",
    "Direction",
    "EventSource",
    "FallbackPolicy",
    "FsResult",
    "FsState",
    "FsType",
    "NotificationType",
    "ReasonCode",
    "Severity",
    "TargetLevel",
    "TargetStatus",
]


class Direction(StrEnum):
    """Direction of flexibility a commitment covers. UP = less import / more export."""

    UP = "UP"
    DOWN = "DOWN"
    BOTH = "BOTH"


class ActivationDirection(StrEnum):
    """Direction of one reserve activation. UP = less import / more export (raises frequency)."""

    UP = "UP"
    DOWN = "DOWN"


class FsType(StrEnum):
    """Kind of flexibility service; one per use case of family 2 (UC 2.1-2.7)."""

    SETPOINT = "SETPOINT"
    DEMAND_RESPONSE = "DEMAND_RESPONSE"
    DROOP = "DROOP"
    FFR = "FFR"
    RESERVE = "RESERVE"
    DYNAMIC_PRICE = "DYNAMIC_PRICE"
    CONGESTION = "CONGESTION"


class FsState(StrEnum):
    """Lifecycle state of a flexibility service (api.md, "Lifecycle")."""

    RECEIVED = "RECEIVED"
    ACCEPTED = "ACCEPTED"
    PARTIALLY_ACCEPTED = "PARTIALLY_ACCEPTED"
    REJECTED = "REJECTED"
    SCHEDULED = "SCHEDULED"
    ARMED = "ARMED"
    ACTIVE = "ACTIVE"
    COMPLETED = "COMPLETED"
    ABORTED = "ABORTED"
    CANCELLED = "CANCELLED"
    SUPERSEDED = "SUPERSEDED"
    RECORDED = "RECORDED"
    PROVEN = "PROVEN"
    DISPUTED = "DISPUTED"


class FsResult(StrEnum):
    """The decision on a flexibility service request."""

    ACCEPTED = "ACCEPTED"
    PARTIALLY_ACCEPTED = "PARTIALLY_ACCEPTED"
    REJECTED = "REJECTED"


class ReasonCode(StrEnum):
    """Why an FS (or a target of it) was refused or only partly accepted.

    Domain refusals are not HTTP errors: they are reason codes of a REJECTED or PARTIALLY_ACCEPTED
    response (and of credential-check verdicts).
    """

    CONTRACT_INVALID = "CONTRACT_INVALID"
    TYPE_NOT_IN_CONTRACT = "TYPE_NOT_IN_CONTRACT"
    TARGET_UNKNOWN = "TARGET_UNKNOWN"
    TARGET_NOT_IN_CONTRACT = "TARGET_NOT_IN_CONTRACT"
    NOT_CAPABLE = "NOT_CAPABLE"
    NOT_CONFORMANT = "NOT_CONFORMANT"
    INSUFFICIENT_AVAILABILITY = "INSUFFICIENT_AVAILABILITY"
    EVU_LIMIT = "EVU_LIMIT"
    NO_CONSENT = "NO_CONSENT"
    CONFLICTING_FS = "CONFLICTING_FS"
    TOO_LATE = "TOO_LATE"
    TOO_MANY_ACTIVATIONS = "TOO_MANY_ACTIVATIONS"
    OFF_GRID = "OFF_GRID"
    GRID_CODE_LIMIT = "GRID_CODE_LIMIT"
    INTERNAL_ERROR = "INTERNAL_ERROR"


class TargetLevel(StrEnum):
    """Level of the equipment (or session) an FS or a query addresses."""

    SITE = "SITE"
    CS = "CS"
    EVSE = "EVSE"
    SESSION = "SESSION"


class BaselineMethod(StrEnum):
    """How the counterfactual power (without the FS) is determined for settlement."""

    DECLARED_SCHEDULE = "DECLARED_SCHEDULE"
    METER_BEFORE_ACTIVATION = "METER_BEFORE_ACTIVATION"
    HISTORICAL_AVERAGE = "HISTORICAL_AVERAGE"
    ZERO = "ZERO"
    METER_TREND = "METER_TREND"
    """Per-EV trend of the readings before activation, extrapolated (an EV finishing its
    charge tapers towards zero; it is not flexibility)."""
    HIGH_X_OF_Y = "HIGH_X_OF_Y"
    """The X highest of the last Y days' same interval, adjusted by the same day's deviation
    in the hours before the window."""
    SUBMITTED = "SUBMITTED"
    """A baseline the FO or the CSO submitted before the FS started (a D-prognosis)."""


class FallbackPolicy(StrEnum):
    """What the stations do when the FO is offline past the offline timeout.

    REVERT_UNMANAGED: drop FS control, charge as if no FS existed. HOLD_LAST: keep the last
    setpoint/limit until the FS window ends. SAFE_LIMIT: apply the agreed safe import limit.
    """

    REVERT_UNMANAGED = "REVERT_UNMANAGED"
    HOLD_LAST = "HOLD_LAST"
    SAFE_LIMIT = "SAFE_LIMIT"


class NotificationType(StrEnum):
    """Kind of a notification pushed to the FO (webhook) and listed in the feed."""

    FS_STATE_CHANGED = "FS_STATE_CHANGED"
    FS_DEVIATION = "FS_DEVIATION"
    FS_ACTIVATED = "FS_ACTIVATED"
    EV_CONNECTED = "EV_CONNECTED"
    EV_DISCONNECTED = "EV_DISCONNECTED"
    CONSENT_WITHDRAWN = "CONSENT_WITHDRAWN"
    EV_LIMITS_CHANGED = "EV_LIMITS_CHANGED"
    CAPABILITY_CHANGED = "CAPABILITY_CHANGED"
    AVAILABILITY_UPDATED = "AVAILABILITY_UPDATED"
    DER_ALARM = "DER_ALARM"
    COMM_LOST = "COMM_LOST"
    COMM_RESTORED = "COMM_RESTORED"
    CREDENTIAL_EXPIRING = "CREDENTIAL_EXPIRING"
    CONTRACT_CHANGED = "CONTRACT_CHANGED"
    SECURITY_EVENT = "SECURITY_EVENT"
    DISPUTE_OPENED = "DISPUTE_OPENED"
    DISPUTE_ANSWERED = "DISPUTE_ANSWERED"
    DISPUTE_ACCEPTED = "DISPUTE_ACCEPTED"
    DISPUTE_ESCALATED = "DISPUTE_ESCALATED"


class DeviationCause(StrEnum):
    """Why an FS is out of its tolerance (`FS_DEVIATION`)."""

    MEASURED = "MEASURED"
    """The measured power stayed outside the tolerance band around the ordered power."""
    COMMAND_REJECTED = "COMMAND_REJECTED"
    """A station refused (or failed to apply) a command of the FS."""


class TargetStatus(StrEnum):
    """Operational status of an EVSE as the stations report it (`AVAILABILITY_UPDATED`)."""

    AVAILABLE = "AVAILABLE"
    """In service, no EV connected."""
    OCCUPIED = "OCCUPIED"
    """In service, an EV connected."""
    UNAVAILABLE = "UNAVAILABLE"
    """Taken out of service (maintenance, reserved); it neither charges nor discharges."""
    FAULTED = "FAULTED"
    """Out of service because of a fault; it neither charges nor discharges."""


class Severity(StrEnum):
    """Severity of an event-log entry or an alarm (syslog levels, condensed)."""

    DEBUG = "DEBUG"
    INFO = "INFO"
    NOTICE = "NOTICE"
    WARNING = "WARNING"
    ERROR = "ERROR"
    CRITICAL = "CRITICAL"


class EventSource(StrEnum):
    """Who caused an event-log entry."""

    FO = "FO"
    FCSBE = "FCSBE"
    OPERATOR = "OPERATOR"
    STATION = "STATION"
    EV_USER = "EV_USER"
