"""Closed vocabularies of the business side of the interface: parties, contracts, flexibility
services, notifications and records.

Every enum is a `StrEnum` whose values equal the member names (UPPER_SNAKE), so that the wire, the
database and the logs all show the same token. The vocabularies are defined by domain in
`fcsbe.model.party_enums`, `fcsbe.model.fs_enums` and `fcsbe.model.record_enums`, and gathered
here so that one import reaches them all; electrical and equipment vocabularies live in
`fcsbe.model.grid_enums`. These modules hold vocabularies only: no models, no behaviour beyond
small lookups.
"""

from __future__ import annotations

from fcsbe.model.fs_enums import (
    ActivationDirection,
    BaselineMethod,
    DeviationCause,
    Direction,
    EventSource,
    FallbackPolicy,
    FsResult,
    FsState,
    FsType,
    NotificationType,
    ReasonCode,
    Severity,
    TargetLevel,
    TargetStatus,
)
from fcsbe.model.party_enums import (
    ConsentScope,
    ContractDecisionKind,
    ContractStatus,
    DataSharingLevel,
    EnrolmentStatus,
    LegalBasis,
    PartyRole,
    PersonalDataCategory,
    RevisionStatus,
)
from fcsbe.model.record_enums import (
    DataQualityCode,
    DisputeAnswerKind,
    DisputeReasonCode,
    DisputeResponseKind,
    DisputeStatus,
    MeasurementQuality,
    ProofDecision,
    ProofValidationStatus,
    Quantity,
)

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
