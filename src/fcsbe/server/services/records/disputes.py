"""Disputes of a detailed service record, both ways (UC 3.4).

```
FO: DISPUTE the proof ──► OPEN ──(CSO answers by answer_due)──► REVISED (record revision n+1)
                           │                                  └► REJECTED (reasons)
                           │ answer_due passes                        │
                           ▼                                          │ FO responds by response_due
                       ESCALATED ◄──────────── ESCALATE ──────────────┤
                                                ACCEPT ───────────────┴► ACCEPTED (FS PROVEN)
                                 response_due passes: the answer is deemed ACCEPTED
```

The FO may also withdraw an OPEN dispute by accepting the proof (ACCEPTED, FS PROVEN). Every
step is a `DisputeStep` signed by the server's key, an event-log entry (`DISPUTE_<STEP>`) and a
notification (`DISPUTE_OPENED`, `DISPUTE_ANSWERED`, `DISPUTE_ACCEPTED`, `DISPUTE_ESCALATED`).
Settlement follows the record revision in force when the dispute ends: a REVISED answer's record
is the one served, proven and settled; an ESCALATED dispute leaves the FS DISPUTED, to be settled
outside the interface. Deadlines: `DisputeDeadlines` (settings `dispute_answer_days` and
`dispute_response_days`, 10 days each by default), fixed on the dispute when each turn starts
and enforced by `expire_disputes` (run with the proof-of-work step).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession

from fcsbe.model import (
    Dispute,
    DisputeAnswer,
    DisputeAnswerKind,
    DisputeList,
    DisputeReasonCode,
    DisputeResponse,
    DisputeResponseKind,
    DisputeStatus,
    DisputeStep,
    DisputeStepData,
    DsrCorrection,
    FsState,
    NotificationType,
    ProofDecision,
    ProofOfWork,
    ProofValidationRequest,
    ProofValidationStatus,
)
from fcsbe.server.errors import Conflict, NotFound
from fcsbe.server.notifications.outbox import enqueue_notification
from fcsbe.server.security.keys import ServerKeys
from fcsbe.server.services.event_log.log import append_event
from fcsbe.server.services.flexibility_services.lifecycle import move
from fcsbe.server.services.records.records import (
    issue_proofs,
    proof_model,
    record_row,
    revise_record,
)
from fcsbe.server.settings import Settings
from fcsbe.server.storage.base import utcnow
from fcsbe.server.storage.flexibility_services import FlexibilityServiceRow, get_fs
from fcsbe.server.storage.records import (
    DisputeRow,
    ServiceRecordRow,
    disputes_due,
    find_dispute,
    find_proof,
    find_record,
    list_disputes,
    open_dispute_of,
)

__all__ = [
    "ANSWER_DEADLINE",
    "DEFAULT_DEADLINES",
    "RESPONSE_DEADLINE",
    "DisputeDeadlines",
    "answer_dispute",
    "dispute_of_fs",
    "disputes",
    "expire_disputes",
    "get_dispute",
    "open_dispute",
    "proofs_step",
    "respond_to_dispute",
    "validate_proof",
    "withdraw_dispute",
]

ANSWER_DEADLINE = timedelta(days=10)
"""The CSO answers within this by default; past it the dispute is ESCALATED."""
RESPONSE_DEADLINE = timedelta(days=10)
"""The FO responds to an answer within this by default; past it the answer is deemed ACCEPTED."""


@dataclass(frozen=True, slots=True)
class DisputeDeadlines:
    """How long each side has for its turn (settings `dispute_*_days`). A dispute keeps the
    due times set when each turn started, so a changed setting binds new turns only."""

    answer: timedelta = ANSWER_DEADLINE
    """The CSO's, from the opening; past it the dispute is ESCALATED."""
    response: timedelta = RESPONSE_DEADLINE
    """The FO's, from the answer; past it the answer is deemed ACCEPTED."""

    @classmethod
    def from_settings(cls, settings: Settings) -> DisputeDeadlines:
        """The deadlines the settings give."""
        return cls(
            timedelta(days=settings.dispute_answer_days),
            timedelta(days=settings.dispute_response_days),
        )


