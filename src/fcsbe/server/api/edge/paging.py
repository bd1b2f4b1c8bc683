"""Cursor pagination for list routes: query parameters, opaque cursors and the `Link` header.

A cursor is the sort key of the last item served, sealed (encrypted and authenticated) for the
caller and the list (security/cursors.py): opaque to clients, who only echo it, revealing no
global row id, and stable under inserts, unlike offsets.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query, Request, Response
from pydantic import BaseModel

from fcsbe.model import MAX_PAGE_SIZE, FieldError
from fcsbe.server.errors import UnprocessableContent
from fcsbe.server.security.cursors import CursorSealer, InvalidCursor

__all__ = [
    "DEFAULT_PAGE_SIZE",
    "Cursor",
    "Limit",
    "decode_cursor",
    "encode_cursor",
    "invalid_cursor",
    "set_next_link",
]

DEFAULT_PAGE_SIZE = 100

Limit = Annotated[
    int,
    Query(ge=1, le=MAX_PAGE_SIZE, description=f"Page size (1 to {MAX_PAGE_SIZE})."),
]
Cursor = Annotated[
    str | None,
    Query(max_length=512, description="Opaque cursor from the previous page's `next_cursor`."),
]


def _sealer(request: Request) -> CursorSealer:
    """The app's cursor sealer, made once from its signing keys."""
    state = request.app.state
    sealer: CursorSealer | None = getattr(state, "cursor_sealer", None)
    if sealer is None:
        sealer = state.cursor_sealer = CursorSealer.of(state.keys)
    return sealer


def _scope(request: Request) -> str:
    """Who may use a cursor and where: the authenticated party and the list's path."""
    principal = getattr(request.state, "principal", None)
    party = principal.party_id if principal is not None else "-"
    return f"{party}\x1f{request.url.path}"


def invalid_cursor() -> UnprocessableContent:
    """The 422 of a cursor that is not one this list issued to the caller."""
    return UnprocessableContent(
        "The cursor is not one this server issued for this list and caller.",
        slug="invalid-cursor",
        errors=[FieldError(pointer="/query/cursor", detail="invalid cursor", code="cursor")],
    )


def encode_cursor(request: Request, key: Any) -> str:
    """The sealed cursor of the sort key of the last item served (security/cursors.py)."""
    return _sealer(request).seal(key, _scope(request))


def decode_cursor(request: Request, cursor: str | None) -> Any:
    """The sort key of a cursor issued by `encode_cursor` to this caller for this list; any
    other cursor is a 422 naming `/query/cursor`."""
    if cursor is None:
        return None
    try:
        return _sealer(request).open(cursor, _scope(request))
    except (InvalidCursor, ValueError) as exc:
        raise invalid_cursor() from exc


def set_next_link(request: Request, response: Response, page: BaseModel) -> None:
    """Add `Link: <...>; rel="next"` when the page has a successor."""
    next_cursor = getattr(page, "next_cursor", None)
    if next_cursor:
        url = request.url.include_query_params(cursor=next_cursor)
        response.headers["link"] = f'<{url}>; rel="next"'
