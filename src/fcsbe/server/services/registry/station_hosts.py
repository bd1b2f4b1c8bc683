"""What the replica that holds the stations publishes, read by every replica.

Answers shaped by the stations (the telemetry interval in capabilities) must be the same on
every replica, whichever one the FO reaches: they come from the `station_hosts` table that the
station replica keeps fresh, not from each replica's own adapter.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from fcsbe.server.adapters.base import StationAdapter
from fcsbe.server.storage.station_commands import latest_station_host

__all__ = ["telemetry_interval_s"]


async def telemetry_interval_s(session: AsyncSession, adapter: StationAdapter) -> int:
    """The stations' shortest meter interval: as published by the replica that holds them,
    else this replica's adapter's (no station replica has started yet)."""
    host = await latest_station_host(session)
    return host.telemetry_interval_s if host is not None else adapter.telemetry_interval_s
