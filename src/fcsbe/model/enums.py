"""Closed vocabularies of the business side of the interface: parties, contracts, flexibility
services, notifications and records.

Every enum is a `StrEnum` whose values equal the member names (UPPER_SNAKE), so that the wire, the
database and the logs all show the same token. Electrical and equipment vocabularies live in
`fcsbe.model.grid_enums`. This module must hold vocabularies only: no models, no behaviour beyond
small lookups.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "ActivationDirection",
    "BaselineMethod",
    "ConsentScope",
    "ContractDecisionKind",
    "ContractStatus",
    "DataQualityCode",
    "DataSharingLevel",
    "DeviationCause",
    "Direction",
    "DisputeAnswerKind",
    "DisputeReasonCode",
    "DisputeResponseKind",
    "DisputeStatus",
    "EnrolmentStatus",
    "EventSource",
    "FallbackPolicy",
    "FsResult",
    "FsState",
    "FsType",
    "LegalBasis",
    "MeasurementQuality",
    "NotificationType",
    "PartyRole",
    "PersonalDataCategory",
    "ProofDecision",
    "ProofValidationStatus",
    "Quantity",
    "ReasonCode",
    "RevisionStatus",
    "Severity",
    "TargetLevel",
    "TargetStatus",
]


class PartyRole(StrEnum):
    """Role a party plays at the interface (IEC 63382 actors; OCPI `Role` for CPO/EMSP)."""

    FO = "FO"
    CSO = "CSO"
    CSP = "CSP"
    H_CSP = "H_CSP"
    V_CSO = "V_CSO"
    EC = "EC"
    FLEET_OPERATOR = "FLEET_OPERATOR"


class EnrolmentStatus(StrEnum):
    """State of the FO ↔ CSO/CSP link created by enrolment (UC 3.1)."""

    PENDING = "PENDING"
    ACTIVE = "ACTIVE"
    SUSPENDED = "SUSPENDED"
    REVOKED = "REVOKED"


class ContractStatus(StrEnum):
    """State of a flexibility service contract (UC 3.3)."""

    PROPOSED = "PROPOSED"
    ACTIVE = "ACTIVE"
    REJECTED = "REJECTED"
    SUSPENDED = "SUSPENDED"
    EXPIRED = "EXPIRED"
    TERMINATED = "TERMINATED"


class RevisionStatus(StrEnum):
    """State of one revision of a contract: the proposal or an amendment."""

    PENDING = "PENDING"
    ACCEPTED = "ACCEPTED"
    REJECTED = "REJECTED"
    SUPERSEDED = "SUPERSEDED"


class ContractDecisionKind(StrEnum):
    """What the CSO/CSP decides on a pending contract revision (or on an active contract)."""

    ACCEPT = "ACCEPT"
    REJECT = "REJECT"
    SUSPEND = "SUSPEND"


class DataSharingLevel(StrEnum):
    """Finest granularity of data the FO may see under a contract (least privilege)."""

    SITE = "SITE"
    CS = "CS"
    EVSE = "EVSE"
    SESSION = "SESSION"


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


class Quantity(StrEnum):
    """Measured quantity of a series; the unit is in the name (see `unit`)."""

    P_W = "P_W"
    Q_VAR = "Q_VAR"
    E_IMPORT_WH = "E_IMPORT_WH"
    E_EXPORT_WH = "E_EXPORT_WH"
    F_HZ = "F_HZ"
    U_V = "U_V"
    SOC_AGG_PCT = "SOC_AGG_PCT"

    @property
    def unit(self) -> str:
        """The unit symbol (`W`, `var`, `Wh`, `Hz`, `V`, `%`)."""
        return _QUANTITY_UNITS[self]


_QUANTITY_UNITS = {
    Quantity.P_W: "W",
    Quantity.Q_VAR: "var",
    Quantity.E_IMPORT_WH: "Wh",
    Quantity.E_EXPORT_WH: "Wh",
    Quantity.F_HZ: "Hz",
    Quantity.U_V: "V",
    Quantity.SOC_AGG_PCT: "%",
}


class MeasurementQuality(StrEnum):
    """Quality of one measured point (as OCPP `ReadingContext`/UFTP data quality, simplified)."""

    MEASURED = "MEASURED"
    ESTIMATED = "ESTIMATED"
    SUBSTITUTED = "SUBSTITUTED"
    MISSING = "MISSING"


class DataQualityCode(StrEnum):
    """A data-quality issue flagged in a detailed service record.

    GAP: no reading in an interval (dropped or never sent); DUPLICATE_READING: the same reading
    received more than once (one kept); LATE_READING: received long after it was taken (used);
    OUT_OF_ORDER: received before an earlier reading (re-sorted); INVALID_READING: unusable (a
    register running backwards, a time outside the record) and left out.
    """

    GAP = "GAP"
    ESTIMATED_VALUES = "ESTIMATED_VALUES"
    CLOCK_DRIFT = "CLOCK_DRIFT"
    METER_NOT_CERTIFIED = "METER_NOT_CERTIFIED"
    SIGNATURE_INVALID = "SIGNATURE_INVALID"
    COMM_LOSS = "COMM_LOSS"
    LOW_RESOLUTION = "LOW_RESOLUTION"
    DUPLICATE_READING = "DUPLICATE_READING"
    LATE_READING = "LATE_READING"
    OUT_OF_ORDER = "OUT_OF_ORDER"
    INVALID_READING = "INVALID_READING"


class ProofValidationStatus(StrEnum):
    """State of the FO's validation of a proof of work (UC 3.4)."""

    PENDING = "PENDING"
    ACCEPTED = "ACCEPTED"
    DISPUTED = "DISPUTED"


