"""UC 2.3: droop control — ordered in the FO's terms, armed through the API, executed locally by
the stations from any operating point, and shown back as high-resolution evidence.

The car park's three V2G SUVs (DC, 25 kW EVSEs; latency 0.2 s, rise 0.3 s to 90 %) are made
idle, idle and discharging at 4 kW at the station before the order, so the worked numbers do not
depend on how fast they were charging.
"""

from __future__ import annotations

import pytest

from fcsbe.model import FsResult, FsState
from fcsbe.server.adapters.base import ControlLevel, ControlTarget
from fcsbe.server.settings import Settings
from fcsbe.sim import SetpointControl
from tests.scenarios.family2 import start_fs
from tests.scenarios.harness import Harness, harness, without_arrivals

SUVS = ["DE*FCS*E0000022*1", "DE*FCS*E0000023*1", "DE*FCS*E0000024*1"]


async def _idle_idle_discharging(h: Harness) -> None:
    """What the EVs do before the order: two idle, one discharging at 4 kW."""
    for evse_id, p_w in zip(SUVS, (0.0, 0.0, -4_000.0), strict=True):
        h.stations.simulator.apply(evse_id, SetpointControl(p_w))
    await h.run(5)


async def test_droop_from_idle_and_discharging_delivers_the_ordered_watts(
    settings: Settings,
) -> None:
    async with harness(settings, fleet=without_arrivals) as h:
        await _idle_idle_discharging(h)
        assert await h.power_w(SUVS) == pytest.approx(-4_000.0)
        droop = {
            "fs_type": "DROOP",
            "f_ref_hz": 50.0,
            "p_ref_w": 10_000.0,
            "droop_under_pct": 0.4,  # 0.2 Hz low: -100 % of 10 kW = 50 kW/Hz
            "droop_over_pct": 2.0,  # asymmetric: 1 Hz high: +100 % = 10 kW/Hz
            "response_time_s": 1.0,
            "p_min_w": -14_000.0,  # from -4 kW, 10 kW down
            "p_max_w": 6_000.0,  # and 10 kW up
        }
        fs = await start_fs(h, "droop", "DROOP", droop, "SITE-CARPARK")
        assert fs.state is FsState.ARMED
        # The car park's four EVSEs without a grid-code-conformant converter are left out.
        assert fs.response is not None
        assert fs.response.result is FsResult.PARTIALLY_ACCEPTED
        assert {r.code.value for r in fs.response.reasons} == {"NOT_CONFORMANT"}
        assert await h.power_w(SUVS) == pytest.approx(-4_000.0)  # held at the operating point
        # No API call: the stations see 49.8 Hz and respond on their own. The idle SUVs export
        # and the discharging one exports more: 10 kW shared 11 : 11 : 7 by the room below each.
        h.stations.simulator.set_frequency("SITE-CARPARK", 49.8)
        await h.run(10, tick_s=5)
        assert await h.power_w(SUVS) == pytest.approx(-14_000.0, abs=10.0)
        each = {s.target.id: s.p_w for s in await h.stations.read_state(_targets())}
        assert each[SUVS[0]] == pytest.approx(-10_000 * 11 / 29, abs=5.0)
        assert each[SUVS[2]] == pytest.approx(-4_000 - 10_000 * 7 / 29, abs=5.0)
        # Over-frequency, the other slope: 0.1 Hz high is +1 kW.
        h.stations.simulator.set_frequency("SITE-CARPARK", 50.1)
        await h.run(10, tick_s=5)
        assert await h.power_w(SUVS) == pytest.approx(-3_000.0, abs=10.0)

        # The evidence, per EVSE (the contract shares EVSE-level data) and per event.
        summary = await h.fo.flexibility_services.evidence_summary("droop")
        assert summary.resolution_s == pytest.approx(0.1)
        low, high = sorted({e.started_at for e in summary.events})
        at_low = [e for e in summary.events if e.started_at == low]
        assert {e.kind for e in at_low} == {"DROOP"}
        assert sum(e.ordered_w for e in at_low) == pytest.approx(-10_000.0, abs=1.0)
        assert sum(e.delivered_w for e in at_low) == pytest.approx(-10_000.0, abs=50.0)
        # Ordered within 1 s (to 90 %): the DC EVSEs, 0.5 s on their own, make it.
        times = [e.response_time_s for e in at_low]
        assert all(t is not None for t in times)
        assert max(t or 0.0 for t in times) <= 1.0, times
        at_high = [e for e in summary.events if e.started_at == high]
        assert sum(e.ordered_w for e in at_high) == pytest.approx(1_000.0, abs=1.0)
        samples = await h.fo.flexibility_services.evidence("droop", page_size=500).to_list()
        assert len(samples) >= 2 * 3 * 30  # 100 ms around each change, per EVSE
        assert samples[0].f_hz == pytest.approx(49.8)
        assert {s.phase for s in samples} == {"DROOP"}
        plot = await h.fo.flexibility_services.evidence_plot("droop")
        assert plot.startswith("<svg")
        assert "<polyline" in plot


