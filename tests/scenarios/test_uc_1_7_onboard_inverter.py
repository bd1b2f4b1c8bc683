"""UC 1.7: bidirectional inverter on board.

On an AC EVSE the EV's on-board charger is the DER, so AC V2G and droop depend on the EV: the
EVSE with an EV whose on-board inverter is bidirectional and grid-code certified (evidence of its
EV model in the registry) can discharge and run droop; the same EVSE type with an ordinary EV can
only charge. The evidence shown is the EV model's, not the EVSE's.
"""

from __future__ import annotations

import pytest

from fcsbe.model import FsState, FsType, GridFunction
from tests.scenarios.conftest import StartScenario
from tests.scenarios.family2 import finish_fs, harness_of, setpoint, start_fs

EVSE_BIDI = "DE*FCS*E0000001*1"
EVSE_PLAIN = "DE*FCS*E0000002*1"


async def test_ac_v2g_needs_the_evs_own_inverter(scenario: StartScenario) -> None:
    async with scenario("uc-1.7") as run:
        await run.contract(
            "FO-V2G", "fsc-v2g", [("SITE", "SITE-AC-V2G")], level="SESSION",
            categories=["SESSION_TIMES", "ENERGY_REQUEST"],
        )  # fmt: skip
        fo = await run.fo("FO-V2G")
        (station,) = [c async for c in fo.charging_stations.list()]
        assert {e.evse_id: e.max_discharge_power_w for e in station.evses} == {
            EVSE_BIDI: 11_000.0,
            EVSE_PLAIN: 11_000.0,
        }
        assert all("AC_BPT_DER" in e.energy_transfer_modes for e in station.evses)
        assert {c.standard for c in station.conformity_evidence} == {
            "IEC 61851-1",
            "ISO 15118-20 BPT",
        }  # no grid code on the EVSE side: it is not the DER on AC
        caps = await fo.capabilities.get(
            [f"EVSE:{EVSE_BIDI}", f"EVSE:{EVSE_PLAIN}"], fs_types=[FsType.SETPOINT, FsType.DROOP]
        )
        by = {(c.target.id, c.fs_type): c for c in caps}
        assert by[(EVSE_BIDI, FsType.SETPOINT)].p_min_w == -11_000.0
        assert by[(EVSE_BIDI, FsType.DROOP)].supported
        assert GridFunction.FREQ_DROOP in by[(EVSE_BIDI, FsType.DROOP)].grid_functions
        assert by[(EVSE_PLAIN, FsType.SETPOINT)].p_min_w == 0.0
        assert not by[(EVSE_PLAIN, FsType.DROOP)].supported

        bidi_ref = run.pseudonym(EVSE_BIDI)
        (session_droop,) = await fo.capabilities.get(
            [f"SESSION:{bidi_ref}"], fs_types=[FsType.DROOP]
        )
        assert session_droop.supported
        assert session_droop.target.id == bidi_ref
        forecast = await fo.availability.get(f"SESSION:{bidi_ref}", resolution_s=3600)
        assert forecast.intervals[0].v2g_capable_evs == 1
        assert forecast.intervals[0].max_export_w > 0
        plain = await fo.availability.get(f"EVSE:{EVSE_PLAIN}", resolution_s=3600)
        assert plain.intervals[0].max_export_w == 0.0

        # the EV with the inverter leaves: the EVSE can no longer discharge
        run.stations.simulator.disconnect(EVSE_BIDI)
        await run.sync()
        (after,) = await fo.capabilities.get([f"EVSE:{EVSE_BIDI}"], fs_types=[FsType.DROOP])
        assert not after.supported


async def test_ac_v2g_through_the_evs_inverter(scenario: StartScenario) -> None:
    """UC 2.1 with AC V2G: only the EV with the bidirectional on-board inverter discharges."""
    async with scenario("uc-1.7") as run:
        await run.contract(
            "FO-V2G", "fsc-v2g", [("SITE", "SITE-AC-V2G")], level="SESSION",
            categories=["SESSION_TIMES", "ENERGY_REQUEST"],
        )  # fmt: skip
        h = await harness_of(run, await run.fo("FO-V2G"))
        fs = await start_fs(h, "fs-acv2g", "SETPOINT", setpoint(-6_000), "SITE-AC-V2G",
                            fsc_id="fsc-v2g")  # fmt: skip
        assert fs.state is FsState.ACTIVE
        assert await h.power_w([EVSE_BIDI]) == pytest.approx(-6_000, rel=0.05)
        assert await h.power_w([EVSE_PLAIN]) >= 0
        await finish_fs(h, "fs-acv2g")