DEFAULT_DEADLINES = DisputeDeadlines()
SERVER_PARTY = "FCSBE"
"""Who took a step that a deadline took."""

_Step = Literal["OPENED", "REVISED", "REJECTED", "ACCEPTED", "ESCALATED"]
_Role = Literal["FO", "CSO", "DEADLINE"]
_NOTIFIED: dict[str, NotificationType] = {
    "OPENED": NotificationType.DISPUTE_OPENED,
    "REVISED": NotificationType.DISPUTE_ANSWERED,
    "REJECTED": NotificationType.DISPUTE_ANSWERED,
    "ACCEPTED": NotificationType.DISPUTE_ACCEPTED,
    "ESCALATED": NotificationType.DISPUTE_ESCALATED,
}
_SOURCE = {"FO": "FO", "CSO": "OPERATOR", "DEADLINE": "FCSBE"}


def to_model(row: DisputeRow) -> Dispute:
    """The wire dispute of a row."""
    return Dispute(
        dispute_id=row.dispute_id,
        fs_id=row.fs_id,
        revision=row.revision,
        fo_party_id=row.fo_party_id,
        status=DisputeStatus(row.status),
        reason_code=DisputeReasonCode(row.reason_code),
        reasons=list(row.reasons),
        disputed_record_revision=row.disputed_record_revision,
        record_revision=row.record_revision,
        opened_at=row.opened_at,
        answer_due=row.answer_due,
        response_due=row.response_due,
        closed_at=row.closed_at,
        steps=[DisputeStep.model_validate(step) for step in row.steps],
    )


async def _step(
    session: AsyncSession,
    keys: ServerKeys,
    row: DisputeRow,
    record: ServiceRecordRow,
    *,
    step: _Step,
    by: str,
    role: _Role,
    at: datetime,
    reason_code: DisputeReasonCode | None,
    reasons: list[str],
    due: datetime | None,
) -> None:
    """Sign a step, keep it, log it and notify it (in the caller's transaction)."""
    unsigned = DisputeStep(
        dispute_id=row.dispute_id,
        step=step,
        by=by,
        role=role,
        at=at,
        reason_code=reason_code,
        reasons=reasons,
        record_revision=record.record_revision,
        record_digest=record.digest,
        signature="e30..e30",
    )
    signed = unsigned.model_copy(update={"signature": keys.sign(unsigned.signed_payload())})
    row.steps = [*row.steps, signed.model_dump(mode="json")]
    await append_event(
        session,
        type=f"DISPUTE_{step}",
        object_ref=f"dispute/{row.dispute_id}",
        summary=f"dispute of the record of FS revision {row.revision}: {step} by {role}",
        party_id=row.fo_party_id,
        fs_id=row.fs_id,
        payload=signed.model_dump(mode="json"),
        source=_SOURCE[role],
    )
    data = DisputeStepData(
        dispute_id=row.dispute_id,
        revision=row.revision,
        status=DisputeStatus(row.status),
        by_role=role,
        reason_code=reason_code,
        record_revision=record.record_revision,
        due=due,
    )
    await enqueue_notification(
        session,
        fo_party_id=row.fo_party_id,
        type=_NOTIFIED[step].value,
        fs_id=row.fs_id,
        data=data.model_dump(mode="json"),
        occurred_at=at,
    )


