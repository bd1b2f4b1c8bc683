"""UC 2.4: fast frequency response — pre-armed, triggered locally at every level, reported with
high-resolution evidence.

The car park's three V2G SUVs (DC: latency 0.2 s, rise 0.3 s to 90 %) charge at 10 kW each at
the station before the order, so the room below each is 21 kW and every level is shared 1 : 1 : 1.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from fcsbe.model import (
    FsState,
    FsType,
    NotificationType,
    ReasonCode,
    Target,
    TargetLevel,
    TimeWindow,
)
from fcsbe.server.adapters.ocpp.profiles import StationLimits
from fcsbe.server.services.flexibility_services.execution import RECORD_DELAY_S
from fcsbe.server.settings import Settings
from fcsbe.server.storage.ocpp_stations import save_ocpp_state
from fcsbe.server.storage.registry import load_evses
from fcsbe.sim import SetpointControl
from tests.scenarios.family2 import start_fs
from tests.scenarios.harness import harness, without_arrivals
from tests.support.public_effects import feed as read_feed

SUVS = ["DE*FCS*E0000022*1", "DE*FCS*E0000023*1", "DE*FCS*E0000024*1"]


async def test_ffr_levels_detection_delay_and_deactivation_ramp(settings: Settings) -> None:
    async with harness(settings, fleet=without_arrivals) as h:
        for evse_id in SUVS:
            h.stations.simulator.apply(evse_id, SetpointControl(10_000.0))
        await h.run(5)
        ffr = {
            "fs_type": "FFR",
            "trigger_levels": [
                {"frequency_hz": 49.7, "full_activation_time_s": 1.0, "delta_p_w": -12_000.0},
                {"frequency_hz": 49.5, "full_activation_time_s": 1.0, "delta_p_w": -24_000.0},
            ],
            "detection_delay_s": 0.1,
            "support_duration_s": 10,
            "deactivation_ramp_s": 5,
            "rearm_time_s": 60,
            "evidence_sampling_ms": 100,
        }
        fs = await start_fs(h, "ffr", "FFR", ffr, "SITE-CARPARK")
        assert fs.state is FsState.ARMED
        assert await h.power_w(SUVS) == pytest.approx(30_000.0)
        sim = h.stations.simulator
        # First level at t0: 12 kW less import, 4 kW per SUV.
        sim.set_frequency("SITE-CARPARK", 49.6)
        await h.run(3, tick_s=3)
        assert await h.power_w(SUVS) == pytest.approx(18_000.0, abs=1.0)
        assert (await h.fo.flexibility_services.get("ffr")).state is FsState.ACTIVE
        # The second level at t0 + 3 s: 24 kW in all, so the SUVs now export 2 kW each.
        sim.set_frequency("SITE-CARPARK", 49.4)
        await h.run(3, tick_s=3)
        assert await h.power_w(SUVS) == pytest.approx(6_000.0, abs=1.0)
        # Latched: the frequency recovers, the support is held 10 s after full activation
        # (until t0 + 14 s), then ramps back over 5 s: at t0 + 16.5 s half of it is left.
        sim.set_frequency("SITE-CARPARK", 50.0)
        await h.run(7, tick_s=7)
        assert await h.power_w(SUVS) == pytest.approx(6_000.0, abs=1.0)
        await h.run(3.5, tick_s=3.5)
        # Ordered at 16.5 s: 30 - 24 x (1 - 2.5 / 5) = 18 kW; delivered 0.2 s (latency) behind
        # on the ramp and lagging by the rise: about 16.5 kW.
        assert await h.power_w(SUVS) == pytest.approx(17_000.0, abs=1_000.0)
        await h.run(5.5, tick_s=5.5)
        assert await h.power_w(SUVS) == pytest.approx(30_000.0, abs=1.0)

        summary = await h.fo.flexibility_services.evidence_summary("ffr")
        assert summary.resolution_s == pytest.approx(0.1)
        events = summary.events
        assert len(events) == 3  # one per SUV (EVSE-level data sharing)
        assert {e.kind for e in events} == {"FFR"}
        assert sum(e.ordered_w for e in events) == pytest.approx(-24_000.0)
        assert sum(e.delivered_w for e in events) == pytest.approx(-24_000.0, abs=10.0)
        # Timed from the second crossing: 0.1 s detection + 0.2 s latency + 0.3 s rise.
        times = [e.response_time_s or 99.0 for e in events]
        assert times == pytest.approx([0.6] * 3, abs=0.15)
        assert max(times) <= 1.0  # within the full-activation time
        samples = await h.fo.flexibility_services.evidence("ffr", page_size=500).to_list()
        phases = [s.phase for s in samples if s.target.id == SUVS[0]]
        assert phases[0] == "TRIGGERED"
        assert {"DETECTING", "ACTIVE", "DEACTIVATING", "ENDED"} <= set(phases)
        # Deactivating: the ordered change falls linearly from -8 kW per SUV to 0 over 5 s.
        ramp = [
            s.ordered_w for s in samples if s.phase == "DEACTIVATING" and s.target.id == SUVS[0]
        ]
        assert ramp[0] == pytest.approx(-8_000.0, abs=200.0)
        assert ramp[len(ramp) // 2] == pytest.approx(-4_000.0, abs=200.0)
        # Ended early by the FO: the record carries the same evidence summary.
        await h.fo.flexibility_services.cancel("ffr", "event over")
        await h.run(RECORD_DELAY_S, tick_s=RECORD_DELAY_S)
        record = await h.fo.records.get("ffr")
        assert record.evidence is not None
        assert record.evidence.events == summary.events
        activated = await read_feed(h.app, h.fo, NotificationType.FS_ACTIVATED)
        assert [n.fs_id for n in activated] == ["ffr"]


async def test_a_station_that_reports_no_v2x_is_offered_no_ffr(settings: Settings) -> None:
    """The registry says the car park's station is OCPP 2.1 with V2G; when it connects and
    reports 2.0.1, the capabilities and the credentials check say what it can really do (the
    same rule the decision applies), instead of a promise execution would break."""
    async with harness(settings, fleet=without_arrivals) as h:
        suv = SUVS[0]
        ffr, setpoint = await h.fo.capabilities.get(
            [f"EVSE:{suv}"], fs_types=[FsType.FFR, FsType.SETPOINT]
        )
        assert ffr.supported
        assert setpoint.p_min_w < 0
        async with h.app.state.session_factory() as db:
            cs_id = (await load_evses(db, {suv}))[suv].cs_id
            limits = StationLimits(version="2.0.1").to_json()
            await save_ocpp_state(db, cs_id, h.now, limits=limits)
            await db.commit()
        ffr, setpoint = await h.fo.capabilities.get(
            [f"EVSE:{suv}"], fs_types=[FsType.FFR, FsType.SETPOINT]
        )
        assert not ffr.supported
        assert setpoint.supported
        assert setpoint.p_min_w == 0.0  # it can still be told to charge less, not to discharge
        start = h.now + timedelta(minutes=5)
        check = await h.fo.credential_checks.check(
            fsc_id="fsc-1",
            fs_type=FsType.FFR,
            targets=[Target(level=TargetLevel.EVSE, id=suv)],
            window=TimeWindow(start=start, end=start + timedelta(hours=1)),
        )
        (verdict,) = check.targets
        assert not verdict.capable
        assert [r.code for r in verdict.reasons] == [ReasonCode.NOT_CAPABLE]
        assert "OCPP 2.0.1" in (verdict.reasons[0].detail or "")
