"""Flexibility service contracts (FSC) and their revisions (UC 3.3).

The FO proposes (`ContractProposal`) or amends (`ContractAmendment`, a full replacement of the
terms) and the CSO/CSP decides (`ContractDecision`). The server keeps every revision and returns a
`FlexibilityServiceContract`. Every FS refers to an ACTIVE contract. The terms and their
consistency checks are in `fcsbe.model.contract_terms` (re-exported here); whether a proposal is
acceptable is the CSO/CSP's decision.
"""

from __future__ import annotations

from pydantic import ConfigDict, Field, model_validator
from pydantic.config import JsonDict

from fcsbe.model.base import INT32_MAX, Id, InputModel, OutputModel, UtcDateTime
from fcsbe.model.contract_terms import (
    AvailabilityWindow,
    Commitment,
    ContractTerms,
    FallbackTerms,
    GridArea,
    PerformanceTerms,
    PersonalDataTerms,
    Remuneration,
)
from fcsbe.model.enums import ContractDecisionKind, ContractStatus, PartyRole, RevisionStatus

__all__ = [
    "AvailabilityWindow",
    "Commitment",
    "ContractAmendment",
    "ContractDecision",
    "ContractProposal",
    "ContractRevision",
    "ContractTermination",
    "ContractTerms",
    "FallbackTerms",
    "FlexibilityServiceContract",
    "GridArea",
    "PerformanceTerms",
    "PersonalDataTerms",
    "Remuneration",
]


_TERMS: JsonDict = {
    "valid_from": "2026-03-01T00:00:00Z",
    "valid_to": "2027-03-01T00:00:00Z",
    "fs_types": ["SETPOINT", "CONGESTION"],
    "targets": [{"level": "SITE", "id": "site-ams-depot-01"}],
    "grid_area": {
        "tso_area": "10YNL----------L",
        "dso_area": "Liander",
        "grid_nodes": ["871687120000000123"],
    },
    "commitments": [
        {
            "fs_type": "SETPOINT",
            "direction": "BOTH",
            "max_power_w": 150000.0,
            "availability_windows": [
                {
                    "weekdays": [1, 2, 3, 4, 5],
                    "start_time": "17:00:00",
                    "end_time": "21:00:00",
                    "time_zone": "Europe/Amsterdam",
                }
            ],
            "min_duration_s": 900,
            "max_activations_per_day": 4,
        }
    ],
    "performance": {
        "response_time_s": 30.0,
        "full_activation_time_s": 300.0,
        "tolerance_pct": 10.0,
        "min_delivery_pct": 80.0,
    },
    "baseline_method": "METER_BEFORE_ACTIVATION",
    "remuneration": {
        "availability_price_per_mw_h": 12.5,
        "activation_price_per_mwh": 95.0,
        "penalty_per_mwh": 150.0,
        "currency": "EUR",
    },
    "data_sharing_level": "EVSE",
    "personal_data": {"categories": ["SESSION_TIMES", "ENERGY_REQUEST"], "legal_basis": "CONTRACT"},
    "retention_days": 730,
    "signature_required": True,
    "fallback": {"policy": "SAFE_LIMIT", "safe_limit_w": 50000.0, "offline_timeout_s": 300},
}


_FSC_ID = "5f1c9a2e-3b7d-4e8a-a6c4-1d9e2b7f3a50"


class _ContractParties(InputModel):
    """Who the contract is between (ordered first in a proposal)."""

    fsc_id: Id = Field(description="Id of the contract, chosen by the FO (UUID recommended).")
    provider_party_id: Id = Field(description="The CSO/CSP that serves the FS.")
    holder_party_id: Id | None = Field(
        default=None,
        description="Party holding the contract if not the provider (EC, fleet, H-CSP).",
    )
    holder_role: PartyRole = Field(description="Role of the holder: CSO, CSP, H_CSP, EC, ...")

    @model_validator(mode="after")
    def _holder_not_fo(self) -> _ContractParties:
        if self.holder_role is PartyRole.FO:
            raise ValueError("holder_role must be the provider side, not FO")
        return self