async def open_dispute(
    session: AsyncSession,
    keys: ServerKeys,
    fs: FlexibilityServiceRow,
    record: ServiceRecordRow,
    reason_code: DisputeReasonCode,
    reasons: list[str],
    now: datetime,
    deadlines: DisputeDeadlines = DEFAULT_DEADLINES,
) -> DisputeRow:
    """The FO disputes the record in force (called with the DISPUTE of its proof)."""
    if await open_dispute_of(session, fs.id) is not None:
        raise Conflict(
            f"The record of FS {fs.fs_id} has already been disputed; respond to the answer "
            "(POST .../dispute/response) instead.",
            slug="dispute-exists",
        )
    row = DisputeRow(
        dispute_id=str(uuid.uuid4()),
        fs_pk=fs.id,
        fo_party_id=fs.fo_party_id,
        fs_id=fs.fs_id,
        revision=fs.revision,
        status=DisputeStatus.OPEN.value,
        reason_code=reason_code.value,
        reasons=list(reasons),
        disputed_record_revision=record.record_revision,
        record_revision=record.record_revision,
        opened_at=now,
        answer_due=now + deadlines.answer,
        steps=[],
    )
    session.add(row)
    await _step(
        session,
        keys,
        row,
        record,
        step="OPENED",
        by=fs.fo_party_id,
        role="FO",
        at=now,
        reason_code=reason_code,
        reasons=list(reasons),
        due=row.answer_due,
    )
    return row


async def _fs_of(session: AsyncSession, row: DisputeRow) -> FlexibilityServiceRow:
    fs = await get_fs(session, row.fo_party_id, row.fs_id, for_update=True)
    if fs is None:
        raise NotFound(f"No flexibility service {row.fs_id}.", slug="fs-not-found")
    return fs


async def _record_of(session: AsyncSession, row: DisputeRow) -> ServiceRecordRow:
    record = await find_record(session, row.fs_pk, row.revision, row.record_revision)
    if record is None:
        raise NotFound(f"FS {row.fs_id} has no record.", slug="record-not-available")
    return record


async def _close(
    session: AsyncSession,
    keys: ServerKeys,
    row: DisputeRow,
    *,
    accept: bool,
    by: str,
    role: _Role,
    reasons: list[str],
    now: datetime,
) -> None:
    """End a dispute: ACCEPTED (the record in force is proven, the FS PROVEN) or ESCALATED
    (the FS stays DISPUTED)."""
    fs = await _fs_of(session, row)
    record = await _record_of(session, row)
    row.status = (DisputeStatus.ACCEPTED if accept else DisputeStatus.ESCALATED).value
    row.closed_at = now
    if accept:
        proof = await find_proof(session, record.id, for_update=True)
        if proof is not None:
            proof.validation_status = ProofValidationStatus.ACCEPTED.value
            proof.validated_by, proof.validated_at = by, now
            proof.reasons = list(reasons)
        if FsState(fs.state) is FsState.DISPUTED:
            await move(
                session,
                fs,
                FsState.PROVEN,
                f"dispute ended: record revision {record.record_revision} accepted",
                at=now,
            )
    await _step(
        session,
        keys,
        row,
        record,
        step="ACCEPTED" if accept else "ESCALATED",
        by=by,
        role=role,
        at=now,
        reason_code=None,
        reasons=reasons,
        due=None,
    )


async def withdraw_dispute(
    session: AsyncSession, keys: ServerKeys, fs: FlexibilityServiceRow, now: datetime
) -> None:
    """The FO accepts the proof it disputed before the CSO answered: the dispute ends
    ACCEPTED (the caller moves the FS to PROVEN)."""
    row = await open_dispute_of(session, fs.id, for_update=True)
    if row is None or row.status != DisputeStatus.OPEN.value:
        return
    record = await _record_of(session, row)
    row.status, row.closed_at = DisputeStatus.ACCEPTED.value, now
    await _step(
        session,
        keys,
        row,
        record,
        step="ACCEPTED",
        by=fs.fo_party_id,
        role="FO",
        at=now,
        reason_code=None,
        reasons=["the FO withdrew the dispute by accepting the proof"],
        due=None,
    )


async def dispute_of_fs(session: AsyncSession, party_id: str, fs_id: str) -> Dispute:
    """The FO's dispute of its FS's record."""
    fs = await get_fs(session, party_id, fs_id)
    row = await open_dispute_of(session, fs.id) if fs is not None else None
    if row is None:
        raise NotFound(f"FS {fs_id} has no dispute.", slug="dispute-not-found")
    return to_model(row)


