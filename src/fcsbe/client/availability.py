"""Availability forecasts: `GET /v1/availability`."""

from __future__ import annotations

from datetime import datetime

from fcsbe.client.capabilities import target_param
from fcsbe.client.operations import operation
from fcsbe.client.transport import Transport
from fcsbe.model import AvailabilityForecast, Target

__all__ = ["AvailabilityResource"]


class AvailabilityResource:
    """Forecasts of flexible power and energy."""

    def __init__(self, transport: Transport) -> None:
        self._t = transport

    @operation("get_availability")
    async def get(
        self,
        target: Target | str,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        resolution_s: int = 900,
    ) -> AvailabilityForecast:
        """Forecast the availability of one target.

        Args:
            target: A `Target` or a `LEVEL:id` string.
            start: Start of the forecast (aware); default now.
            end: End of the forecast; default start + 24 h.
            resolution_s: Interval length (60 s to 1 day; at most 1,440 intervals).

        Returns:
            The forecast.

        Raises:
            NotFoundError: the target is unknown or not visible at its level.
            UnprocessableEntityError: a bad window or resolution.
        """
        params = {
            "target": target_param(target),
            "start": start.isoformat() if start else None,
            "end": end.isoformat() if end else None,
            "resolution_s": resolution_s,
        }
        response = await self._t.request("GET", "/v1/availability", params=params)
        return AvailabilityForecast.model_validate_json(response.content)