class ContractProposal(ContractTerms, _ContractParties):
    """Body of `POST /v1/contracts`: the FO proposes a contract (revision 1, PROPOSED).

    Peer: a bilateral agreement that UFTP assumes and OpenADR 3 `program` partly describes.
    """

    model_config = InputModel.model_config | ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "fsc_id": _FSC_ID,
                    "provider_party_id": "NL-ABC",
                    "holder_role": "CSO",
                    **_TERMS,
                }
            ]
        }
    )


class ContractAmendment(ContractTerms):
    """Body of `PATCH /v1/contracts/{fsc_id}`: a **full replacement** of the terms, which becomes
    a new PENDING revision; the current terms stay in force until it is accepted."""

    model_config = InputModel.model_config | ConfigDict(json_schema_extra={"examples": [_TERMS]})


class ContractDecision(InputModel):
    """Body of `POST /admin/v1/contracts/{fsc_id}/decision`: the CSO/CSP's decision."""

    model_config = InputModel.model_config | ConfigDict(
        json_schema_extra={
            "examples": [{"decision": "ACCEPT", "revision": 2, "reason": "Terms agreed by phone"}]
        }
    )

    decision: ContractDecisionKind = Field(description="ACCEPT, REJECT or SUSPEND.")
    revision: int | None = Field(
        default=None, ge=1, le=INT32_MAX, description="Revision decided on; null: the pending one."
    )
    reason: str | None = Field(default=None, max_length=500, description="Why, for a human.")


class ContractTermination(InputModel):
    """Body of `POST /v1/contracts/{fsc_id}/terminate`."""

    model_config = InputModel.model_config | ConfigDict(
        json_schema_extra={
            "examples": [{"reason": "Portfolio moved to another CSO", "effective_at": None}]
        }
    )

    reason: str | None = Field(default=None, max_length=500, description="Why, for a human.")
    effective_at: UtcDateTime | None = Field(
        default=None, description="When the contract ends; null: at once."
    )


class ContractRevision(OutputModel):
    """One revision of a contract: the terms proposed and what became of them."""

    revision: int = Field(ge=1, description="Revision number, 1 for the proposal.")
    status: RevisionStatus = Field(description="PENDING, ACCEPTED, REJECTED or SUPERSEDED.")
    proposed_at: UtcDateTime = Field(description="When it was proposed.")
    decided_at: UtcDateTime | None = Field(default=None, description="When it was decided.")
    reason: str | None = Field(default=None, max_length=500, description="Decision reason.")
    terms: ContractTerms = Field(description="The terms of this revision.")


class FlexibilityServiceContract(OutputModel):
    """A flexibility service contract (FSC) with its revision history (UC 3.3)."""

    model_config = OutputModel.model_config | ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "fsc_id": _FSC_ID,
                    "revision": 1,
                    "fo_party_id": "NL-FLX",
                    "provider_party_id": "NL-ABC",
                    "holder_party_id": None,
                    "holder_role": "CSO",
                    "status": "ACTIVE",
                    "terms": _TERMS,
                    "revisions": [
                        {
                            "revision": 1,
                            "status": "ACCEPTED",
                            "proposed_at": "2026-02-20T10:00:00Z",
                            "decided_at": "2026-02-21T08:30:00Z",
                            "terms": _TERMS,
                        }
                    ],
                    "pending_revision": None,
                    "created_at": "2026-02-20T10:00:00Z",
                    "updated_at": "2026-02-21T08:30:00Z",
                }
            ]
        }
    )

    fsc_id: Id = Field(description="Id of the contract.")
    revision: int = Field(ge=1, description="Revision whose terms are in force (or proposed).")
    fo_party_id: Id = Field(description="The FO.")
    provider_party_id: Id = Field(description="The CSO/CSP serving the FS.")
    holder_party_id: Id | None = Field(default=None, description="Holder if not the provider.")
    holder_role: PartyRole = Field(description="Role of the holder.")
    status: ContractStatus = Field(description="State of the contract.")
    terms: ContractTerms = Field(description="Terms of `revision`.")
    revisions: list[ContractRevision] = Field(
        default_factory=list, description="All revisions, oldest first."
    )
    pending_revision: int | None = Field(
        default=None, ge=1, description="Revision awaiting a decision, if any."
    )
    created_at: UtcDateTime = Field(description="When it was first proposed.")
    updated_at: UtcDateTime = Field(description="Last change.")
