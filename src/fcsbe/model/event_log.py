"""The append-only, hash-chained event log and its RFC 9162 Merkle-tree proofs (UC 3.4).

Chain (as `fcsbe.model.canonical.chain_hash`): `hash` = hex SHA-256 of the ASCII `prev_hash`
followed by the RFC 8785 JSON of the entry without `hash` (`EventLogEntry.chain_payload()`);
`prev_hash` is the previous entry's `hash`, `GENESIS_HASH` for seq 1. Tree: leaf i (0-based) is
entry seq i+1, its leaf data the 32 bytes of `hash`; leaf and node hashes as RFC 9162 §2.1, every
hash written as 64 hex digits. Entries hold pseudonyms only, never personal data. This module
defines the shapes; signing is the server's job, verification the client's.
"""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field, model_validator

from fcsbe.model.base import Id, OutputModel, UtcDateTime
from fcsbe.model.canonical import chain_hash
from fcsbe.model.crypto import CompactJws, Sha256Digest
from fcsbe.model.enums import Severity

__all__ = [
    "MAX_PROOF_LENGTH",
    "ConsistencyProof",
    "EventLogEntry",
    "InclusionProof",
    "SignedTreeHead",
]

MAX_PROOF_LENGTH = 64
"""Most hashes in an audit path or consistency proof (a tree of up to 2^64 leaves)."""

_H1 = "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb"
_H2 = "3e23e8160039594a33894f6564e1b1348bbd7a0088d42c4acb73eeaed59c009d"
_H3 = "2e7d2c03a9507ae265ecf5b5356885a53393a2029d241394997265a1a25aefc6"
_H4 = "18ac3e7343f016890c510e93f935261169d9e3f565436429830faf0934f4f8e4"


class EventLogEntry(OutputModel):
    """One entry of the event log: who did what to which object, chained by hash.

    Peers: OCPP `SecurityEventNotification`/`NotifyEvent`, RFC 9162 log entries.
    """

    model_config = OutputModel.model_config | ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "seq": 4711,
                    "time": "2026-03-02T17:00:00.250000Z",
                    "source": "FCSBE",
                    "type": "FS_STATE_CHANGED",
                    "severity": "INFO",
                    "party_id": "NL-FLX",
                    "fs_id": "0b8e2f4c-6a1d-4c3e-9f7a-5d2b8c1e4a6f",
                    "object_ref": "fs/0b8e2f4c-6a1d-4c3e-9f7a-5d2b8c1e4a6f",
                    "summary": "SCHEDULED -> ACTIVE",
                    "payload_digest": _H1,
                    "prev_hash": _H2,
                    "hash": _H3,
                }
            ]
        }
    )

    seq: int = Field(ge=1, description="Position in the log, from 1, without gaps.")
    time: UtcDateTime = Field(description="When the event happened (server clock).")
    source: str = Field(
        min_length=1,
        max_length=64,
        description="Who caused it; one of the `EventSource` values (FCSBE, FO, OPERATOR, ...).",
    )
    type: str = Field(min_length=1, max_length=64, description="Event type, UPPER_SNAKE.")
    severity: Severity = Field(description="Severity.")
    party_id: Id | None = Field(default=None, description="Party the event concerns, if one.")
    fs_id: Id | None = Field(default=None, description="FS the event concerns, if any.")
    object_ref: str = Field(
        min_length=1,
        max_length=256,
        description="Object concerned as `kind/id`, e.g. `fs/<fs_id>`, `contract/<fsc_id>`.",
    )
    summary: str = Field(max_length=500, description="One line for a human; no personal data.")
    payload_digest: Sha256Digest = Field(
        description="SHA-256 of the RFC 8785 JSON of the full event payload (kept server-side)."
    )
    prev_hash: Sha256Digest = Field(description="`hash` of the previous entry (genesis: zeros).")
    hash: Sha256Digest = Field(description="SHA-256 over `prev_hash` and this entry sans `hash`.")

    def chain_payload(self) -> dict[str, Any]:
        """The JSON object whose RFC 8785 form is hashed into `hash`."""
        return self.model_dump(mode="json", exclude={"hash"})

    def expected_hash(self) -> str:
        """The `hash` this entry must have given its fields: compare to detect tampering."""
        return chain_hash(self.prev_hash, self.chain_payload())


class SignedTreeHead(OutputModel):
    """The signed head of the Merkle tree over the log (RFC 9162 §4.10 STH).

    `signature` is a detached JWS over the RFC 8785 JSON of {tree_size, root_hash, timestamp}.
    """

    model_config = OutputModel.model_config | ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "tree_size": 4711,
                    "root_hash": _H4,
                    "timestamp": "2026-03-02T17:00:01Z",
                    "key_id": "cso-2026-01",
                    "signature": (
                        "eyJhbGciOiJFZDI1NTE5Iiwia2lkIjoiY3NvLTIwMjYtMDEifQ.."
                        "8EMByJTue8X1TrDwZFyKp_2y0wMRzhbtb4AYoocUNDjhJDeDxE1gfNXvvhM7OVlYOEKe-P"
                        "oiK2lxEolfgHppDA"
                    ),
                }
            ]
        }
    )

    tree_size: int = Field(ge=0, description="Number of entries covered.")
    root_hash: Sha256Digest = Field(description="Merkle tree hash (hex).")
    timestamp: UtcDateTime = Field(description="When the head was signed.")
    key_id: str = Field(min_length=1, max_length=128, description="`kid` of the signing key.")
    signature: CompactJws = Field(
        description="Detached JWS (alg `Ed25519`) over the RFC 8785 JSON of "
        "`signed_payload()`; verify it with the keys of `GET /v1`."
    )

    def signed_payload(self) -> dict[str, Any]:
        """The JSON object whose RFC 8785 form the signature covers."""
        return self.model_dump(mode="json", include={"tree_size", "root_hash", "timestamp"})


class InclusionProof(OutputModel):
    """Proof that entry `leaf_index + 1` is in the tree of `tree_size` (RFC 9162 §2.1.3)."""

    model_config = OutputModel.model_config | ConfigDict(
        json_schema_extra={
            "examples": [{"leaf_index": 4710, "tree_size": 4711, "audit_path": [_H1, _H2]}]
        }
    )

    leaf_index: int = Field(ge=0, description="0-based leaf index (= seq - 1).")
    tree_size: int = Field(ge=1, description="Size of the tree proven against.")
    audit_path: list[Sha256Digest] = Field(
        max_length=MAX_PROOF_LENGTH, description="Sibling hashes, leaf to root (hex)."
    )

    @model_validator(mode="after")
    def _inside(self) -> InclusionProof:
        if self.leaf_index >= self.tree_size:
            raise ValueError("leaf_index must be below tree_size")
        return self


class ConsistencyProof(OutputModel):
    """Proof that the tree of `first_size` is a prefix of the tree of `second_size`
    (RFC 9162 §2.1.4): the log was only appended to."""

    model_config = OutputModel.model_config | ConfigDict(
        json_schema_extra={
            "examples": [{"first_size": 4096, "second_size": 4711, "proof": [_H3, _H4]}]
        }
    )

    first_size: int = Field(ge=0, description="Size of the older tree.")
    second_size: int = Field(ge=0, description="Size of the newer tree.")
    proof: list[Sha256Digest] = Field(
        max_length=MAX_PROOF_LENGTH, description="Consistency proof hashes (hex)."
    )

    @model_validator(mode="after")
    def _ordered(self) -> ConsistencyProof:
        if self.first_size > self.second_size:
            raise ValueError("first_size must not exceed second_size")
        return self
