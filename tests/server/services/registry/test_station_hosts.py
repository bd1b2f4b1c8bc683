"""Every replica answers the stations' telemetry interval that the station replica published."""

from __future__ import annotations

from fastapi import FastAPI

from fcsbe.server.adapters.unconnected import UnconnectedStations
from fcsbe.server.services.registry.station_hosts import telemetry_interval_s
from fcsbe.server.storage.base import utcnow
from fcsbe.server.storage.station_commands import publish_station_host


async def test_a_replica_without_stations_answers_the_published_interval(app: FastAPI) -> None:
    api_only = UnconnectedStations()  # its own adapter would say 60 s
    async with app.state.session_factory() as session:
        assert await telemetry_interval_s(session, api_only) == api_only.telemetry_interval_s
        await publish_station_host(session, "stations-1", "simulator", 5, utcnow())
        await session.commit()
    async with app.state.session_factory() as session:
        assert await telemetry_interval_s(session, api_only) == 5
