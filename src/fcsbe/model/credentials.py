"""Credentials check and contract-holder discovery (interface data item 4; UC 3.5).

A credentials check answers, before an FS is sent: is the actor authorised, is the contract valid
for this type, window and targets, and is each target (EVSE + connected EV) capable of the
functions and conformant to the standards the FS needs? A holder lookup answers which party holds
the contract(s) covering a CS, EVSE or pseudonymous session (roaming, UC 1.2 / 1.4). This module
describes questions and answers only; the checking is done by the server.
"""

from __future__ import annotations

from pydantic import ConfigDict, Field, model_validator
from pydantic.config import JsonDict

from fcsbe.model._validation import check_unique
from fcsbe.model.base import Id, InputModel, OutputModel, UtcDateTime
from fcsbe.model.common import MAX_REASONS, MAX_TARGETS, Reason, Target, TimeWindow
from fcsbe.model.enums import FsType, PartyRole
from fcsbe.model.grid_enums import ConformityScope, GridFunction

__all__ = [
    "ConformityEvidence",
    "ContractHolder",
    "ContractHolderLookupRequest",
    "ContractHolderLookupResult",
    "CredentialCheckRequest",
    "CredentialCheckResult",
    "TargetVerdict",
]

_FSC_ID = "5f1c9a2e-3b7d-4e8a-a6c4-1d9e2b7f3a50"
_EVIDENCE: JsonDict = {
    "standard": "EN 50549-1:2019",
    "scope": "EVSE",
    "subject_id": "NL*ABC*E12345*1",
    "certificate_id": "DEKRA-50549-2025-00417",
    "issuer": "DEKRA Certification B.V.",
    "valid_to": "2029-12-31T23:59:59Z",
}


class ConformityEvidence(OutputModel):
    """A certificate that equipment conforms to a grid code or charging standard.

    Examples of `standard`: EN 50549-1, CEI 0-21, VDE-AR-N 4105, IEC 61851-1, ISO 15118-20 BPT.
    Scope EV_MODEL covers an EV whose on-board inverter is the DER (UC 1.7).
    """

    standard: str = Field(
        min_length=1, max_length=64, description="Standard and edition.", examples=["EN 50549-1"]
    )
    scope: ConformityScope = Field(description="What the certificate covers.")
    subject_id: str = Field(
        min_length=1,
        max_length=128,
        description="The EVSE id, CS id or EV model the certificate is about.",
    )
    certificate_id: str = Field(min_length=1, max_length=128, description="Certificate number.")
    issuer: str = Field(min_length=1, max_length=200, description="Certification body.")
    valid_from: UtcDateTime | None = Field(default=None, description="Start of validity.")
    valid_to: UtcDateTime = Field(description="End of validity.")


class CredentialCheckRequest(InputModel):
    """Body of `POST /v1/credential-checks`: may this FS be served on these targets?"""

    model_config = InputModel.model_config | ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "fsc_id": _FSC_ID,
                    "fs_type": "DROOP",
                    "targets": [{"level": "EVSE", "id": "NL*ABC*E12345*1"}],
                    "window": {"start": "2026-03-02T00:00:00Z", "end": "2026-03-03T00:00:00Z"},
                    "required_conformity": ["EN 50549-1"],
                }
            ]
        }
    )

    fsc_id: Id = Field(description="The contract the FS would run under.")
    fs_type: FsType = Field(description="The FS type intended.")
    targets: list[Target] = Field(
        min_length=1, max_length=MAX_TARGETS, description="Targets to check, no duplicates."
    )
    window: TimeWindow = Field(description="When the FS would run.")
    required_conformity: list[str] = Field(
        default_factory=list,
        max_length=20,
        description="Standards each target must conform to, e.g. `EN 50549-1`.",
    )

    @model_validator(mode="after")
    def _unique(self) -> CredentialCheckRequest:
        check_unique(self.targets, "targets")
        return self


