"""Sites: `GET /v1/sites`, `GET /v1/sites/{site_id}`."""

from __future__ import annotations

from urllib.parse import quote

from fcsbe.client.operations import operation
from fcsbe.client.paging import AsyncPager
from fcsbe.client.transport import Transport
from fcsbe.model import Site

__all__ = ["SitesResource"]


class SitesResource:
    """The sites the caller's contracts cover (configuration type, grid connection, DERs)."""

    def __init__(self, transport: Transport) -> None:
        self._t = transport

    @operation("list_sites")
    def list(self, *, page_size: int | None = None) -> AsyncPager[Site]:
        """Iterate the sites covered by the caller's active contracts.

        Args:
            page_size: Items per request (server default 100, at most 500).

        Returns:
            A pager: `async for site in client.sites.list(): ...`.
        """
        return AsyncPager(self._t, "/v1/sites", Site, page_size=page_size)

    @operation("get_site")
    async def get(self, site_id: str) -> Site:
        """Read one site.

        Args:
            site_id: Id of the site.

        Returns:
            The site.

        Raises:
            NotFoundError: unknown, or not covered by the caller's contracts.
        """
        response = await self._t.request("GET", f"/v1/sites/{quote(site_id, safe='')}")
        return Site.model_validate_json(response.content)
