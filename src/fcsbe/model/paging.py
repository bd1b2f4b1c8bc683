"""Cursor pagination envelope shared by every list endpoint."""

from __future__ import annotations

from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["MAX_PAGE_SIZE", "Page"]

T = TypeVar("T")

MAX_PAGE_SIZE = 500
"""Largest `limit` a list endpoint accepts; larger values are a 422, not silently clipped."""


class Page(BaseModel, Generic[T]):
    """One page of a list. Follow `next_cursor` (or the `Link: rel="next"` header) until null."""

    model_config = ConfigDict(extra="ignore")

    items: list[T] = Field(description="The items of this page, in a stable order.")
    next_cursor: str | None = Field(
        default=None, description="Opaque cursor of the next page; null on the last page."
    )
