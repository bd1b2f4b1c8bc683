"""Disputes of a detailed service record, both ways (UC 3.4).

The FO opens a dispute by disputing the proof of work (`ProofValidationRequest` with decision
DISPUTE, a `reason_code` and reasons). The CSO sees it (`GET /admin/v1/disputes`) and answers
(`DisputeAnswer`): a corrected record revision (REVISE, with the corrections), or a rejection
with reasons (REJECT). The FO then accepts the answer or escalates (`DisputeResponse`). Each
step is signed by the server, written to the hash-chained event log and notified; deadlines bound
each side's turn (see `Dispute`). Settlement follows the record revision in force when the
dispute ends.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field, model_validator

from fcsbe.model.base import Id, InputModel, OutputModel, UtcDateTime
from fcsbe.model.crypto import CompactJws
from fcsbe.model.enums import (
    BaselineMethod,
    DisputeAnswerKind,
    DisputeReasonCode,
    DisputeResponseKind,
    DisputeStatus,
)

__all__ = [
    "MAX_DISPUTE_REASONS",
    "Dispute",
    "DisputeAnswer",
    "DisputeCorrections",
    "DisputeList",
    "DisputeResponse",
    "DisputeStep",
]

MAX_DISPUTE_REASONS = 20
"""Most reasons in one dispute step."""

_Reasons = list[str]


def _check_reasons(reasons: list[str], *, required: bool, what: str) -> None:
    if required and not reasons:
        raise ValueError(f"{what} must give at least one reason")
    if any(not reason.strip() or len(reason) > 500 for reason in reasons):
        raise ValueError("each reason must be non-blank and at most 500 characters")


class DisputeCorrections(InputModel):
    """What a corrected record revision changes: the record is rebuilt from the same stored
    readings with these corrections (and only these)."""

    baseline_method: BaselineMethod | None = Field(
        default=None, description="Rebuild with this baseline method instead."
    )
    excluded_meters: list[Id] = Field(
        default_factory=list,
        max_length=1_000,
        description="Meters whose readings are left out (e.g. found faulty).",
    )
    tolerance_pct: float | None = Field(
        default=None, ge=0, le=100, description="Rebuild with this tolerance instead."
    )

    @model_validator(mode="after")
    def _something(self) -> DisputeCorrections:
        if self.baseline_method is None and not self.excluded_meters and self.tolerance_pct is None:
            raise ValueError("corrections must change at least one thing")
        return self


class DisputeAnswer(InputModel):
    """Body of `POST /admin/v1/disputes/{dispute_id}/answer`: the CSO's answer."""

    model_config = InputModel.model_config | ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "answer": "REVISE",
                    "reason_code": "BASELINE",
                    "reasons": ["The EV at EVSE 3 was finishing its charge: trend baseline"],
                    "corrections": {"baseline_method": "METER_TREND"},
                },
            ]
        }
    )

    answer: DisputeAnswerKind = Field(description="REVISE (a corrected record) or REJECT.")
    reason_code: DisputeReasonCode = Field(description="What the answer is about.")
    reasons: _Reasons = Field(
        min_length=1, max_length=MAX_DISPUTE_REASONS, description="Why, for a human."
    )
    corrections: DisputeCorrections | None = Field(
        default=None, description="Required for REVISE, refused for REJECT."
    )

    @model_validator(mode="after")
    def _consistent(self) -> DisputeAnswer:
        _check_reasons(self.reasons, required=True, what="an answer")
        if self.answer is DisputeAnswerKind.REVISE and self.corrections is None:
            raise ValueError("corrections are required when the answer is REVISE")
        if self.answer is DisputeAnswerKind.REJECT and self.corrections is not None:
            raise ValueError("corrections are only allowed when the answer is REVISE")
        return self


class DisputeResponse(InputModel):
    """Body of `POST /v1/flexibility-services/{fs_id}/dispute/response`: the FO accepts the
    CSO's answer (the FS becomes PROVEN on the record then in force) or escalates."""

    model_config = InputModel.model_config | ConfigDict(
        json_schema_extra={
            "examples": [
                {"response": "ESCALATE", "reasons": ["Our own meter shows 12 kWh more"]},
            ]
        }
    )

    response: DisputeResponseKind = Field(description="ACCEPT or ESCALATE.")
    reasons: _Reasons = Field(
        default_factory=list,
        max_length=MAX_DISPUTE_REASONS,
        description="Why; required for ESCALATE.",
    )

    @model_validator(mode="after")
    def _reasons(self) -> DisputeResponse:
        required = self.response is DisputeResponseKind.ESCALATE
        _check_reasons(self.reasons, required=required, what="an escalation")
        return self


