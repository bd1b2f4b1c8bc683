"""Operator routes for disputes of records and for baselines (`/admin/v1`): list and read the
disputes the FOs opened, answer one with a corrected record revision or a rejection, and submit
the CSO's baseline of an FS before it starts."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from fcsbe.model import (
    BaselineSubmission,
    Dispute,
    DisputeAnswer,
    DisputeList,
    DisputeStatus,
    SubmittedBaselineInfo,
)
from fcsbe.server.api.edge.authentication import OperatorPrincipal
from fcsbe.server.api.edge.idempotency import IdempotencyKey
from fcsbe.server.api.edge.problems import STATE_CONFLICT, problem_responses
from fcsbe.server.api.records import run_timed_dispute_step
from fcsbe.server.deps import DbSession, ServerSigningKeys
from fcsbe.server.services.records import baselines, disputes

__all__ = ["router"]

router = APIRouter(prefix="/admin/v1", tags=["admin"])

DisputeId = Annotated[str, Path(max_length=64, description="Id of the dispute.")]


@router.get(
    "/disputes",
    operation_id="admin_list_disputes",
    response_model=DisputeList,
    responses=problem_responses(401, 403, 422),
)
async def admin_list_disputes(
    principal: OperatorPrincipal,
    session: DbSession,
    status: Annotated[
        list[DisputeStatus] | None, Query(description="Only these statuses (repeatable).")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500, description="At most this many.")] = 100,
) -> DisputeList:
    """Disputes of records, newest first: OPEN ones await the CSO's answer by `answer_due`."""
    return await disputes.disputes(session, list(status or []), limit)


@router.get(
    "/disputes/{dispute_id}",
    operation_id="admin_get_dispute",
    response_model=Dispute,
    responses=problem_responses(401, 403, 404),
)
async def admin_get_dispute(
    dispute_id: DisputeId, principal: OperatorPrincipal, session: DbSession
) -> Dispute:
    """One dispute with every signed step."""
    return await disputes.get_dispute(session, dispute_id)


@router.post(
    "/disputes/{dispute_id}/answer",
    operation_id="admin_answer_dispute",
    response_model=Dispute,
    responses=problem_responses(401, 403, 404, 409, 422, idempotent=True, described=STATE_CONFLICT),
)
async def admin_answer_dispute(
    dispute_id: DisputeId,
    body: DisputeAnswer,
    request: Request,
    principal: OperatorPrincipal,
    session: DbSession,
    keys: ServerSigningKeys,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Answer an OPEN dispute before `answer_due`: REVISE (the record is rebuilt from the
    stored readings with the corrections as the next record revision, its proof follows) or
    REJECT with a reason code and reasons. The FO then has until `response_due`."""
    return await run_timed_dispute_step(
        disputes.answer_dispute,
        dispute_id,
        body,
        request,
        principal,
        session,
        keys,
        idempotency_key,
    )


@router.put(
    "/flexibility-services/{fs_id}/baseline",
    operation_id="admin_submit_fs_baseline",
    response_model=SubmittedBaselineInfo,
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def admin_submit_fs_baseline(
    fs_id: Annotated[str, Path(max_length=128, description="Id of the FS.")],
    body: BaselineSubmission,
    principal: OperatorPrincipal,
    session: DbSession,
    fo_party_id: Annotated[str, Query(max_length=128, description="The FO of the FS.")],
) -> SubmittedBaselineInfo:
    """Submit the CSO's baseline of an FS before it starts (409 baseline-too-late after)."""
    return await baselines.submit_baseline(
        session,
        fo_party_id=fo_party_id,
        fs_id=fs_id,
        by=principal.party_id,
        role="CSO",
        body=body,
    )
