"""Offline verification of what an FCSBE signs: FS decisions, tree heads, event-log proofs,
proofs of work (and through them the detailed service records).

One public `verify_*` per signed document kind. Nothing here talks to the server: give it the
CSO's JWKS (`(await client.discovery.version_details()).jwks`, or kept from enrolment) and the
documents, and it recomputes every hash and checks every signature with `fcsbe.model` alone.
A PoW is valid when the tree head is signed by the CSO, the PoW's signature covers its DSR
digest, meter evidence, event-log entries and tree head, the DSR hashes to that digest, and
every listed entry is in the signed tree (RFC 9162 inclusion proofs).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fcsbe.model import (
    ConsistencyProof,
    DetailedServiceRecord,
    Dispute,
    EventLogEntry,
    FlexibilityServiceResponse,
    InclusionProof,
    ProofOfWork,
    SignatureError,
    SignedTreeHead,
    digest,
    event_leaf_hash,
    verify_consistency,
    verify_detached,
    verify_inclusion,
)

__all__ = [
    "ProofVerdict",
    "ProofVerificationError",
    "verify_decision",
    "verify_dispute",
    "verify_entry_inclusion",
    "verify_heads_consistent",
    "verify_proof_of_work",
    "verify_tree_head",
]

Jwks = Mapping[str, Any] | Sequence[Mapping[str, Any]]


class ProofVerificationError(ValueError):
    """A signature, digest or Merkle proof does not check out."""


@dataclass(frozen=True, slots=True)
class ProofVerdict:
    """The outcome of `verify_proof_of_work`: `valid`, or the problems found (usable as the
    reasons of a DISPUTE)."""

    valid: bool
    problems: tuple[str, ...]
    events_checked: int

    @property
    def reasons(self) -> list[str]:
        """The problems, as reasons for `client.records.validate(..., decision="DISPUTE")`."""
        return list(self.problems)


def _signed_by(signature: str, payload: Any, jwks: Jwks, key_id: str, what: str) -> None:
    try:
        kid = verify_detached(signature, payload, jwks)
    except SignatureError as exc:
        raise ProofVerificationError(f"{what}: {exc}") from exc
    if kid != key_id:
        raise ProofVerificationError(f"{what}: signed with key {kid!r}, not {key_id!r}")


def verify_decision(response: FlexibilityServiceResponse, jwks: Jwks) -> str:
    """Check that the CSO signed this FS decision (`FlexibilityService.response`) as it reads.

    The signature is what makes a decision binding evidence (what was committed, when), so an
    unsigned decision fails too. Returns the `kid` of the key that signed it; raises
    `ProofVerificationError` otherwise.
    """
    if response.signature is None:
        raise ProofVerificationError(f"decision on {response.fs_id}: not signed")
    try:
        return verify_detached(response.signature, response.signed_payload(), jwks)
    except SignatureError as exc:
        raise ProofVerificationError(f"decision on {response.fs_id}: {exc}") from exc


def verify_dispute(dispute: Dispute, jwks: Jwks) -> list[str]:
    """Check that the CSO signed every step of a dispute as it reads, and that the steps
    belong to it; returns the `kid` of each step's key, raises `ProofVerificationError`."""
    kids: list[str] = []
    for index, step in enumerate(dispute.steps):
        if step.dispute_id != dispute.dispute_id:
            raise ProofVerificationError(f"dispute step {index}: of another dispute")
        try:
            kids.append(verify_detached(step.signature, step.signed_payload(), jwks))
        except SignatureError as exc:
            raise ProofVerificationError(f"dispute step {index} ({step.step}): {exc}") from exc
    return kids


def verify_tree_head(head: SignedTreeHead, jwks: Jwks) -> None:
    """Check that the CSO signed this tree head (raises `ProofVerificationError`)."""
    _signed_by(head.signature, head.signed_payload(), jwks, head.key_id, "tree head signature")


def verify_entry_inclusion(
    entry: EventLogEntry, proof: InclusionProof, head: SignedTreeHead
) -> None:
    """Check that `entry` is intact and in the tree of `head` (verify the head first)."""
    if entry.expected_hash() != entry.hash:
        raise ProofVerificationError(f"entry {entry.seq}: fields do not match its hash")
    if proof.leaf_index != entry.seq - 1 or proof.tree_size != head.tree_size:
        raise ProofVerificationError(
            f"entry {entry.seq}: proof is for leaf {proof.leaf_index} of a tree of "
            f"{proof.tree_size}, not leaf {entry.seq - 1} of {head.tree_size}"
        )
    path = [bytes.fromhex(node) for node in proof.audit_path]
    root = bytes.fromhex(head.root_hash)
    if not verify_inclusion(
        proof.leaf_index, head.tree_size, event_leaf_hash(entry.hash), path, root
    ):
        raise ProofVerificationError(f"entry {entry.seq}: not in the signed tree")


