"""Cursor pagination for list routes: query parameters, opaque cursors and the `Link` header.

A cursor is the sort key of the last item served, base64url-encoded JSON. It is opaque to
clients (they only echo it) and stable under inserts, unlike offsets.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Annotated, Any

from fastapi import Query, Request, Response
from pydantic import BaseModel

from fcsbe.model import MAX_PAGE_SIZE, FieldError
from fcsbe.server.errors import UnprocessableContent

__all__ = [
    "DEFAULT_PAGE_SIZE",
    "Cursor",
    "Limit",
    "decode_cursor",
    "encode_cursor",
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


def encode_cursor(key: Any) -> str:
    """Encode the sort key of the last item served."""
    raw = json.dumps(key, separators=(",", ":"), default=str).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> Any:
    """Decode a cursor; a malformed one is a 422 naming `/query/cursor`."""
    if cursor is None:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        return json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise UnprocessableContent(
            "The cursor is not one this server issued.",
            errors=[FieldError(pointer="/query/cursor", detail="invalid cursor", code="cursor")],
        ) from exc


def set_next_link(request: Request, response: Response, page: BaseModel) -> None:
    """Add `Link: <...>; rel="next"` when the page has a successor."""
    next_cursor = getattr(page, "next_cursor", None)
    if next_cursor:
        url = request.url.include_query_params(cursor=next_cursor)
        response.headers["link"] = f'<{url}>; rel="next"'
