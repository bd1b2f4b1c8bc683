"""The FO's webhook endpoint: read it, set its URL (re-enabling it), rotate its secret."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request, Response

from fcsbe.model import WebhookEndpoint, WebhookEndpointUpdate
from fcsbe.server.api.edge.authentication import fo_with_scope
from fcsbe.server.api.edge.idempotency import (
    IdempotencyKey,
    Outcome,
    run_idempotent,
)
from fcsbe.server.api.edge.problems import problem_responses
from fcsbe.server.deps import DbSession, ServerSettings, state_callback_resolver, state_keys
from fcsbe.server.security.principal import Principal
from fcsbe.server.services.enrolments import webhook_endpoints

__all__ = ["router"]

EndpointPrincipal = Annotated[Principal, fo_with_scope("notifications")]
"""The webhook endpoint is how notifications reach the FO: the `notifications` scope."""

router = APIRouter(prefix="/v1", tags=["notifications"])

_WORDING = {
    401: "Missing, unknown, expired or revoked credential",
    403: "The credential has the wrong role",
    404: "No endpoint registered yet",
    422: "The callback URL is refused (problem names the field)",
}
"""How the webhook-endpoint routes describe their problems."""


def _public_key(request: Request) -> str:
    """The server's `whpk_` key, which verifies `v1a` signatures."""
    return str(state_keys(request).webhook_public_key())


@router.get(
    "/webhook-endpoint",
    operation_id="get_webhook_endpoint",
    response_model=WebhookEndpoint,
    responses=problem_responses(401, 403, 404, described=_WORDING),
)
async def get_webhook_endpoint(
    request: Request, session: DbSession, principal: EndpointPrincipal
) -> WebhookEndpoint:
    """The caller's webhook endpoint and its state (the secret is not shown)."""
    row = await webhook_endpoints.get_endpoint(session, principal.party_id)
    return webhook_endpoints.endpoint_model(row, public_key=_public_key(request))


@router.put(
    "/webhook-endpoint",
    operation_id="put_webhook_endpoint",
    response_model=WebhookEndpoint,
    responses=problem_responses(401, 403, 422, idempotent=True, described=_WORDING),
)
async def put_webhook_endpoint(
    request: Request,
    session: DbSession,
    settings: ServerSettings,
    principal: EndpointPrincipal,
    body: WebhookEndpointUpdate,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Set where notifications are pushed and how they are signed (`v1` HMAC, `v1a` Ed25519,
    or both); (re-)activates a disabled endpoint.

    The first registration with `v1` answers with the signing secret; later updates keep it
    (adding `v1` makes a fresh one). With `v1a` the answer carries the server's public key.
    """

    async def handler() -> Outcome:
        secret = await webhook_endpoints.register_endpoint(
            session,
            principal.party_id,
            body.callback_base_url,
            settings=settings,
            enrolment_id=principal.enrolment_id,
            schemes=body.signature_schemes,
            resolver=state_callback_resolver(request),
        )
        row = await webhook_endpoints.get_endpoint(session, principal.party_id)
        model = webhook_endpoints.endpoint_model(row, secret, public_key=_public_key(request))
        return 200, model, {}

    return await run_idempotent(request, session, principal.party_id, idempotency_key, handler)


@router.post(
    "/webhook-endpoint/secret",
    operation_id="rotate_webhook_secret",
    response_model=WebhookEndpoint,
    responses=problem_responses(401, 403, 404, idempotent=True, described=_WORDING),
)
async def rotate_webhook_secret(
    request: Request,
    session: DbSession,
    settings: ServerSettings,
    principal: EndpointPrincipal,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Make a new signing secret; the previous one co-signs for the overlap window."""

    async def handler() -> Outcome:
        row, secret = await webhook_endpoints.rotate_secret(
            session, principal.party_id, settings=settings
        )
        model = webhook_endpoints.endpoint_model(row, secret, public_key=_public_key(request))
        return 200, model, {}

    return await run_idempotent(request, session, principal.party_id, idempotency_key, handler)
