"""UC 1.6: EV recharge in an energy community, on-grid (S1) and off-grid (S2).

The energy community's site (households, PV, storage, AC V2G chargers with EVs whose on-board
inverters are grid-code certified) serves grid FS while on-grid. Off-grid (island mode) it offers
nothing to the grid: the FO sees the state, no capability and no availability, and an FS request
is refused with the reason OFF_GRID. A site going off-grid while running is reported by the
stations and seen by the FO at the next synchronisation.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from fcsbe.model import (
    FlexibilityServiceRequest,
    FsResult,
    FsState,
    FsType,
    GridState,
    ReasonCode,
)
from fcsbe.server.storage.base import utcnow
from tests.scenarios.conftest import Scenario, StartScenario
from tests.scenarios.family2 import finish_fs, harness_of, setpoint, start_fs

EC = [("SITE", "SITE-EC")]


def _setpoint(p_w: float) -> FlexibilityServiceRequest:
    start = utcnow() + timedelta(minutes=30)
    return FlexibilityServiceRequest.model_validate(
        {
            "fs_id": str(uuid.uuid4()),
            "fsc_id": "fsc-ec",
            "fs_type": "SETPOINT",
            "targets": [{"level": "SITE", "id": "SITE-EC"}],
            "window": {"start": start.isoformat(), "end": (start + timedelta(hours=1)).isoformat()},
            "minimum_acceptance_pct": 10.0,
            "parameters": {
                "fs_type": "SETPOINT",
                "resolution_s": 3600,
                "periods": [{"start_offset_s": 0, "p_w": p_w}],
            },
        }
    )


async def _decision(run: Scenario, p_w: float) -> tuple[FsResult, set[ReasonCode]]:
    fo = await run.fo("FO-EC")
    receipt = await fo.flexibility_services.create(_setpoint(p_w))
    await run.decide()
    decided = await fo.flexibility_services.get(receipt.fs_id)
    assert decided.response is not None
    return decided.response.result, {r.code for r in decided.response.reasons}


async def test_s1_on_grid_the_community_serves_grid_fs(scenario: StartScenario) -> None:
    async with scenario("uc-1.6") as run:
        await run.contract("FO-EC", "fsc-ec", EC, level="EVSE", provider_party_id="EC-1")
        fo = await run.fo("FO-EC")
        (site,) = [s async for s in fo.sites.list()]
        assert (site.energy_community_id, site.grid_state) == ("EC-1", GridState.ON_GRID)
        (droop,) = await fo.capabilities.get(["SITE:SITE-EC"], fs_types=[FsType.DROOP])
        assert droop.supported
        assert droop.p_min_w == -33_000.0  # three EVs with certified on-board inverters
        forecast = await fo.availability.get("SITE:SITE-EC", resolution_s=3600)
        assert forecast.intervals[0].v2g_capable_evs == 3
        assert forecast.intervals[0].max_export_w > 0
        result, reasons = await _decision(run, -10_000.0)
        assert result is not FsResult.REJECTED, reasons
        assert ReasonCode.OFF_GRID not in reasons


async def test_s2_off_grid_no_grid_fs_is_accepted(scenario: StartScenario) -> None:
    async with scenario("uc-1.6-off-grid") as run:
        await run.contract("FO-EC", "fsc-ec", EC, level="EVSE", provider_party_id="EC-1")
        fo = await run.fo("FO-EC")
        (site,) = [s async for s in fo.sites.list()]
        assert site.grid_state is GridState.OFF_GRID
        capabilities = await fo.capabilities.get(["SITE:SITE-EC", "EVSE:DE*FCS*E0000001*1"])
        assert not any(c.supported for c in capabilities)
        first = (await fo.availability.get("SITE:SITE-EC", resolution_s=3600)).intervals[0]
        assert (first.max_import_w, first.max_export_w, first.energy_up_wh) == (0.0, 0.0, 0.0)
        assert first.connected_evs == 3  # the EVs are there, for local balancing only
        result, reasons = await _decision(run, -10_000.0)
        assert result is FsResult.REJECTED
        assert ReasonCode.OFF_GRID in reasons


async def test_going_off_grid_is_seen_at_the_next_synchronisation(scenario: StartScenario) -> None:
    async with scenario("uc-1.6") as run:
        await run.contract("FO-EC", "fsc-ec", EC, level="EVSE", provider_party_id="EC-1")
        fo = await run.fo("FO-EC")
        run.stations.simulator.set_grid_state("SITE-EC", "OFF_GRID")
        await run.advance(60)
        assert (await fo.sites.get("SITE-EC")).grid_state is GridState.OFF_GRID
        (droop,) = await fo.capabilities.get(["SITE:SITE-EC"], fs_types=[FsType.DROOP])
        assert not droop.supported
        run.stations.simulator.set_grid_state("SITE-EC", "ON_GRID")
        await run.advance(60)
        assert (await fo.sites.get("SITE-EC")).grid_state is GridState.ON_GRID


async def test_s1_on_grid_the_community_feeds_the_grid(scenario: StartScenario) -> None:
    """UC 2.1 with V2G on-grid: the community's EVs export through their on-board inverters."""
    async with scenario("uc-1.6") as run:
        await run.contract("FO-EC", "fsc-ec", EC, level="EVSE", provider_party_id="EC-1")
        h = await harness_of(run, await run.fo("FO-EC"))
        evses = h.evses_of("SITE-EC")
        fs = await start_fs(h, "fs-ec", "SETPOINT", setpoint(-10_000), "SITE-EC", fsc_id="fsc-ec")
        assert fs.state is FsState.ACTIVE
        assert await h.power_w(evses) == pytest.approx(-10_000, rel=0.05)
        await finish_fs(h, "fs-ec")
