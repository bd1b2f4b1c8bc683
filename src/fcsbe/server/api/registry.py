"""`POST /admin/v1/stations/import`: the operator loads the station registry over HTTP.

The same document and the same checks as `fcsbe admin stations import`: all or nothing,
idempotent, every problem named by a JSON pointer and the entry it is in. Bodies are capped by
`FCSBE_MAX_BODY_BYTES`; import larger registries with the command line.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from fcsbe.model import FieldError, RegistryDocument, RegistryImportResult
from fcsbe.server.api.edge.authentication import OperatorPrincipal
from fcsbe.server.api.edge.idempotency import (
    IdempotencyKey,
    Outcome,
    run_idempotent,
)
from fcsbe.server.api.edge.problems import problem_responses
from fcsbe.server.deps import DbSession
from fcsbe.server.errors import UnprocessableContent
from fcsbe.server.services.registry.files import describe_entry
from fcsbe.server.services.registry.registry import (
    RegistryRejected,
    import_registry,
    parse_document,
)

__all__ = ["router"]

router = APIRouter(prefix="/admin/v1/stations", tags=["admin"])


def _rejected(raw: Any, exc: RegistryRejected) -> UnprocessableContent:
    errors = []
    for issue in exc.issues:
        entry, field = describe_entry(raw, issue.pointer)
        errors.append(
            FieldError(
                pointer=f"/body{issue.pointer}",
                detail=f"{entry}: {field}: {issue.detail}",
                code=issue.code,
            )
        )
    return UnprocessableContent(
        f"The registry document has {len(errors)} problem(s); nothing was imported.",
        slug="registry-rejected",
        errors=errors,
    )


@router.post(
    "/import",
    operation_id="import_stations",
    response_model=RegistryImportResult,
    responses=problem_responses(
        401,
        403,
        422,
        idempotent=True,
        described={
            401: "Missing or invalid credential",
            403: "Not an operator credential",
            422: "The document was refused; nothing was imported",
        },
    ),
)
async def import_stations(
    document: RegistryDocument,
    request: Request,
    principal: OperatorPrincipal,
    session: DbSession,
    idempotency_key: IdempotencyKey = None,
    dry_run: Annotated[bool, Query(description="Check everything, write nothing.")] = False,
) -> Response:
    """Import (add or update) sites, charging stations with their EVSEs, and EV models."""
    raw = await request.json()

    async def handle() -> Outcome:
        try:
            result = await import_registry(session, parse_document(raw), dry_run=dry_run)
        except RegistryRejected as exc:
            raise _rejected(raw, exc) from None
        return 200, result, {}

    del document  # validated by FastAPI for the schema; re-read strictly from the raw body
    return await run_idempotent(request, session, principal.party_id, idempotency_key, handle)
