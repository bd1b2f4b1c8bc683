"""`FCSBE_STATION_ADAPTER=ocpp` at start: the scenario registry for a try-out, and a password
file for its stations."""

from __future__ import annotations

import json
import os
from pathlib import Path

from fcsbe.server.adapters.ocpp.adapter import OcppStations
from fcsbe.server.app import create_app
from fcsbe.server.security.station_passwords import verify_password
from fcsbe.server.settings import Settings
from fcsbe.server.storage.ocpp_stations import credential_hashes, registry_stations
from tests.support.databases import empty_all


async def test_a_try_out_loads_the_scenario_and_writes_its_stations_passwords(
    settings: Settings, tmp_path: Path
) -> None:
    assert settings.adapter_kind == "none"  # FCSBE_SIMULATOR_ENABLED=false still means none
    passwords = tmp_path / "station-passwords.json"
    try_out = settings.model_copy(
        update={
            "station_adapter": "ocpp",
            "ocpp_registry": "scenario",
            "simulator_scenario": "uc-1.3",
            "ocpp_password_file": passwords,
        }
    )
    app = create_app(try_out)
    async with app.router.lifespan_context(app):
        assert isinstance(app.state.adapter, OcppStations)
        # from a clean database (the start above ran on what earlier tests left)
        await empty_all(app.state.engine)
        passwords.unlink()
        await app.state.stations.load_registry(app.state.session_factory)
        async with app.state.session_factory() as db:
            stations = [
                cs_id for cs_id, site in await registry_stations(db) if site == "SITE-DEPOT"
            ]
            issued = json.loads(passwords.read_text())
            hashes = await credential_hashes(db, stations)
        await empty_all(app.state.engine)
    assert len(stations) == 10
    assert sorted(issued) == sorted(stations)
    assert os.stat(passwords).st_mode & 0o777 == 0o600
    first = stations[0]
    assert verify_password(issued[first], hashes[first])
