"""Operator routes for contracts (`/admin/v1`): list, read, and decide (accept, reject,
suspend). A contract id is unique per FO; where two FOs chose the same id, `fo_party_id` picks
one."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from fcsbe.model import ContractDecision, FlexibilityServiceContract, Page
from fcsbe.server.api.contracts import ContractStatusFilter, FscId, contracts_page
from fcsbe.server.api.edge.authentication import OperatorPrincipal
from fcsbe.server.api.edge.idempotency import (
    IdempotencyKey,
    Outcome,
    run_idempotent,
)
from fcsbe.server.api.edge.paging import DEFAULT_PAGE_SIZE, Cursor, Limit
from fcsbe.server.api.edge.problems import problem_responses
from fcsbe.server.deps import DbSession
from fcsbe.server.services.contracts import decisions as contract_decisions
from fcsbe.server.storage.base import utcnow

__all__ = ["router"]

router = APIRouter(prefix="/admin/v1", tags=["admin"])

FoPartyFilter = Annotated[
    str | None, Query(max_length=128, description="The FO whose contract is meant.")
]


@router.get(
    "/contracts",
    operation_id="admin_list_contracts",
    responses=problem_responses(401, 403, 422),
)
async def admin_list_contracts(
    request: Request,
    response: Response,
    principal: OperatorPrincipal,
    session: DbSession,
    status: ContractStatusFilter = None,
    fo_party_id: FoPartyFilter = None,
    limit: Limit = DEFAULT_PAGE_SIZE,
    cursor: Cursor = None,
) -> Page[FlexibilityServiceContract]:
    """Contracts with every aggregator, oldest first."""
    return await contracts_page(
        request,
        response,
        session,
        principal,
        status=status,
        limit=limit,
        cursor=cursor,
        fo_party_id=fo_party_id,
    )


@router.get(
    "/contracts/{fsc_id}",
    operation_id="admin_get_contract",
    responses=problem_responses(401, 403, 404, 409),
)
async def admin_get_contract(
    fsc_id: FscId,
    principal: OperatorPrincipal,
    session: DbSession,
    fo_party_id: FoPartyFilter = None,
) -> FlexibilityServiceContract:
    """One contract with its revisions."""
    return await contract_decisions.load_contract_of(session, principal, fsc_id, fo_party_id)


@router.post(
    "/contracts/{fsc_id}/decision",
    operation_id="decide_contract",
    response_model=FlexibilityServiceContract,
    responses=problem_responses(401, 403, 404, 409, 422, idempotent=True),
)
async def decide_contract(
    fsc_id: FscId,
    body: ContractDecision,
    request: Request,
    principal: OperatorPrincipal,
    session: DbSession,
    fo_party_id: FoPartyFilter = None,
    key: IdempotencyKey = None,
) -> Response:
    """Accept or reject the pending revision (ACCEPT also resumes a SUSPENDED contract), or
    suspend an ACTIVE contract."""

    async def handler() -> Outcome:
        result = await contract_decisions.decide(
            session, principal, fsc_id, body, now=utcnow(), fo_party_id=fo_party_id
        )
        return 200, result, {}

    return await run_idempotent(request, session, principal.party_id, key, handler)