async def disputes(
    session: AsyncSession, statuses: list[DisputeStatus], limit: int = 100
) -> DisputeList:
    """Disputes for the CSO, newest first (all statuses when none is given)."""
    rows = await list_disputes(session, [s.value for s in statuses], limit)
    return DisputeList(items=[to_model(row) for row in rows])


async def get_dispute(session: AsyncSession, dispute_id: str) -> Dispute:
    """One dispute, for the CSO."""
    row = await find_dispute(session, dispute_id)
    if row is None:
        raise NotFound(f"No dispute {dispute_id}.", slug="dispute-not-found")
    return to_model(row)


async def answer_dispute(
    session: AsyncSession,
    keys: ServerKeys,
    operator_id: str,
    dispute_id: str,
    body: DisputeAnswer,
    *,
    now: datetime | None = None,
    deadlines: DisputeDeadlines = DEFAULT_DEADLINES,
) -> Dispute:
    """The CSO answers an OPEN dispute before its deadline: REVISE rebuilds the record from
    the stored readings with the corrections as the next record revision (its proof of work
    follows), REJECT keeps the record and says why. The FO's turn starts."""
    now = now or utcnow()
    row = await find_dispute(session, dispute_id, for_update=True)
    if row is None:
        raise NotFound(f"No dispute {dispute_id}.", slug="dispute-not-found")
    if row.status != DisputeStatus.OPEN.value:
        raise Conflict(f"The dispute is {row.status}, not OPEN.", slug="dispute-not-open")
    if now >= row.answer_due:
        raise Conflict("The answer deadline has passed.", slug="dispute-deadline-passed")
    fs = await _fs_of(session, row)
    if body.answer is DisputeAnswerKind.REVISE:
        assert body.corrections is not None  # the model requires them
        prior = await _record_of(session, row)
        correction = DsrCorrection(
            dispute_id=row.dispute_id, supersedes_digest=prior.digest, reasons=list(body.reasons)
        )
        record = await revise_record(session, fs, body.corrections, correction, now)
        row.record_revision = record.record_revision
        row.status = DisputeStatus.REVISED.value
        step: _Step = "REVISED"
    else:
        record = await _record_of(session, row)
        row.status = DisputeStatus.REJECTED.value
        step = "REJECTED"
    row.response_due = now + deadlines.response
    await _step(
        session,
        keys,
        row,
        record,
        step=step,
        by=operator_id,
        role="CSO",
        at=now,
        reason_code=body.reason_code,
        reasons=list(body.reasons),
        due=row.response_due,
    )
    return to_model(row)


async def respond_to_dispute(
    session: AsyncSession,
    keys: ServerKeys,
    party_id: str,
    fs_id: str,
    body: DisputeResponse,
    *,
    now: datetime | None = None,
) -> Dispute:
    """The FO accepts the CSO's answer (the FS becomes PROVEN on the record in force; a revised
    record's proof must have been issued, so that the FO can verify it first) or escalates."""
    now = now or utcnow()
    fs = await get_fs(session, party_id, fs_id, for_update=True)
    row = await open_dispute_of(session, fs.id, for_update=True) if fs is not None else None
    if row is None:
        raise NotFound(f"FS {fs_id} has no dispute.", slug="dispute-not-found")
    if row.status not in (DisputeStatus.REVISED.value, DisputeStatus.REJECTED.value):
        raise Conflict(
            f"The dispute is {row.status}: there is no answer to respond to.",
            slug="dispute-not-answered",
        )
    accept = body.response is DisputeResponseKind.ACCEPT
    if accept and await find_proof(session, (await _record_of(session, row)).id) is None:
        raise Conflict(
            "The revised record's proof of work is being issued; retry shortly.",
            slug="proof-pending",
            headers={"Retry-After": "1"},
        )
    await _close(
        session,
        keys,
        row,
        accept=accept,
        by=party_id,
        role="FO",
        reasons=list(body.reasons),
        now=now,
    )
    return to_model(row)


