"""Cursor pagination for list routes: query parameters, opaque cursors and the `Link` header.

A cursor is the sort key of the last item served, sealed (encrypted and authenticated) for the
caller and the list (security/cursors.py): opaque to clients, who only echo it, revealing no
global row id, and stable under inserts, unlike offsets.

Every list route answers through `page_response`, which builds the envelope, the cursor and the
`Link` header the same way everywhere. The page itself comes from one read of `limit + 1` rows:
`fetch_page` where the route reads the rows, or the service it calls, which does the same.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Annotated, Any, TypeVar

from fastapi import Query, Request, Response

from fcsbe.model import MAX_PAGE_SIZE, FieldError, Page
from fcsbe.server.errors import UnprocessableContent
from fcsbe.server.security.cursors import CursorSealer, InvalidCursor

__all__ = [
    "DEFAULT_PAGE_SIZE",
    "Cursor",
    "Limit",
    "cursor_key",
    "decode_cursor",
    "encode_cursor",
    "fetch_page",
    "invalid_cursor",
    "next_link",
    "page_response",
]

R = TypeVar("R")
K = TypeVar("K")
P = TypeVar("P", bound=Page[Any])

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


def cursor_key(request: Request, cursor: str | None, kind: type[K]) -> K | None:
    """The sort key of a cursor when it is a `kind` (an id), else None: the first page.

    `decode_cursor` has already refused any cursor not issued to this caller for this list, so
    a key of another kind can only come from an older form of the same list; it starts again.
    """
    key = decode_cursor(request, cursor)
    return key if isinstance(key, kind) else None


async def fetch_page(
    limit: int, fetch: Callable[[int], Awaitable[Sequence[R]]], key: Callable[[R], Any]
) -> tuple[list[R], Any | None]:
    """A page of rows and the sort key to continue after (None: this is the last page).

    `fetch(n)` reads at most `n` rows after the cursor, in one query; it is asked for one row more
    than the page, which only tells whether a next page exists. So a list needs no count query
    and no query per item, and never ends with an empty page after a full one.
    """
    rows = list(await fetch(limit + 1))
    if len(rows) <= limit:
        return rows, None
    del rows[limit:]
    return rows, key(rows[-1])


def next_link(request: Request, cursor: str) -> str:
    """The `Link` header value that points at the page after this one."""
    return f'<{request.url.include_query_params(cursor=cursor)}>; rel="next"'


def page_response(
    request: Request, response: Response, page: type[P], items: Sequence[Any], next_key: Any
) -> P:
    """The page envelope of `items`: `next_cursor` seals `next_key` (the sort key of the last
    item served, None on the last page) and `Link: rel="next"` points at the next page."""
    cursor = encode_cursor(request, next_key) if next_key is not None else None
    if cursor is not None:
        response.headers["link"] = next_link(request, cursor)
    return page(items=list(items), next_cursor=cursor)
