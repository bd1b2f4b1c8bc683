"""An async pager over the server's cursor-paginated lists (`Page[T]`)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from fcsbe.client.transport import Transport
from fcsbe.model import Page

__all__ = ["AsyncPager"]

T = TypeVar("T", bound=BaseModel)


class AsyncPager(Generic[T]):
    """Iterate items across pages: `async for item in client.contracts.list(): ...`.

    Pages are fetched lazily, one request per page, following `next_cursor`.
    """

    def __init__(
        self,
        transport: Transport,
        path: str,
        item_type: type[T],
        params: Mapping[str, Any] | None = None,
        page_size: int | None = None,
        *,
        page_type: type[Page[Any]] | None = None,
    ) -> None:
        self._transport = transport
        self._path = path
        # `page_type` decodes the items as a (discriminated) union of subclasses of `item_type`.
        self._page_type: type[Page[T]] = page_type or Page[item_type]  # type: ignore[valid-type]
        self._params = dict(params or {})
        if page_size is not None:
            self._params["limit"] = page_size

    async def pages(self) -> AsyncIterator[Page[T]]:
        """Yield whole pages."""
        cursor: str | None = None
        while True:
            params = {**self._params, "cursor": cursor}
            response = await self._transport.request("GET", self._path, params=params)
            page = self._page_type.model_validate_json(response.content)
            yield page
            if not page.next_cursor:
                return
            cursor = page.next_cursor

    async def __aiter__(self) -> AsyncIterator[T]:
        async for page in self.pages():
            for item in page.items:
                yield item

    async def to_list(self) -> list[T]:
        """Every item of every page (mind the size of what you ask for)."""
        return [item async for item in self]