async def test_dynamic_containment_curve_and_volt_var(settings: Settings) -> None:
    """A frequency-watt curve with a ±15 mHz deadband, a knee at 200 mHz (5 %) and full
    response at 500 mHz, plus a volt-var curve, on the same EVs."""
    async with harness(settings, fleet=without_arrivals) as h:
        await _idle_idle_discharging(h)
        curve = {
            "fs_type": "DROOP",
            "f_ref_hz": 50.0,
            "p_ref_w": 20_000.0,
            "freq_watt": [
                {"df_hz": -0.5, "p_pct": -100.0},
                {"df_hz": -0.2, "p_pct": -5.0},
                {"df_hz": -0.015, "p_pct": 0.0},
                {"df_hz": 0.015, "p_pct": 0.0},
                {"df_hz": 0.2, "p_pct": 5.0},
                {"df_hz": 0.5, "p_pct": 100.0},
            ],
            "response_time_s": 1.0,
            "p_min_w": -24_000.0,
            "p_max_w": 16_000.0,
            "volt_var": {
                "x_unit": "PCT_EFFECTIVE_V",
                "y_unit": "PCT_MAX_VAR",
                "points": [
                    {"x": 92.0, "y": 44.0},
                    {"x": 98.0, "y": 0.0},
                    {"x": 102.0, "y": 0.0},
                    {"x": 108.0, "y": -44.0},
                ],
            },
        }
        fs = await start_fs(h, "dc", "DROOP", curve, "SITE-CARPARK")
        assert fs.state is FsState.ARMED
        sim = h.stations.simulator
        sim.set_frequency("SITE-CARPARK", 49.99)  # inside the deadband: nothing
        await h.run(5)
        assert await h.power_w(SUVS) == pytest.approx(-4_000.0, abs=1.0)
        sim.set_frequency("SITE-CARPARK", 49.8)  # the knee: 5 % of 20 kW
        await h.run(5)
        assert await h.power_w(SUVS) == pytest.approx(-5_000.0, abs=5.0)
        sim.set_frequency("SITE-CARPARK", 49.65)  # half-way from the knee to full
        await h.run(5)
        assert await h.power_w(SUVS) == pytest.approx(-4_000 - 1_000 - 19_000 / 2, abs=10.0)
        sim.set_frequency("SITE-CARPARK", 50.0)
        sim.set_voltage("SITE-CARPARK", 0.95 * 230.0)  # 95 %: half-way to 92 %, 22 % inject
        await h.run(5)
        q = [s.q_var for s in await h.stations.read_state(_targets())]
        assert q == pytest.approx([-0.22 * 10_000.0] * 3)


def _targets() -> list[ControlTarget]:
    return [ControlTarget(ControlLevel.EVSE, e) for e in SUVS]
