"""Routes of UC 3.4 on an FS: its detailed service record, its proof of work, the FO's
validation of that proof (`/v1/flexibility-services/{fs_id}/record`, `/proof`,
`/proof/validation`), its dispute and the FO's response to the CSO's answer (`/dispute`,
`/dispute/response`), and the baseline the FO submits before the start (`/baseline`). Verify a
proof offline with `fcsbe.client.proofs.verify_proof_of_work`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import APIRouter, Path, Request, Response
from pydantic import BaseModel

from fcsbe.model import (
    BaselineSubmission,
    DetailedServiceRecord,
    Dispute,
    DisputeResponse,
    ProofOfWork,
    ProofValidationRequest,
    SubmittedBaselineInfo,
)
from fcsbe.server.api.edge.authentication import fo_with_scope
from fcsbe.server.api.edge.idempotency import (
    IdempotencyKey,
    Outcome,
    run_idempotent,
)
from fcsbe.server.api.edge.problems import STATE_CONFLICT, problem_responses
from fcsbe.server.deps import DbSession, ServerSigningKeys, state_settings
from fcsbe.server.security.keys import ServerKeys
from fcsbe.server.security.principal import Principal
from fcsbe.server.services.records import baselines, disputes
from fcsbe.server.services.records import records as service

__all__ = ["router", "run_timed_dispute_step"]

RecordsPrincipal = Annotated[Principal, fo_with_scope("records")]

router = APIRouter(prefix="/v1/flexibility-services", tags=["records"])

FsId = Annotated[str, Path(max_length=128, description="Id of the FS.")]


async def run_timed_dispute_step(
    step: Callable[..., Awaitable[BaseModel]],
    subject_id: str,
    body: BaseModel,
    request: Request,
    principal: Principal,
    session: DbSession,
    keys: ServerKeys,
    idempotency_key: str | None,
) -> Response:
    """Take a step of a record's dispute that has a deadline (the FO's validation of the proof,
    `disputes.validate_proof`; the CSO's answer, `disputes.answer_dispute`) on `subject_id` (an
    FS, a dispute) for the caller, against the dispute deadlines of the server's settings.

    A retry with the same idempotency key gets the same answer; the FO's and the operator's
    routes answer the same way."""
    deadlines = disputes.DisputeDeadlines.from_settings(state_settings(request))

    async def handler() -> Outcome:
        result = await step(
            session, keys, principal.party_id, subject_id, body, deadlines=deadlines
        )
        return 200, result, {}

    return await run_idempotent(request, session, principal.party_id, idempotency_key, handler)


@router.get(
    "/{fs_id}/record",
    operation_id="get_fs_record",
    response_model=DetailedServiceRecord,
    responses=problem_responses(401, 403, 404),
)
async def get_fs_record(
    fs_id: FsId, principal: RecordsPrincipal, session: DbSession
) -> DetailedServiceRecord:
    """The detailed service record (DSR) of an ended FS: per interval requested, baseline,
    measured and delivered power; sessions, totals, meters, data quality, settlement."""
    return await service.get_record(session, principal.party_id, fs_id)


@router.get(
    "/{fs_id}/proof",
    operation_id="get_fs_proof",
    response_model=ProofOfWork,
    responses=problem_responses(401, 403, 404, 409),
)
async def get_fs_proof(fs_id: FsId, principal: RecordsPrincipal, session: DbSession) -> ProofOfWork:
    """The proof of work (PoW): signed DSR digest, meter evidence, the FS's event-log entries
    with inclusion proofs and the signed tree head; 409 + Retry-After while being issued."""
    return await service.get_proof(session, principal.party_id, fs_id)


@router.post(
    "/{fs_id}/proof/validation",
    operation_id="validate_fs_proof",
    response_model=ProofOfWork,
    responses=problem_responses(401, 403, 404, 409, idempotent=True, described=STATE_CONFLICT),
)
async def validate_fs_proof(
    fs_id: FsId,
    body: ProofValidationRequest,
    request: Request,
    principal: RecordsPrincipal,
    session: DbSession,
    keys: ServerSigningKeys,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Accept (-> PROVEN) or dispute with a reason code and reasons (-> DISPUTED: a dispute
    opens for the CSO to answer) the proof of the record in force. Accepting a disputed proof
    before the CSO answers withdraws the dispute; accepting the proof of a revised record
    accepts the CSO's answer."""
    return await run_timed_dispute_step(
        disputes.validate_proof, fs_id, body, request, principal, session, keys, idempotency_key
    )


@router.get(
    "/{fs_id}/dispute",
    operation_id="get_fs_dispute",
    response_model=Dispute,
    responses=problem_responses(401, 403, 404),
)
async def get_fs_dispute(fs_id: FsId, principal: RecordsPrincipal, session: DbSession) -> Dispute:
    """The dispute of the FS's record: status, deadlines, the record revision in force and
    every step, each signed by the server."""
    return await disputes.dispute_of_fs(session, principal.party_id, fs_id)


@router.post(
    "/{fs_id}/dispute/response",
    operation_id="respond_to_fs_dispute",
    response_model=Dispute,
    responses=problem_responses(401, 403, 404, 409, 422, idempotent=True, described=STATE_CONFLICT),
)
async def respond_to_fs_dispute(
    fs_id: FsId,
    body: DisputeResponse,
    request: Request,
    principal: RecordsPrincipal,
    session: DbSession,
    keys: ServerSigningKeys,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Accept the CSO's answer (the FS becomes PROVEN on the record revision in force; 409
    proof-pending + Retry-After until a revised record's proof is issued) or escalate."""

    async def handler() -> Outcome:
        dispute = await disputes.respond_to_dispute(session, keys, principal.party_id, fs_id, body)
        return 200, dispute, {}

    return await run_idempotent(request, session, principal.party_id, idempotency_key, handler)


@router.put(
    "/{fs_id}/baseline",
    operation_id="submit_fs_baseline",
    response_model=SubmittedBaselineInfo,
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def submit_fs_baseline(
    fs_id: FsId, body: BaselineSubmission, principal: RecordsPrincipal, session: DbSession
) -> SubmittedBaselineInfo:
    """Submit the baseline a SUBMITTED-baseline FS settles against (a D-prognosis); replaces
    an earlier one; 409 baseline-too-late once the window has started."""
    return await baselines.submit_baseline(
        session,
        fo_party_id=principal.party_id,
        fs_id=fs_id,
        by=principal.party_id,
        role="FO",
        body=body,
    )


@router.get(
    "/{fs_id}/baseline",
    operation_id="get_fs_baseline",
    response_model=SubmittedBaselineInfo,
    responses=problem_responses(401, 403, 404),
)
async def get_fs_baseline(
    fs_id: FsId, principal: RecordsPrincipal, session: DbSession
) -> SubmittedBaselineInfo:
    """The baseline submitted for the FS (by the FO or the CSO)."""
    return await baselines.get_baseline(session, principal.party_id, fs_id)
