"""Proof of work (PoW) of a flexibility service and the FO's validation of it (UC 3.4).

The PoW binds, under one server signature, the digest of the DSR, the meter evidence, the
event-log entries of the FS (each with its RFC 9162 inclusion proof) and the signed tree head
those proofs lead to, so that an aggregator can verify it offline with the CSO's published keys
(`fcsbe.client.proofs.verify_proof_of_work`). Signing is the server's job; this module only
defines the shapes and what exactly is signed.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Any

from pydantic import ConfigDict, Field, model_validator
from pydantic.config import JsonDict

from fcsbe.model.base import Id, InputModel, OutputModel, UtcDateTime
from fcsbe.model.common import MAX_REASONS
from fcsbe.model.crypto import CompactJws, Sha256Digest
from fcsbe.model.enums import DisputeReasonCode, ProofDecision, ProofValidationStatus
from fcsbe.model.event_log import MAX_PROOF_LENGTH, SignedTreeHead

__all__ = [
    "MAX_PROOF_EVENTS",
    "EventInclusion",
    "EventLogRange",
    "MeterEvidence",
    "ProofOfWork",
    "ProofValidation",
    "ProofValidationRequest",
]

MAX_PROOF_EVENTS = 10_000
"""Most event-log entries one PoW lists."""

_HASH = "3f79bb7b435b05321651daefd374cdc681dc06faa65e374e38337b88ca046dea"
_H1 = "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb"
_H2 = "3e23e8160039594a33894f6564e1b1348bbd7a0088d42c4acb73eeaed59c009d"
_H3 = "2e7d2c03a9507ae265ecf5b5356885a53393a2029d241394997265a1a25aefc6"

_TREE_HEAD_SIGNATURE = (
    "eyJhbGciOiJFZDI1NTE5Iiwia2lkIjoiY3NvLTIwMjYtMDEifQ.."
    "FTkHRPOoQIQNrwW0fj5kWKIjBu4qgG3ikVdcyKgIQF1PmaLBx7fnyEi7RN5HEr36zYotTgZxZ55YsOwgQVJzDA"
)
_POW_SIGNATURE = (
    "eyJhbGciOiJFZDI1NTE5Iiwia2lkIjoiY3NvLTIwMjYtMDEifQ.."
    "YWFUcz5bV1sNOpo5KKyNRVSslEopM3DVzLG5zaTW5j3Cn1bF2xIcarre3TZ_YAppdxHYER-mqQDZj0DKHibRDQ"
)
"""Real signatures of the example by the example server key (`kid` cso-2026-01)."""

_POW_EXAMPLE: JsonDict = {
    "pow_id": "e2b4c6d8-1a3f-4e5b-8c7d-9f0a1b2c3d4e",
    "fs_id": "0b8e2f4c-6a1d-4c3e-9f7a-5d2b8c1e4a6f",
    "revision": 1,
    "dsr_digest": _HASH,
    "jws": _POW_SIGNATURE,
    "key_id": "cso-2026-01",
    "meter_evidence": [
        {
            "meter_id": "m-site-ams-01",
            "format": "OCMF",
            "signed_data": 'OCMF|{"FV":"1.0","GI":"LGZ E650","RD":[{"TM":'
            '"2026-03-02T17:30:00,000+0000 S","RV":120656.25,"RU":"kWh"}]}|{"SD":"3045022100"}',
            "public_key": "3059301306072a8648ce3d020106082a8648ce3d03010703420004",
        }
    ],
    "event_log_range": {"from_seq": 4690, "to_seq": 4711},
    "events": [
        {"seq": 4690, "hash": _H1, "audit_path": [_H2, _H3]},
        {"seq": 4711, "hash": _H2, "audit_path": [_H3, _H1]},
    ],
    "tree_head": {
        "tree_size": 4711,
        "root_hash": "18ac3e7343f016890c510e93f935261169d9e3f565436429830faf0934f4f8e4",
        "timestamp": "2026-03-02T17:35:01Z",
        "key_id": "cso-2026-01",
        "signature": _TREE_HEAD_SIGNATURE,
    },
    "validation": {"status": "PENDING", "reasons": []},
    "issued_at": "2026-03-02T17:35:02Z",
}


class EventLogRange(OutputModel):
    """A closed range of event-log sequence numbers."""

    from_seq: int = Field(ge=1, description="First entry (inclusive).")
    to_seq: int = Field(ge=1, description="Last entry (inclusive).")

    @model_validator(mode="after")
    def _ordered(self) -> EventLogRange:
        if self.from_seq > self.to_seq:
            raise ValueError("from_seq must not exceed to_seq")
        return self


class MeterEvidence(OutputModel):
    """Signed meter data backing the DSR (e.g. OCMF from an Eichrecht meter)."""

    meter_id: Id = Field(description="The meter.")
    format: str = Field(max_length=16, description="Format: `OCMF`, `EDL40`, `ALFEN`, ...")
    signed_data: str = Field(max_length=65_536, description="The signed reading, as delivered.")
    public_key: str | None = Field(default=None, max_length=1_024, description="Meter key.")


class EventInclusion(OutputModel):
    """One event-log entry of the FS: its chain hash and its RFC 9162 audit path in the tree of
    the PoW's signed tree head (leaf index = seq - 1, leaf data = the 32 bytes of `hash`)."""

    seq: int = Field(ge=1, description="Sequence number of the entry.")
    hash: Sha256Digest = Field(description="The entry's chain hash (`EventLogEntry.hash`).")
    audit_path: list[Sha256Digest] = Field(
        max_length=MAX_PROOF_LENGTH, description="Inclusion proof: sibling hashes, leaf to root."
    )