class ProofDecision(StrEnum):
    """What the FO answers on a proof of work: accept it or dispute it (with reasons)."""

    ACCEPT = "ACCEPT"
    DISPUTE = "DISPUTE"


class DisputeReasonCode(StrEnum):
    """Why a record is disputed, or why the CSO answers as it does (documented in records.md)."""

    METER_DATA = "METER_DATA"
    """Readings missing, wrong or not the FO's own measurement."""
    BASELINE = "BASELINE"
    """The baseline (method or its inputs) is contested."""
    PERFORMANCE = "PERFORMANCE"
    """The delivery ratio, response time or tolerance verdict is contested."""
    SETTLEMENT = "SETTLEMENT"
    """The amounts (prices, penalty rules) do not follow the contract."""
    PROOF_INVALID = "PROOF_INVALID"
    """The proof of work does not verify."""
    OTHER = "OTHER"
    """Anything else (the reasons say what)."""


class DisputeStatus(StrEnum):
    """Where a dispute of a record stands.

    OPEN (awaiting the CSO's answer) -> REVISED (a corrected record revision) or REJECTED (with
    reasons) -> ACCEPTED (by the FO, or deemed so when the FO lets the response deadline pass)
    or ESCALATED (by the FO, or at once when the CSO lets the answer deadline pass).
    """

    OPEN = "OPEN"
    REVISED = "REVISED"
    REJECTED = "REJECTED"
    ACCEPTED = "ACCEPTED"
    ESCALATED = "ESCALATED"


class DisputeAnswerKind(StrEnum):
    """The CSO's answer to a dispute: a corrected record revision, or a rejection."""

    REVISE = "REVISE"
    REJECT = "REJECT"


class DisputeResponseKind(StrEnum):
    """The FO's response to the CSO's answer: accept it, or escalate the dispute."""

    ACCEPT = "ACCEPT"
    ESCALATE = "ESCALATE"


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


class ConsentScope(StrEnum):
    """What an EV user consents to: smart charging (V1G) and/or discharging (V2G)."""

    V1G = "V1G"
    V2G = "V2G"


class PersonalDataCategory(StrEnum):
    """Categories of personal data a contract lets flow to the FO (GDPR Art. 30 records)."""

    SESSION_TIMES = "SESSION_TIMES"
    ENERGY_REQUEST = "ENERGY_REQUEST"
    STATE_OF_CHARGE = "STATE_OF_CHARGE"
    EVU_LIMITS = "EVU_LIMITS"
    METER_VALUES = "METER_VALUES"
    CONSENT_STATUS = "CONSENT_STATUS"


class LegalBasis(StrEnum):
    """GDPR Art. 6(1) legal basis of processing personal data under a contract."""

    CONSENT = "CONSENT"
    CONTRACT = "CONTRACT"
    LEGAL_OBLIGATION = "LEGAL_OBLIGATION"
    VITAL_INTERESTS = "VITAL_INTERESTS"
    PUBLIC_TASK = "PUBLIC_TASK"
    LEGITIMATE_INTERESTS = "LEGITIMATE_INTERESTS"
