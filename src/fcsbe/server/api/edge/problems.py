"""OpenAPI documentation of the problem answers a route can give (RFC 9457 `Problem` bodies).

Routes list the statuses they can answer besides success, e.g.
`responses=problem_responses(401, 403, 404, 422)`, so that the published contract names every
error a client must handle, with the body it will get.
"""

from __future__ import annotations

from typing import Any

from fcsbe.model import Problem

__all__ = ["problem_description", "problem_responses"]

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


def problem_description(status: int) -> str:
    """The documented meaning of a problem status."""
    return _DESCRIPTIONS.get(status, "Problem")


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The `responses=` entries of a route for these problem statuses."""
    return {
        status: {"model": Problem, "description": problem_description(status)}
        for status in statuses
    }
