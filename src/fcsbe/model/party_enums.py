"""Closed vocabularies of parties, contracts and personal data: roles, enrolment and contract
states, data sharing, consent and the GDPR categories and legal bases.

Values equal the member names (UPPER_SNAKE), as everywhere in `fcsbe.model.enums`.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "ConsentScope",
    "ContractDecisionKind",
    "ContractStatus",
    "DataSharingLevel",
    "EnrolmentStatus",
    "LegalBasis",
    "PartyRole",
    "PersonalDataCategory",
    "RevisionStatus",
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
