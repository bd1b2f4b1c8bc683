"""OpenAPI documentation of the problem answers a route can give (RFC 9457 `Problem` bodies).

Every route (or router) declares the statuses it can answer besides success in one way,
`responses=problem_responses(401, 403, 404, 422)`, so that the published contract names every
error a client must handle, with the body it will get. A route that takes an `Idempotency-Key`
says `idempotent=True` (the 400 and 409 the key handling answers), and a family of routes with
its own wording of a status passes it in `described`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fcsbe.model import Problem

__all__ = [
    "IDEMPOTENCY_DESCRIPTIONS",
    "STATE_CONFLICT",
    "Responses",
    "problem_description",
    "problem_responses",
]

Responses = dict[int | str, dict[str, Any]]
"""The `responses=` of a FastAPI route or router."""

_DESCRIPTIONS = {
    400: "Malformed request (a body that is not JSON, or no Idempotency-Key header)",
    401: "Missing, unknown, expired or revoked credential, or a bad request signature",
    403: "Authenticated, but the credential's role or scopes do not allow this",
    404: "No such object visible to the caller",
    409: "Conflicts with the current state (or the same Idempotency-Key is still running)",
    413: "Request body too large",
    422: "Validation failed; `errors` points at each bad field",
    503: "Temporarily unavailable; retry after `Retry-After`",
}

IDEMPOTENCY_DESCRIPTIONS: Mapping[int, str] = {
    400: "Idempotency-Key header missing",
    409: "A request with this Idempotency-Key is still being processed",
}
"""What `Idempotency-Key` handling answers (`fcsbe.server.api.edge.idempotency`)."""

STATE_CONFLICT: Mapping[int, str] = {409: _DESCRIPTIONS[409]}
"""`described` of an idempotent route whose 409 is first a conflict with the state of what it
changes: the generic wording, which names a still-running Idempotency-Key too."""


def problem_description(status: int) -> str:
    """The documented meaning of a problem status."""
    return _DESCRIPTIONS.get(status, "Problem")


def problem_responses(
    *statuses: int, idempotent: bool = False, described: Mapping[int, str] | None = None
) -> Responses:
    """The `responses=` entries of a route for these problem statuses.

    A status is described by `described` if it has it (the wording of a family of routes; its
    other statuses are ignored), else by the idempotency handling for a 400 or 409 of an
    `idempotent` route, else by its generic meaning.
    """
    descriptions = {status: problem_description(status) for status in statuses}
    if idempotent:
        descriptions |= IDEMPOTENCY_DESCRIPTIONS
    own = described or {}
    return {
        status: {"model": Problem, "description": own.get(status, description)}
        for status, description in descriptions.items()
    }
