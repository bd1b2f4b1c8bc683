"""UC 2.6: V2X with dynamic prices — discharge when export pays, inside EV-user limits."""

from __future__ import annotations

from fcsbe.model import FsState
from fcsbe.server.adapters.base import ControlLevel, ControlTarget
from fcsbe.server.settings import Settings
from tests.scenarios.family2 import start_fs
from tests.scenarios.harness import harness


async def test_v2g_discharges_when_export_price_is_high(settings: Settings) -> None:
    async with harness(settings) as h:
        carpark = h.evses_of("SITE-CARPARK")
        prices = {
            "fs_type": "DYNAMIC_PRICE",
            "currency": "EUR",
            "v2x_allowed": True,
            "intervals": [
                # Evening peak: export pays well; then the night: import is cheap again.
                {
                    "start_offset_s": 0,
                    "duration_s": 300,
                    "import_price_per_kwh": 0.40,
                    "export_price_per_kwh": 0.90,
                },
                {
                    "start_offset_s": 300,
                    "duration_s": 300,
                    "import_price_per_kwh": 0.05,
                    "export_price_per_kwh": 0.02,
                },
            ],
        }
        fs = await start_fs(h, "price", "DYNAMIC_PRICE", prices, "SITE-CARPARK")
        assert fs.state is FsState.ACTIVE
        await h.run(30, tick_s=10)
        states = await h.stations.read_state([ControlTarget(ControlLevel.EVSE, e) for e in carpark])
        assert any(s.p_w < 0 for s in states), "some V2G EV discharges"
        for session in await h.stations.sessions():
            if session.evse_id in carpark and not session.consent_v2g:
                state = next(s for s in states if s.target.id == session.evse_id)
                assert state.p_w >= 0, "no discharge without V2G consent"
        await h.run(300, tick_s=60)
        later = await h.stations.read_state([ControlTarget(ControlLevel.EVSE, e) for e in carpark])
        assert all(s.p_w >= 0 for s in later), "cheap import: nobody discharges"
