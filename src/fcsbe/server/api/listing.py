"""Shared pieces of the read routes of the registry, capabilities, availability and sessions:
the problem responses they declare and id-keyed cursors.

Lists ordered by an id use that id as their cursor key (stable under inserts); a cursor that
does not decode to an id is a 422 naming `/query/cursor`, never a 500.
"""

from __future__ import annotations

from typing import Any, TypeVar

from fastapi import Request, Response
from pydantic import BaseModel

from fcsbe.model import FieldError, Page, Problem
from fcsbe.server.api.paging import decode_cursor, encode_cursor, set_next_link
from fcsbe.server.errors import UnprocessableContent

__all__ = ["READ_RESPONSES", "after_id", "page_response"]

T = TypeVar("T", bound=BaseModel)

READ_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem, "description": "Missing, unknown, expired or revoked credential"},
    403: {"model": Problem, "description": "The credential is not an FO or operator one"},
    404: {"model": Problem, "description": "Unknown, or not covered by the caller's contracts"},
    422: {"model": Problem, "description": "Invalid query parameter (JSON pointer in `errors`)"},
}
"""Problem statuses every read route of these modules can answer."""


def after_id(cursor: str | None) -> str | None:
    """The id after which a page starts (None: the first page)."""
    key = decode_cursor(cursor)
    if key is None or isinstance(key, str):
        return key
    raise UnprocessableContent(
        "The cursor is not one this list issued.",
        slug="invalid-cursor",
        errors=[FieldError(pointer="/query/cursor", detail="invalid cursor", code="cursor")],
    )


def page_response(
    request: Request, response: Response, items: list[T], next_key: str | None
) -> Page[T]:
    """The page envelope, with an opaque cursor and the `Link: rel="next"` header."""
    page = Page[T](items=items, next_cursor=encode_cursor(next_key) if next_key else None)
    set_next_link(request, response, page)
    return page
