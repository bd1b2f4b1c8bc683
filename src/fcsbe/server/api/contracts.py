"""Contract routes of the FO (UC 3.3): propose, list, read, amend, terminate."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from fcsbe.model import (
    ContractAmendment,
    ContractProposal,
    ContractStatus,
    ContractTermination,
    FlexibilityServiceContract,
    Page,
)
from fcsbe.server.api.edge.authentication import fo_with_scope
from fcsbe.server.api.edge.idempotency import (
    IdempotencyKey,
    Outcome,
    run_idempotent,
)
from fcsbe.server.api.edge.paging import (
    DEFAULT_PAGE_SIZE,
    Cursor,
    Limit,
    cursor_key,
    page_response,
)
from fcsbe.server.api.edge.problems import problem_responses
from fcsbe.server.api.edge.signatures import (
    Signed,
    verify_request_signature,
    verify_signature_for_contract,
)
from fcsbe.server.deps import DbSession
from fcsbe.server.security.principal import Principal
from fcsbe.server.services.contracts import contracts
from fcsbe.server.storage.base import utcnow

__all__ = ["ContractStatusFilter", "FscId", "contracts_page", "router"]

router = APIRouter(prefix="/v1", tags=["contracts"])

ContractsPrincipal = Annotated[Principal, fo_with_scope("contracts")]
FscId = Annotated[
    str, Path(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:*\-]*$")
]
ContractStatusFilter = Annotated[ContractStatus | None, Query(description="Only this status.")]


async def contracts_page(
    request: Request,
    response: Response,
    session: DbSession,
    principal: Principal,
    *,
    status: ContractStatus | None,
    limit: int,
    cursor: str | None,
    fo_party_id: str | None = None,
) -> Page[FlexibilityServiceContract]:
    """A page of the contracts the caller may see (an FO its own, the operator every FO's, or
    one FO's with `fo_party_id`): the FO and the operator list route answer the same way."""
    items, next_key = await contracts.list_contracts(
        session,
        principal,
        after_id=cursor_key(request, cursor, int),
        limit=limit,
        status=status,
        fo_party_id=fo_party_id,
    )
    return page_response(request, response, Page[FlexibilityServiceContract], items, next_key)


async def _change_contract(
    change: Callable[..., Awaitable[FlexibilityServiceContract]],
    fsc_id: str,
    body: ContractAmendment | ContractTermination,
    request: Request,
    signed: Signed,
    principal: Principal,
    session: DbSession,
    key: str | None,
) -> Response:
    """A change of one contract by its FO (amend, terminate): the request is signed with a key
    of the FO's contract, and a retry with the same idempotency key gets the same answer."""
    await verify_signature_for_contract(signed, session, principal, fsc_id)

    async def handler() -> Outcome:
        return 200, await change(session, principal, fsc_id, body, now=utcnow()), {}

    return await run_idempotent(request, session, principal.party_id, key, handler)


@router.post(
    "/contracts",
    operation_id="propose_contract",
    status_code=201,
    response_model=FlexibilityServiceContract,
    responses=problem_responses(401, 403, 409, 422, idempotent=True),
)
async def propose_contract(
    body: ContractProposal,
    request: Request,
    signed: Signed,
    principal: ContractsPrincipal,
    session: DbSession,
    key: IdempotencyKey = None,
) -> Response:
    """Propose a flexibility service contract; it is PROPOSED until the operator decides."""
    await verify_request_signature(signed, session, principal, required=False)

    async def handler() -> Outcome:
        result = await contracts.propose(session, principal, body, now=utcnow())
        return 201, result, {"location": f"/v1/contracts/{result.fsc_id}"}

    return await run_idempotent(request, session, principal.party_id, key, handler)


@router.get(
    "/contracts",
    operation_id="list_contracts",
    responses=problem_responses(401, 403, 422),
)
async def list_contracts(
    request: Request,
    response: Response,
    principal: ContractsPrincipal,
    session: DbSession,
    status: ContractStatusFilter = None,
    limit: Limit = DEFAULT_PAGE_SIZE,
    cursor: Cursor = None,
) -> Page[FlexibilityServiceContract]:
    """Your contracts with their revision history, oldest first."""
    return await contracts_page(
        request, response, session, principal, status=status, limit=limit, cursor=cursor
    )


@router.get(
    "/contracts/{fsc_id}",
    operation_id="get_contract",
    responses=problem_responses(401, 403, 404, 422),
)
async def get_contract(
    fsc_id: FscId, principal: ContractsPrincipal, session: DbSession
) -> FlexibilityServiceContract:
    """One of your contracts, with every revision (superseded ones stay readable)."""
    return await contracts.load_contract(session, principal, fsc_id)


@router.patch(
    "/contracts/{fsc_id}",
    operation_id="amend_contract",
    response_model=FlexibilityServiceContract,
    responses=problem_responses(401, 403, 404, 409, 422, idempotent=True),
)
async def amend_contract(
    fsc_id: FscId,
    body: ContractAmendment,
    request: Request,
    signed: Signed,
    principal: ContractsPrincipal,
    session: DbSession,
    key: IdempotencyKey = None,
) -> Response:
    """Propose new terms (a full replacement) as a new PENDING revision."""
    return await _change_contract(
        contracts.amend, fsc_id, body, request, signed, principal, session, key
    )


@router.post(
    "/contracts/{fsc_id}/terminate",
    operation_id="terminate_contract",
    response_model=FlexibilityServiceContract,
    responses=problem_responses(401, 403, 404, 409, 422, idempotent=True),
)
async def terminate_contract(
    fsc_id: FscId,
    body: ContractTermination,
    request: Request,
    signed: Signed,
    principal: ContractsPrincipal,
    session: DbSession,
    key: IdempotencyKey = None,
) -> Response:
    """End the contract now, or at `effective_at`."""
    return await _change_contract(
        contracts.terminate, fsc_id, body, request, signed, principal, session, key
    )
