"""Use cases of UC 3.4: record an ended FS, issue its proof of work, let the FO validate it.

`record_fs` is what the FS executor calls when an FS ends (COMPLETED, ABORTED or CANCELLED): it
builds the DSR from the meter data, stores it with its digest and moves the FS to RECORDED (a
transition, an event and a notification, in the caller's transaction). `issue_proofs` is a
worker step: once the FS's entries are chained and in the Merkle tree, it signs the PoW over the
DSR digest, the meter evidence and those entries with their inclusion proofs under a signed
tree head. The FO's validation and disputes are in `disputes`; `revise_record` makes the
corrected record revision a dispute's answer asks for.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from fcsbe.model import (
    MAX_PROOF_EVENTS,
    ContractTerms,
    DataSharingLevel,
    DetailedServiceRecord,
    DisputeCorrections,
    DsrCorrection,
    EventLogRange,
    FsState,
    FsType,
    MeterEvidence,
    ProofOfWork,
    ProofValidation,
    ProofValidationStatus,
    digest,
)
from fcsbe.server.errors import Conflict, NotFound
from fcsbe.server.security.keys import ServerKeys
from fcsbe.server.security.personal_data import category_fields
from fcsbe.server.services.event_log.tree import prove_entries, sign_tree_head, tree_head_model
from fcsbe.server.services.flexibility_services.evidence import evidence_summary
from fcsbe.server.services.flexibility_services.lifecycle import FINAL_EXECUTION_STATES, move
from fcsbe.server.services.flexibility_services.requests import to_model
from fcsbe.server.services.records.dsr.builder import build_dsr
from fcsbe.server.services.records.dsr.connection import without_meters
from fcsbe.server.services.records.dsr.inputs import RecordInputs
from fcsbe.server.services.records.inputs import record_inputs, record_notes
from fcsbe.server.storage.base import utcnow
from fcsbe.server.storage.contracts import ContractRow
from fcsbe.server.storage.event_log import entries_of_fs, latest_tree_head, tree_size
from fcsbe.server.storage.flexibility_services import FlexibilityServiceRow, get_fs
from fcsbe.server.storage.locks import try_advisory_lock
from fcsbe.server.storage.records import (
    ProofOfWorkRow,
    ServiceRecordRow,
    find_proof,
    find_record,
    records_without_proof,
)

__all__ = [
    "get_proof",
    "get_record",
    "issue_proofs",
    "proof_model",
    "record_fs",
    "record_row",
    "revise_record",
]

PROOFS_LOCK = 63382_0011
"""PostgreSQL advisory-lock id held while proofs of work are issued."""


async def _terms(session: AsyncSession, contract_pk: int | None) -> ContractTerms | None:
    contract = await session.get(ContractRow, contract_pk) if contract_pk is not None else None
    return ContractTerms.model_validate(contract.terms) if contract is not None else None


def _shares_sessions(terms: ContractTerms | None) -> bool:
    """Whether the record may list EV sessions: the `sessions` field's category marker, under
    a SESSION-level contract that names it (the record is signed, so it is minimised when made,
    never when read)."""
    category = category_fields(DetailedServiceRecord).get("sessions")
    return (
        terms is not None
        and terms.data_sharing_level is DataSharingLevel.SESSION
        and category in terms.personal_data.categories
    )


async def record_fs(
    session: AsyncSession, fs_pk: int, inputs: RecordInputs, *, now: datetime | None = None
) -> DetailedServiceRecord:
    """Make the DSR of an ended FS and move it to RECORDED (idempotent per FS revision)."""
    fs = await session.get(FlexibilityServiceRow, fs_pk, with_for_update=True)
    if fs is None:
        raise NotFound(f"No flexibility service #{fs_pk}.", slug="fs-not-found")
    existing = await find_record(session, fs.id, fs.revision)
    if existing is not None:
        return DetailedServiceRecord.model_validate(existing.record)
    state = FsState(fs.state)
    if state not in FINAL_EXECUTION_STATES:
        raise Conflict(
            f"FS {fs.fs_id} is {state.value}; a record is made once it has ended.",
            slug="fs-not-ended",
        )
    now = now or utcnow()
    record, record_digest = await _store_record(
        session, fs, inputs, state, now, notes=record_notes(fs)
    )
    flags = len(record.data_quality)
    await move(
        session,
        fs,
        FsState.RECORDED,
        f"record {record_digest[:16]}: {len(record.intervals)} interval(s), "
        f"{flags} data-quality flag(s)",
        at=now,
    )
    return record


async def _store_record(
    session: AsyncSession,
    fs: FlexibilityServiceRow,
    inputs: RecordInputs,
    final_state: FsState,
    now: datetime,
    *,
    corrections: DisputeCorrections | None = None,
    correction: DsrCorrection | None = None,
    record_revision: int = 1,
    notes: dict[str, Any] | None = None,
) -> tuple[DetailedServiceRecord, str]:
    """Build a record revision of `fs` from `inputs` (with a dispute's corrections) and store
    it with its digest and evidence."""
    model = await to_model(session, fs)
    terms = await _terms(session, fs.contract_id)
    if not _shares_sessions(terms):
        inputs = replace(inputs, sessions=())
    if corrections is not None:
        request = model.request.model_copy(
            update={
                k: v
                for k, v in (
                    ("baseline_method", corrections.baseline_method),
                    ("tolerance_pct", corrections.tolerance_pct),
                )
                if v is not None
            }
        )
        model = model.model_copy(update={"request": request})
        inputs = without_meters(inputs, set(corrections.excluded_meters))
    built = build_dsr(model, terms, inputs, final_state=final_state, created_at=now)
    evidence = None
    if model.fs_type in (FsType.DROOP, FsType.FFR):  # locally executed: their evidence too
        evidence = await evidence_summary(session, fs)
    record = built.record.model_copy(
        update={
            "record_revision": record_revision,
            "correction": correction,
            "evidence": evidence,
        }
    )
    document = record.model_dump(mode="json")
    record_digest = digest(document)
    session.add(
        ServiceRecordRow(
            fs_pk=fs.id,
            fo_party_id=fs.fo_party_id,
            fs_id=fs.fs_id,
            revision=fs.revision,
            record_revision=record_revision,
            digest=record_digest,
            record=document,
            evidence=[e.model_dump(mode="json") for e in built.evidence],
            created_at=now,
            notes=notes,
        )
    )
    return record, record_digest


async def revise_record(
    session: AsyncSession,
    fs: FlexibilityServiceRow,
    corrections: DisputeCorrections,
    correction: DsrCorrection,
    now: datetime,
) -> ServiceRecordRow:
    """Store the next record revision of `fs`, rebuilt from the same stored readings and
    executor notes as the revision in force, with the corrections of a dispute's answer; its
    proof of work is issued like the first's."""
    prior = await find_record(session, fs.id, fs.revision)
    if prior is None:
        raise NotFound(f"FS {fs.fs_id} has no record to revise.", slug="record-not-available")
    final_state = DetailedServiceRecord.model_validate(prior.record).final_state
    notes = prior.notes if prior.notes is not None else record_notes(fs)
    inputs = await record_inputs(session, fs, notes=notes)
    if not inputs.readings and DetailedServiceRecord.model_validate(prior.record).meters:
        raise Conflict(
            f"The readings of FS {fs.fs_id} are no longer kept (retention): its record cannot "
            "be rebuilt; answer with a rejection stating why.",
            slug="readings-gone",
        )
    await _store_record(
        session,
        fs,
        inputs,
        final_state,
        now,
        corrections=corrections,
        correction=correction,
        record_revision=prior.record_revision + 1,
        notes=notes,
    )
    await session.flush()
    row = await find_record(session, fs.id, fs.revision)
    assert row is not None
    return row


async def issue_proofs(
    session: AsyncSession, keys: ServerKeys, limit: int = 20, *, now: datetime | None = None
) -> int:
    """Worker step: sign the PoW of every DSR whose FS entries are all chained and in the tree
    (signing a newer tree head at once if needed); returns how many were issued.

    One replica at a time (an advisory lock on PostgreSQL; the others skip their pass): two
    replicas signing the same record would make the later one's whole batch roll back.
    """
    if not await try_advisory_lock(session, PROOFS_LOCK):
        return 0
    issued = 0
    for record in await records_without_proof(session, limit):
        chained, pending = await entries_of_fs(session, record.fo_party_id, record.fs_id)
        last = int(chained[-1].seq or 0) if chained else 0
        if pending or not chained or await tree_size(session) < last:
            continue
        latest = await latest_tree_head(session)
        if latest is not None and latest.tree_size >= last:
            head = tree_head_model(latest)
        else:
            signed = await sign_tree_head(session, keys, now=now)
            if signed is None:
                continue
            head = signed
        listed = chained
        if len(chained) > MAX_PROOF_EVENTS:  # keep both ends; the range still spans all
            half = MAX_PROOF_EVENTS // 2
            listed = [*chained[:half], *chained[-half:]]
        proof = ProofOfWork(
            pow_id=str(uuid.uuid4()),
            fs_id=record.fs_id,
            revision=record.revision,
            dsr_digest=record.digest,
            jws="e30..e30",
            key_id=keys.kid,
            meter_evidence=[MeterEvidence.model_validate(e) for e in record.evidence],
            event_log_range=EventLogRange(from_seq=int(chained[0].seq or 0), to_seq=last),
            events=await prove_entries(session, listed, head.tree_size),
            tree_head=head,
            validation=ProofValidation(status=ProofValidationStatus.PENDING),
            issued_at=now or utcnow(),
            record_revision=record.record_revision if record.record_revision > 1 else None,
        )
        proof = proof.model_copy(update={"jws": keys.sign(proof.signed_payload())})
        session.add(
            ProofOfWorkRow(
                pow_id=proof.pow_id,
                record_id=record.id,
                fs_pk=record.fs_pk,
                proof=proof.model_dump(mode="json", exclude={"validation"}),
                validation_status=ProofValidationStatus.PENDING.value,
                reasons=[],
                issued_at=proof.issued_at,
            )
        )
        issued += 1
    return issued


async def record_row(
    session: AsyncSession, party_id: str, fs_id: str, *, lock: bool = False
) -> tuple[FlexibilityServiceRow, ServiceRecordRow]:
    fs = await get_fs(session, party_id, fs_id, for_update=lock)
    if fs is None:
        raise NotFound(f"No flexibility service {fs_id}.", slug="fs-not-found")
    record = await find_record(session, fs.id, fs.revision)
    if record is None:
        when = (
            "has ended; its record is being made"
            if FsState(fs.state) in FINAL_EXECUTION_STATES
            else f"is {fs.state}; its record is made once it has ended"
        )
        raise NotFound(f"FS {fs_id} {when}.", slug="record-not-available")
    return fs, record


def proof_model(row: ProofOfWorkRow) -> ProofOfWork:
    validation = ProofValidation(
        status=ProofValidationStatus(row.validation_status),
        by=row.validated_by,
        at=row.validated_at,
        reasons=list(row.reasons),
    )
    return ProofOfWork.model_validate({**row.proof, "validation": validation})


async def get_record(session: AsyncSession, party_id: str, fs_id: str) -> DetailedServiceRecord:
    """The DSR of the FO's FS (current revision)."""
    _, record = await record_row(session, party_id, fs_id)
    return DetailedServiceRecord.model_validate(record.record)


async def get_proof(session: AsyncSession, party_id: str, fs_id: str) -> ProofOfWork:
    """The PoW of the FO's FS; 409 + Retry-After while it is being issued."""
    _, record = await record_row(session, party_id, fs_id)
    row = await find_proof(session, record.id)
    if row is None:
        raise Conflict(
            "The proof of work is being issued; retry shortly.",
            slug="proof-pending",
            headers={"Retry-After": "1"},
        )
    return proof_model(row)
