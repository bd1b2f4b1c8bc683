"""UC 1.4: fleet EVs recharging at a public parking.

As UC 1.2 with fleet vans, the fleet operator standing in for the EV user: S1 the visited CSO's
FSC governs the sessions; S2 the home party's (the fleet operator's e-mobility provider).
"""

from __future__ import annotations

import pytest

from fcsbe.model import FsState, PartyRole
from tests.scenarios.conftest import StartScenario
from tests.scenarios.family2 import finish_fs, harness_of, setpoint, start_fs

PARK = [("SITE", "SITE-PUBLIC-FLEET")]


async def test_s1_visited_cso_and_s2_fleet_operator(scenario: StartScenario) -> None:
    for name, governing, other in (
        ("uc-1.4", "CSO-VISITED", "FLEET-OP-1"),
        ("uc-1.4-s2", "FLEET-OP-1", "CSO-VISITED"),
    ):
        async with scenario(name) as run:
            await run.contract("FO-1", "fsc-1", PARK, level="SESSION", provider_party_id=governing)
            await run.contract("FO-2", "fsc-2", PARK, level="SESSION", provider_party_id=other)
            sessions = [s async for s in (await run.fo("FO-1")).sessions.list()]
            assert len(sessions) == 3, name
            role = PartyRole.V_CSO if governing == "CSO-VISITED" else PartyRole.H_CSP
            assert {(h.party_id, h.role) for s in sessions for h in s.holders} == {
                (governing, role)
            }
            assert [s async for s in (await run.fo("FO-2")).sessions.list()] == []
            (station,) = [c async for c in (await run.fo("FO-2")).charging_stations.list()]
            assert [e.max_discharge_power_w for e in station.evses] == [11_000.0] * 4


@pytest.mark.parametrize(
    ("name", "governing"),
    [("uc-1.4", "CSO-VISITED"), ("uc-1.4-s2", "FLEET-OP-1")],
    ids=["s1-visited-cso", "s2-fleet-operator"],
)
async def test_the_governing_party_shapes_the_vans_charging(
    scenario: StartScenario, name: str, governing: str
) -> None:
    """UC 2.1: the vans' charging follows the setpoint of the governing party's FO (the vans
    must reach 80 % by departure, so the setpoint shapes charging rather than discharging)."""
    async with scenario(name) as run:
        await run.contract("FO-1", "fsc-1", PARK, level="SESSION", provider_party_id=governing)
        h = await harness_of(run, await run.fo("FO-1"))
        park = h.evses_of("SITE-PUBLIC-FLEET")
        assert await h.power_w(park) > 100_000
        fs = await start_fs(h, "fs-vans", "SETPOINT", setpoint(60_000), "SITE-PUBLIC-FLEET")
        assert fs.state is FsState.ACTIVE
        assert await h.power_w(park) == pytest.approx(60_000, rel=0.05)
        await finish_fs(h, "fs-vans")
