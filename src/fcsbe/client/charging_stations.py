"""Charging stations: `GET /v1/charging-stations`, `GET /v1/charging-stations/{cs_id}`."""

from __future__ import annotations

from urllib.parse import quote

from fcsbe.client.operations import operation
from fcsbe.client.paging import AsyncPager
from fcsbe.client.transport import Transport
from fcsbe.model import ChargingStation

__all__ = ["ChargingStationsResource"]


class ChargingStationsResource:
    """Stations with their EVSEs, connectors, converter topology and conformity evidence."""

    def __init__(self, transport: Transport) -> None:
        self._t = transport

    @operation("list_charging_stations")
    def list(
        self, *, site_id: str | None = None, page_size: int | None = None
    ) -> AsyncPager[ChargingStation]:
        """Iterate the stations covered by the caller's contracts (CS data-sharing level or finer).

        Args:
            site_id: Only the stations of this site.
            page_size: Items per request (server default 100, at most 500).

        Returns:
            A pager: `async for station in client.charging_stations.list(): ...`.
        """
        return AsyncPager(
            self._t,
            "/v1/charging-stations",
            ChargingStation,
            params={"site_id": site_id},
            page_size=page_size,
        )

    @operation("get_charging_station")
    async def get(self, cs_id: str) -> ChargingStation:
        """Read one station with the EVSEs the caller may see.

        Args:
            cs_id: Id of the charging station.

        Returns:
            The station.

        Raises:
            NotFoundError: unknown, or not covered by the caller's contracts.
        """
        response = await self._t.request("GET", f"/v1/charging-stations/{quote(cs_id, safe='')}")
        return ChargingStation.model_validate_json(response.content)
