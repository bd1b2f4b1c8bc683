"""UC 1.5: EV service station (EVSS).

A DC-bus site (configuration 1) with six 150 kW EVSEs, PV and stationary storage behind one
point of connection, serving FS as a whole: the FO's contract is on the site at SITE level, so
it sees the site with its DERs, site-level capabilities and availability, and nothing per
station or EVSE.
"""

from __future__ import annotations

import pytest

from fcsbe.client import NotFoundError
from fcsbe.model import ConfigurationType, DerType, FsResult, FsState, FsType, ReasonCode
from tests.scenarios.conftest import StartScenario
from tests.scenarios.family2 import finish_fs, harness_of, setpoint, start_fs


async def test_the_station_is_served_as_a_whole(scenario: StartScenario) -> None:
    async with scenario("uc-1.5") as run:
        await run.contract("FO-EVSS", "fsc-evss", [("SITE", "SITE-EVSS")], level="SITE")
        fo = await run.fo("FO-EVSS")
        (site,) = [s async for s in fo.sites.list()]
        assert site.configuration_type is ConfigurationType.DC_BUS_DC_CHARGE
        ders = {d.der_type: d for d in site.ders}
        assert ders[DerType.PV].rated_power_w == 200_000.0
        assert ders[DerType.STORAGE].capacity_wh == 500_000.0
        assert ders[DerType.STORAGE].controllable
        assert site.cs_ids == []  # SITE level: nothing per station
        assert [c async for c in fo.charging_stations.list()] == []
        with pytest.raises(NotFoundError):
            await fo.capabilities.get(["EVSE:DE*FCS*E0000001*1"])
        setpoint, congestion = await fo.capabilities.get(
            ["SITE:SITE-EVSS"], fs_types=[FsType.SETPOINT, FsType.CONGESTION]
        )
        assert setpoint.supported
        assert setpoint.p_max_w == 400_000.0  # 6 x 150 kW, capped by the connection
        assert congestion.supported
        forecast = await fo.availability.get("SITE:SITE-EVSS", resolution_s=900)
        first = forecast.intervals[0]
        assert first.connected_evs == 3
        assert 0 < first.max_import_w <= 400_000.0
        assert first.max_export_w == 0.0  # no V2G at this station
        # the three EVs leave within the hour; later intervals only know who is connected now
        assert forecast.intervals[4].connected_evs == 0
        assert forecast.intervals[4].confidence_pct < first.confidence_pct


async def test_the_station_follows_a_setpoint_as_a_whole(scenario: StartScenario) -> None:
    """UC 2.1 on the whole station: the FO sets the site, the server splits it over EVSEs."""
    async with scenario("uc-1.5") as run:
        await run.contract("FO-EVSS", "fsc-evss", [("SITE", "SITE-EVSS")], level="SITE")
        h = await harness_of(run, await run.fo("FO-EVSS"))
        evses = h.evses_of("SITE-EVSS")
        assert await h.power_w(evses) > 300_000
        fs = await start_fs(h, "fs-evss", "SETPOINT", setpoint(200_000), "SITE-EVSS",
                            fsc_id="fsc-evss")  # fmt: skip
        assert fs.state is FsState.ACTIVE
        assert await h.power_w(evses) == pytest.approx(200_000, rel=0.05)
        await finish_fs(h, "fs-evss")


async def test_a_setpoint_below_the_ev_users_floor_is_not_promised(
    scenario: StartScenario,
) -> None:
    """The three EVs must reach their users' minimum SoC before they leave within the hour, so
    they keep charging whatever the setpoint: the decision commits only what will flow."""
    async with scenario("uc-1.5") as run:
        await run.contract("FO-EVSS", "fsc-evss", [("SITE", "SITE-EVSS")], level="SITE")
        h = await harness_of(run, await run.fo("FO-EVSS"))
        evses = h.evses_of("SITE-EVSS")
        fs = await start_fs(h, "fs-low", "SETPOINT", setpoint(30_000), "SITE-EVSS",
                            fsc_id="fsc-evss")  # fmt: skip
        assert fs.response is not None
        assert fs.response.result is FsResult.REJECTED
        assert fs.response.committed_w is None
        held = {
            r.target.id for r in fs.response.reasons if r.code is ReasonCode.EVU_LIMIT and r.target
        }
        assert held
        assert held <= set(evses)
        assert await h.power_w(evses) > 30_000 * 2  # nothing was promised, nothing is steered


async def test_a_setpoint_just_below_the_floor_is_partly_accepted(
    scenario: StartScenario,
) -> None:
    """Between the floor and the asked power: partly accepted at the power that will flow."""
    async with scenario("uc-1.5") as run:
        await run.contract("FO-EVSS", "fsc-evss", [("SITE", "SITE-EVSS")], level="SITE")
        h = await harness_of(run, await run.fo("FO-EVSS"))
        evses = h.evses_of("SITE-EVSS")
        fs = await start_fs(h, "fs-mid", "SETPOINT", setpoint(80_000), "SITE-EVSS",
                            fsc_id="fsc-evss")  # fmt: skip
        assert fs.response is not None
        assert fs.response.result is FsResult.PARTIALLY_ACCEPTED, fs.response.reasons
        assert ReasonCode.EVU_LIMIT in {r.code for r in fs.response.reasons}
        assert fs.response.committed_w is not None
        assert fs.response.committed_w > 80_000
        assert fs.state is FsState.ACTIVE
        assert await h.power_w(evses) == pytest.approx(fs.response.committed_w, rel=0.1)
        await finish_fs(h, "fs-mid")
