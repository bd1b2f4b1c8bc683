"""OpenAPI `responses` entries for the problem statuses a route can answer (RFC 9457 bodies).

Routes list the statuses they can answer so that the published OpenAPI document (and the
generated clients of other systems) know every error shape; the body is always a `Problem`.
"""

from __future__ import annotations

from typing import Any

from fcsbe.model import Problem

__all__ = ["problem_responses"]

_DESCRIPTIONS = {
    400: "Bad request",
    401: "Missing, unknown, expired or revoked credentials",
    403: "The credential's role may not do this",
    404: "Not found (or not visible to the caller)",
    409: "Conflicts with the current state",
    422: "Invalid parameters or body; `errors` names each field as a JSON pointer",
    503: "Temporarily unavailable; retry after `Retry-After`",
}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for these statuses (401, 403 and 422 are always included)."""
    wanted = sorted({401, 403, 422, *statuses})
    return {
        status: {"model": Problem, "description": _DESCRIPTIONS.get(status, "Error")}
        for status in wanted
    }