class ProofValidation(OutputModel):
    """The FO's validation of a PoW."""

    status: ProofValidationStatus = Field(description="PENDING, ACCEPTED or DISPUTED.")
    by: Id | None = Field(default=None, description="Party that validated.")
    at: UtcDateTime | None = Field(default=None, description="When.")
    reasons: list[str] = Field(default_factory=list, max_length=MAX_REASONS, description="Why.")


class ProofOfWork(OutputModel):
    """The PoW of an FS: signed DSR digest + meter evidence + the FS's event-log entries with
    inclusion proofs under a signed tree head (`GET /v1/flexibility-services/{fs_id}/proof`).

    `jws` covers `signed_payload()`: every field but `jws` and `validation` (which changes when
    the FO answers), so no part of the evidence can be swapped without breaking the signature.
    """

    model_config = OutputModel.model_config | ConfigDict(
        json_schema_extra={"examples": [_POW_EXAMPLE]}
    )

    pow_id: Id = Field(description="Id of the proof.")
    fs_id: Id = Field(description="The FS proven.")
    revision: int = Field(ge=1, description="Revision proven.")
    dsr_digest: Sha256Digest = Field(
        description="Hex SHA-256 of the RFC 8785 JSON of the DSR (`canonical.digest`)."
    )
    jws: CompactJws = Field(
        description="Server's detached JWS over the RFC 8785 JSON of this proof without `jws` "
        "and `validation`."
    )
    key_id: str = Field(min_length=1, max_length=128, description="`kid` of the signing key.")
    meter_evidence: list[MeterEvidence] = Field(
        default_factory=list, description="Signed meter readings."
    )
    event_log_range: EventLogRange = Field(
        description="From the first to the last event-log entry of this FS."
    )
    events: list[EventInclusion] = Field(
        default_factory=list,
        max_length=MAX_PROOF_EVENTS,
        description="Every entry of this FS in the range, by seq, with its inclusion proof.",
    )
    tree_head: SignedTreeHead = Field(description="Signed tree head covering the range.")
    validation: ProofValidation = Field(description="FO's validation.")
    issued_at: UtcDateTime = Field(description="When the proof was issued.")
    record_revision: int | None = Field(
        default=None,
        ge=1,
        description="Revision of the record proven (`DetailedServiceRecord.record_revision`); "
        "null for a record's first revision.",
    )

    @model_validator(mode="after")
    def _covered(self) -> ProofOfWork:
        if self.tree_head.tree_size < self.event_log_range.to_seq:
            raise ValueError("tree_head.tree_size must cover event_log_range.to_seq")
        seqs = [event.seq for event in self.events]
        if any(later <= earlier for earlier, later in pairwise(seqs)):
            raise ValueError("events must be ordered by seq without repeats")
        if seqs and (seqs[0], seqs[-1]) != (
            self.event_log_range.from_seq,
            self.event_log_range.to_seq,
        ):
            raise ValueError("event_log_range must run from the first to the last event")
        return self

    def signed_payload(self) -> dict[str, Any]:
        """The JSON object whose RFC 8785 form `jws` signs."""
        # A first revision's proof leaves `record_revision` out, as proofs did before it existed.
        left_out = {"jws", "validation"} | (
            {"record_revision"} if self.record_revision is None else set()
        )
        return self.model_dump(mode="json", exclude=left_out)


class ProofValidationRequest(InputModel):
    """Body of `POST .../proof/validation`: the FO accepts or disputes (with reasons)."""

    model_config = InputModel.model_config | ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "decision": "DISPUTE",
                    "reasons": ["Interval 17:15-17:30 delivered 40 % less than our meter shows"],
                }
            ]
        }
    )

    decision: ProofDecision = Field(description="ACCEPT or DISPUTE.")
    reasons: list[str] = Field(
        default_factory=list, max_length=MAX_REASONS, description="Why; required for DISPUTE."
    )
    reason_code: DisputeReasonCode | None = Field(
        default=None,
        description="DISPUTE: what is disputed (null: OTHER); refused with ACCEPT.",
    )

    @model_validator(mode="after")
    def _reasons(self) -> ProofValidationRequest:
        if self.decision is ProofDecision.DISPUTE and not self.reasons:
            raise ValueError("a DISPUTE must give at least one reason")
        if self.decision is ProofDecision.ACCEPT and self.reason_code is not None:
            raise ValueError("reason_code is only allowed with a DISPUTE")
        if any(not reason.strip() or len(reason) > 500 for reason in self.reasons):
            raise ValueError("each reason must be non-blank and at most 500 characters")
        return self