async def expire_disputes(
    session: AsyncSession, keys: ServerKeys, now: datetime | None = None, limit: int = 50
) -> int:
    """Apply the deadlines: an OPEN dispute past its answer deadline is ESCALATED (the CSO did
    not answer); an answer the FO left past its response deadline is deemed ACCEPTED."""
    now = now or utcnow()
    rows = await disputes_due(session, now, limit)
    for row in rows:
        if row.status == DisputeStatus.OPEN.value:
            await _close(
                session,
                keys,
                row,
                accept=False,
                by=SERVER_PARTY,
                role="DEADLINE",
                reasons=["the CSO did not answer by the deadline"],
                now=now,
            )
        else:
            await _close(
                session,
                keys,
                row,
                accept=True,
                by=SERVER_PARTY,
                role="DEADLINE",
                reasons=["the FO did not respond to the answer by the deadline"],
                now=now,
            )
    return len(rows)


async def validate_proof(
    session: AsyncSession,
    keys: ServerKeys,
    party_id: str,
    fs_id: str,
    body: ProofValidationRequest,
    *,
    now: datetime | None = None,
    deadlines: DisputeDeadlines = DEFAULT_DEADLINES,
) -> ProofOfWork:
    """The FO accepts (-> PROVEN) or disputes (-> DISPUTED, a dispute OPEN for the CSO) the
    proof of the record in force. Accepting a disputed proof before the CSO answers withdraws
    the dispute; accepting the proof of a revised record accepts the CSO's answer."""
    fs, record = await record_row(session, party_id, fs_id, lock=True)
    row = await find_proof(session, record.id, for_update=True)
    if row is None:
        raise Conflict("The proof of work has not been issued yet.", slug="proof-not-issued")
    status = ProofValidationStatus(row.validation_status)
    accept = body.decision is ProofDecision.ACCEPT
    allowed = status is ProofValidationStatus.PENDING or (
        status is ProofValidationStatus.DISPUTED and accept
    )
    if not allowed:
        raise Conflict(f"The proof is already {status.value}.", slug="proof-already-validated")
    now = now or utcnow()
    dispute = await open_dispute_of(session, fs.id, for_update=True)
    if dispute is not None and dispute.status in (
        DisputeStatus.REVISED.value,
        DisputeStatus.REJECTED.value,
    ):
        if not accept:
            raise Conflict(
                "The CSO has answered the dispute: accept or escalate it "
                "(POST .../dispute/response).",
                slug="dispute-exists",
            )
        await _close(
            session, keys, dispute, accept=True, by=party_id, role="FO", reasons=[], now=now
        )
        return proof_model(row)
    row.validation_status = (
        ProofValidationStatus.ACCEPTED if accept else ProofValidationStatus.DISPUTED
    ).value
    row.validated_by, row.validated_at, row.reasons = party_id, now, list(body.reasons)
    reason = "FO accepted the proof of work" if accept else "; ".join(body.reasons)
    await append_event(
        session,
        type="PROOF_VALIDATED",
        object_ref=f"pow/{row.pow_id}",
        summary=f"{body.decision.value} of the proof of FS revision {record.revision}",
        party_id=party_id,
        fs_id=fs_id,
        payload={"pow_id": row.pow_id, "decision": body.decision.value, "reasons": body.reasons},
        source="FO",
    )
    if accept:
        await withdraw_dispute(session, keys, fs, now)
    else:
        code = body.reason_code or DisputeReasonCode.OTHER
        await open_dispute(session, keys, fs, record, code, list(body.reasons), now, deadlines)
    await move(session, fs, FsState.PROVEN if accept else FsState.DISPUTED, reason, at=now)
    return proof_model(row)


async def proofs_step(session: AsyncSession, keys: ServerKeys) -> int:
    """The proof-of-work worker's step: apply the dispute deadlines, then issue the proofs due
    (a revised record's among them)."""
    return await expire_disputes(session, keys) + await issue_proofs(session, keys)