def verify_heads_consistent(
    older: SignedTreeHead, newer: SignedTreeHead, proof: ConsistencyProof, jwks: Jwks
) -> None:
    """Check that the log of `newer` extends the log of `older` without rewriting it."""
    verify_tree_head(older, jwks)
    verify_tree_head(newer, jwks)
    if (proof.first_size, proof.second_size) != (older.tree_size, newer.tree_size):
        raise ProofVerificationError("consistency proof is for other tree sizes")
    path = [bytes.fromhex(node) for node in proof.proof]
    if not verify_consistency(
        older.tree_size,
        newer.tree_size,
        bytes.fromhex(older.root_hash),
        bytes.fromhex(newer.root_hash),
        path,
    ):
        raise ProofVerificationError(
            f"the log of {newer.tree_size} entries does not extend the log of {older.tree_size}"
        )


def _check_events(
    pow: ProofOfWork, entries: Sequence[EventLogEntry] | None, problems: list[str]
) -> None:
    root = bytes.fromhex(pow.tree_head.root_hash)
    size = pow.tree_head.tree_size
    for event in pow.events:
        path = [bytes.fromhex(node) for node in event.audit_path]
        if not verify_inclusion(event.seq - 1, size, event_leaf_hash(event.hash), path, root):
            problems.append(f"event-log entry {event.seq} is not in the signed tree")
    if entries is None:
        return
    listed = {event.seq: event.hash for event in pow.events}
    seen: set[int] = set()
    for entry in entries:
        if entry.fs_id != pow.fs_id:
            continue
        seen.add(entry.seq)
        if entry.expected_hash() != entry.hash:
            problems.append(f"event-log entry {entry.seq}: fields do not match its hash")
        if entry.seq in listed and listed[entry.seq] != entry.hash:
            problems.append(f"event-log entry {entry.seq} differs from the one proven")
        range_ = pow.event_log_range
        if entry.seq not in listed and range_.from_seq <= entry.seq <= range_.to_seq:
            problems.append(f"event-log entry {entry.seq} of this FS is missing from the proof")
    problems.extend(
        f"event-log entry {seq} of the proof was not supplied" for seq in sorted(set(listed) - seen)
    )


def verify_proof_of_work(
    pow: ProofOfWork,
    dsr: DetailedServiceRecord,
    jwks: Jwks,
    entries: Sequence[EventLogEntry] | None = None,
) -> ProofVerdict:
    """Verify a PoW offline against its DSR and the CSO's JWKS.

    Args:
        pow: The proof (`client.records.proof(fs_id)`).
        dsr: The record it proves (`client.records.get(fs_id)`).
        jwks: The CSO's public signing keys (`(await client.discovery.version_details()).jwks`).
        entries: Optionally the FS's event-log entries (`client.event_log.list(fs_id=...)`):
            each is then also checked against its hash and the proof's list.

    Returns:
        The verdict, with every problem found (empty when valid).
    """
    problems: list[str] = []
    try:
        verify_tree_head(pow.tree_head, jwks)
    except ProofVerificationError as exc:
        problems.append(str(exc))
    try:
        _signed_by(pow.jws, pow.signed_payload(), jwks, pow.key_id, "proof signature")
    except ProofVerificationError as exc:
        problems.append(str(exc))
    if digest(dsr.model_dump(mode="json")) != pow.dsr_digest:
        problems.append("the record does not match the proof's DSR digest")
    if (dsr.fs_id, dsr.revision, dsr.record_revision or 1) != (
        pow.fs_id,
        pow.revision,
        pow.record_revision or 1,
    ):
        problems.append("the record is of another FS or revision than the proof")
    evidenced = {evidence.meter_id for evidence in pow.meter_evidence}
    problems.extend(
        f"meter {meter.meter_id} of the record has no evidence in the proof"
        for meter in dsr.meters
        if meter.meter_id not in evidenced
    )
    if not pow.events:
        problems.append("the proof lists no event-log entry of the FS")
    _check_events(pow, entries, problems)
    return ProofVerdict(
        valid=not problems, problems=tuple(problems), events_checked=len(pow.events)
    )