class TargetVerdict(OutputModel):
    """The verdict on one target: capable, conformant, and why not."""

    target: Target = Field(description="The target judged.")
    capable: bool = Field(description="EVSE (and connected EV) can perform the FS type.")
    conformant: bool = Field(description="Conforms to every required standard.")
    missing_functions: list[GridFunction] = Field(
        default_factory=list, description="Grid functions the FS needs that the target lacks."
    )
    conformity_evidence: list[ConformityEvidence] = Field(
        default_factory=list, description="Certificates found for the target."
    )
    reasons: list[Reason] = Field(
        default_factory=list, max_length=MAX_REASONS, description="Why not, when not."
    )

    @property
    def ok(self) -> bool:
        """True when the target passes: capable, conformant, in scope, no reason against it."""
        return self.capable and self.conformant and not self.reasons


class CredentialCheckResult(OutputModel):
    """Answer to a credentials check: actor, contract and one verdict per target."""

    model_config = OutputModel.model_config | ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "fsc_id": _FSC_ID,
                    "fs_type": "DROOP",
                    "actor_ok": True,
                    "contract_ok": True,
                    "contract_reasons": [],
                    "targets": [
                        {
                            "target": {"level": "EVSE", "id": "NL*ABC*E12345*1"},
                            "capable": True,
                            "conformant": True,
                            "missing_functions": [],
                            "conformity_evidence": [_EVIDENCE],
                            "reasons": [],
                        }
                    ],
                    "checked_at": "2026-03-01T12:00:00Z",
                    "valid_until": "2026-03-01T12:15:00Z",
                }
            ]
        }
    )

    fsc_id: Id = Field(description="The contract checked.")
    fs_type: FsType = Field(description="The FS type checked.")
    actor_ok: bool = Field(description="The caller is authenticated and authorised.")
    contract_ok: bool = Field(description="The contract is active and covers type and window.")
    contract_reasons: list[Reason] = Field(
        default_factory=list, max_length=MAX_REASONS, description="Why the contract fails."
    )
    targets: list[TargetVerdict] = Field(description="One verdict per target, in request order.")
    checked_at: UtcDateTime = Field(description="When the check was made.")
    valid_until: UtcDateTime = Field(description="The verdict may be relied upon until then.")

    @property
    def ok(self) -> bool:
        """True when actor, contract and every target pass."""
        return self.actor_ok and self.contract_ok and all(v.ok for v in self.targets)


class ContractHolderLookupRequest(InputModel):
    """Body of `POST /v1/contract-holders/lookup` (UC 3.5): who holds the FSC covering this?"""

    model_config = InputModel.model_config | ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "target": {"level": "SESSION", "id": "ps_9Kq2vX7mT4rB8nL1"},
                    "at": "2026-03-02T17:05:00Z",
                }
            ]
        }
    )

    target: Target = Field(description="A CS, an EVSE or a pseudonymous session reference.")
    at: UtcDateTime | None = Field(default=None, description="At which time; null: now.")
    fs_type: FsType | None = Field(default=None, description="Only holders of this type.")


class ContractHolder(OutputModel):
    """A party holding a contract that covers the target, and for which FS types."""

    party_id: Id = Field(description="The holding party.")
    role: PartyRole = Field(description="Its role (e.g. V_CSO or H_CSP when roaming).")
    fs_types: list[FsType] = Field(description="FS types the contract covers.")
    fsc_id: Id | None = Field(
        default=None, description="The contract; only shown when the caller is party to it."
    )
    valid_to: UtcDateTime | None = Field(default=None, description="End of the contract.")


class ContractHolderLookupResult(OutputModel):
    """Answer to a holder lookup; empty `holders` when no contract covers the target."""

    model_config = OutputModel.model_config | ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "target": {"level": "SESSION", "id": "ps_9Kq2vX7mT4rB8nL1"},
                    "at": "2026-03-02T17:05:00Z",
                    "holders": [
                        {
                            "party_id": "DE-HCP",
                            "role": "H_CSP",
                            "fs_types": ["DYNAMIC_PRICE"],
                            "fsc_id": None,
                            "valid_to": "2026-12-31T23:00:00Z",
                        }
                    ],
                }
            ]
        }
    )

    target: Target = Field(description="The target looked up.")
    at: UtcDateTime = Field(description="The time the answer holds for.")
    holders: list[ContractHolder] = Field(default_factory=list, description="Covering holders.")
