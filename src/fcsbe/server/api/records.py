"""Routes of UC 3.4 on an FS: its detailed service record, its proof of work, and the FO's
validation of that proof (`/v1/flexibility-services/{fs_id}/record`, `/proof`,
`/proof/validation`). Verify a proof offline with `fcsbe.client.proofs.verify_proof_of_work`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response

from fcsbe.model import DetailedServiceRecord, ProofOfWork, ProofValidationRequest
from fcsbe.server.api.edge.authentication import fo_with_scope
from fcsbe.server.api.edge.idempotency import (
    IDEMPOTENCY_RESPONSES,
    IdempotencyKey,
    Outcome,
    run_idempotent,
)
from fcsbe.server.api.edge.problems import problem_responses
from fcsbe.server.deps import DbSession
from fcsbe.server.security.principal import Principal
from fcsbe.server.services.records import records as service

__all__ = ["router"]

RecordsPrincipal = Annotated[Principal, fo_with_scope("records")]

router = APIRouter(prefix="/v1/flexibility-services", tags=["records"])

FsId = Annotated[str, Path(max_length=128, description="Id of the FS.")]


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
    responses={**IDEMPOTENCY_RESPONSES, **problem_responses(401, 403, 404, 409)},
)
async def validate_fs_proof(
    fs_id: FsId,
    body: ProofValidationRequest,
    request: Request,
    principal: RecordsPrincipal,
    session: DbSession,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Accept (-> PROVEN) or dispute with reasons (-> DISPUTED) the proof of work."""

    async def handler() -> Outcome:
        proof = await service.validate_proof(session, principal.party_id, fs_id, body)
        return 200, proof, {}

    return await run_idempotent(request, session, principal.party_id, idempotency_key, handler)
