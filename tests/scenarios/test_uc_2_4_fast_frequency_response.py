"""UC 2.4: fast frequency response — pre-armed, triggered locally, reported with evidence."""

from __future__ import annotations

from sqlalchemy import func, select

from fcsbe.model import FsState
from fcsbe.server.settings import Settings
from fcsbe.server.storage.measurements import MeterReadingRow
from fcsbe.server.storage.notifications import OutboxRow
from tests.scenarios.family2 import start_fs
from tests.scenarios.harness import harness


async def test_ffr_triggers_locally_and_is_reported(settings: Settings) -> None:
    async with harness(settings) as h:
        carpark = h.evses_of("SITE-CARPARK")
        ffr = {
            "fs_type": "FFR",
            "trigger_levels": [
                {"frequency_hz": 49.7, "full_activation_time_s": 1.0, "delta_p_w": -30_000.0}
            ],
            "support_duration_s": 30,
            "deactivation_ramp_s": 10,
            "rearm_time_s": 60,
            "evidence_sampling_ms": 100,
        }
        fs = await start_fs(h, "ffr", "FFR", ffr, "SITE-CARPARK")
        assert fs.state is FsState.ARMED
        before = await h.power_w(carpark)
        h.stations.simulator.set_frequency("SITE-CARPARK", 49.6)
        await h.run(4, tick_s=2)
        assert await h.power_w(carpark) < before - 10_000
        assert (await h.fo.flexibility_services.get("ffr")).state is FsState.ACTIVE
        async with h.app.state.session_factory() as session:
            notified = await session.scalar(
                select(func.count()).select_from(OutboxRow).where(OutboxRow.type == "FS_ACTIVATED")
            )
            evidence = await session.scalar(
                select(func.count())
                .select_from(MeterReadingRow)
                .where(MeterReadingRow.kind == "FFR")
            )
        assert notified == 1
        assert (evidence or 0) >= 10  # high-resolution samples of the activation