class DisputeStep(OutputModel):
    """One step of a dispute, signed by the server (`signature`: a detached JWS over the
    RFC 8785 JSON of the step without `signature`, as `signed_payload()` gives it)."""

    dispute_id: Id = Field(description="The dispute (signed with the step).")
    step: Literal["OPENED", "REVISED", "REJECTED", "ACCEPTED", "ESCALATED"] = Field(
        description="What happened."
    )
    by: Id = Field(description="Party that took the step (the server's own id for a deadline).")
    role: Literal["FO", "CSO", "DEADLINE"] = Field(
        description="FO, CSO, or DEADLINE when a deadline passed."
    )
    at: UtcDateTime = Field(description="When.")
    reason_code: DisputeReasonCode | None = Field(default=None, description="What it is about.")
    reasons: _Reasons = Field(
        default_factory=list, max_length=MAX_DISPUTE_REASONS, description="Why."
    )
    record_revision: int = Field(ge=1, description="Record revision in force after the step.")
    record_digest: str = Field(
        pattern=r"^[0-9a-f]{64}$", description="Digest of that record revision."
    )
    signature: CompactJws = Field(description="The server's detached JWS over the step.")

    def signed_payload(self) -> dict[str, Any]:
        """The JSON object whose RFC 8785 form `signature` signs."""
        return self.model_dump(mode="json", exclude={"signature"})


class Dispute(OutputModel):
    """A dispute of an FS's record, from opening to its end (`GET .../dispute`)."""

    model_config = OutputModel.model_config | ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "dispute_id": "d7c1a9e4-2b3f-4c5d-8e6f-7a8b9c0d1e2f",
                    "fs_id": "0b8e2f4c-6a1d-4c3e-9f7a-5d2b8c1e4a6f",
                    "revision": 1,
                    "fo_party_id": "NL-FLX",
                    "status": "REVISED",
                    "reason_code": "BASELINE",
                    "reasons": ["The baseline counts an EV that was finishing its charge"],
                    "disputed_record_revision": 1,
                    "record_revision": 2,
                    "opened_at": "2026-03-03T09:00:00Z",
                    "answer_due": "2026-03-13T09:00:00Z",
                    "response_due": "2026-03-20T10:00:00Z",
                    "closed_at": None,
                    "steps": [],
                }
            ]
        }
    )

    dispute_id: Id = Field(description="Id of the dispute.")
    fs_id: Id = Field(description="The FS whose record is disputed.")
    revision: int = Field(ge=1, description="The FS revision.")
    fo_party_id: Id = Field(description="The FO that opened it.")
    status: DisputeStatus = Field(
        description="OPEN (the CSO's turn), REVISED or REJECTED (the FO's turn), ACCEPTED or "
        "ESCALATED (ended)."
    )
    reason_code: DisputeReasonCode = Field(description="What the FO disputes.")
    reasons: _Reasons = Field(max_length=MAX_DISPUTE_REASONS, description="The FO's reasons.")
    disputed_record_revision: int = Field(ge=1, description="The record revision disputed.")
    record_revision: int = Field(
        ge=1, description="The record revision in force now (settlement follows it)."
    )
    opened_at: UtcDateTime = Field(description="When the FO opened it.")
    answer_due: UtcDateTime = Field(
        description="The CSO must answer by then; past it the dispute is ESCALATED."
    )
    response_due: UtcDateTime | None = Field(
        default=None,
        description="Once answered, the FO must respond by then; past it the answer is "
        "deemed ACCEPTED.",
    )
    closed_at: UtcDateTime | None = Field(default=None, description="When it ended.")
    steps: list[DisputeStep] = Field(default_factory=list, description="Every step, in order.")


class DisputeList(OutputModel):
    """`GET /admin/v1/disputes`: disputes, newest first."""

    items: list[Dispute] = Field(description="The disputes.")
