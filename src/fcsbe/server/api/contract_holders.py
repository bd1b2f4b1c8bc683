"""The contract-holder lookup route (UC 3.5): which parties hold contracts covering a target."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter

from fcsbe.model import ContractHolderLookupRequest, ContractHolderLookupResult
from fcsbe.server.api.edge.authentication import fo_with_scope
from fcsbe.server.api.edge.problems import problem_responses
from fcsbe.server.api.edge.signatures import Signed, verify_request_signature
from fcsbe.server.deps import DbSession
from fcsbe.server.security.principal import Principal
from fcsbe.server.services.contracts.holders import lookup_holders
from fcsbe.server.storage.base import utcnow

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["contracts"])

HoldersPrincipal = Annotated[Principal, fo_with_scope("contract-holders")]


@router.post(
    "/contract-holders/lookup",
    operation_id="lookup_contract_holders",
    responses=problem_responses(401, 403, 422),
)
async def lookup_contract_holders(
    body: ContractHolderLookupRequest,
    signed: Signed,
    principal: HoldersPrincipal,
    session: DbSession,
) -> ContractHolderLookupResult:
    """Given a CS, EVSE or pseudonymous session reference, the holders of the active contracts
    that cover it and their FS types; contract ids only for your own. Changes nothing."""
    await verify_request_signature(signed, session, principal, required=False)
    return await lookup_holders(session, principal, body, now=utcnow())
