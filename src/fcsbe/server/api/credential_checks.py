"""The credentials-check route: actor, contract and per-target verdicts before an FS is sent."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter

from fcsbe.model import CredentialCheckRequest, CredentialCheckResult
from fcsbe.server.api.edge.authentication import fo_with_scope
from fcsbe.server.api.edge.problems import problem_responses
from fcsbe.server.api.edge.signatures import Signed, verify_signature_for_contract
from fcsbe.server.deps import DbSession, ServerSettings
from fcsbe.server.security.principal import Principal
from fcsbe.server.services.contracts.credential_checks import check_credentials
from fcsbe.server.storage.base import utcnow

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["contracts"])

ChecksPrincipal = Annotated[Principal, fo_with_scope("credential-checks")]


@router.post(
    "/credential-checks",
    operation_id="check_credentials",
    responses=problem_responses(401, 403, 404, 422),
)
async def post_credential_check(
    body: CredentialCheckRequest,
    signed: Signed,
    principal: ChecksPrincipal,
    session: DbSession,
    settings: ServerSettings,
) -> CredentialCheckResult:
    """May this FS run under this contract on these targets? One verdict per target with reason
    codes, valid until `valid_until`. Changes nothing (no Idempotency-Key needed). Signed when
    the contract requires signatures."""
    await verify_signature_for_contract(signed, session, principal, body.fsc_id)
    return await check_credentials(
        session, principal, body, now=utcnow(), ttl_s=settings.credential_check_ttl_s
    )
