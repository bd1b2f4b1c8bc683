"""Shared pieces of the read routes of the registry, capabilities, availability and sessions:
the problem responses they declare and id-keyed cursors.

Lists ordered by an id use that id as their cursor key (stable under inserts); a cursor that
does not decode to an id is a 422 naming `/query/cursor`, never a 500.
"""

from __future__ import annotations

import json

from fastapi import Request, Response

from fcsbe.server.api.edge.paging import decode_cursor, encode_cursor, invalid_cursor, next_link
from fcsbe.server.api.edge.problems import problem_responses

__all__ = ["READ_RESPONSES", "after_id", "stored_page_response"]

READ_RESPONSES = problem_responses(
    401,
    403,
    404,
    422,
    described={
        401: "Missing, unknown, expired or revoked credential",
        403: "The credential is not an FO or operator one",
        404: "Unknown, or not covered by the caller's contracts",
        422: "Invalid query parameter (JSON pointer in `errors`)",
    },
)
"""Problem statuses every read route of these modules can answer."""


def after_id(request: Request, cursor: str | None) -> str | None:
    """The id after which a page starts (None: the first page)."""
    key = decode_cursor(request, cursor)
    if key is None or isinstance(key, str):
        return key
    raise invalid_cursor()


def stored_page_response(request: Request, items: list[str], next_key: str | None) -> Response:
    """A page of stored wire documents (JSON texts), rendered without building models again.

    For large lists whose documents were validated when stored (the registry): a page of 500
    stations with 1,000 EVSEs would otherwise be decoded, validated and encoded per request.
    """
    cursor = encode_cursor(request, next_key) if next_key is not None else None
    body = f'{{"items":[{",".join(items)}],"next_cursor":{json.dumps(cursor)}}}'
    response = Response(content=body, media_type="application/json")
    if cursor is not None:
        response.headers["link"] = next_link(request, cursor)
    return response
