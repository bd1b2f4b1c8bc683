"""UC 1.2: EV users recharging at a visited CS (roaming).

The FCSBE records, per session, the EV user's home CSP and the visited CSO, and which party's
contract governs it. S1: the visited CSO's FSC governs, so only the FO contracted with the
visited CSO sees the sessions. S2: the home CSP's FSC governs and the visited CSO executes on
its behalf, so each home CSP's FO sees its own users' sessions, and the visited CSO's FO none.
Consent and limits follow the EV user in both.
"""

from __future__ import annotations

import pytest

from fcsbe.model import FsState, PartyRole
from tests.scenarios.conftest import Scenario, StartScenario
from tests.scenarios.family2 import finish_fs, harness_of, setpoint, start_fs

CARPARK = [("SITE", "SITE-CARPARK")]
ALL = ["SESSION_TIMES", "ENERGY_REQUEST", "STATE_OF_CHARGE", "EVU_LIMITS", "CONSENT_STATUS"]


async def _contracts(run: Scenario) -> None:
    await run.contract(
        "FO-V", "fsc-visited", CARPARK, level="SESSION", provider_party_id="CSO-VISITED",
        categories=ALL,
    )  # fmt: skip
    await run.contract(
        "FO-A", "fsc-home-a", CARPARK, level="SESSION", provider_party_id="CSP-HOME-A",
        categories=ALL,
    )  # fmt: skip


async def test_s1_the_visited_cso_contract_governs(scenario: StartScenario) -> None:
    async with scenario("uc-1.2") as run:
        await _contracts(run)
        visited = [s async for s in (await run.fo("FO-V")).sessions.list()]
        assert len(visited) == 3
        for session in visited:
            (holder,) = session.holders
            assert (holder.party_id, holder.role, holder.fsc_id) == (
                "CSO-VISITED",
                PartyRole.V_CSO,
                "fsc-visited",
            )
            assert session.evu_limits is not None
            assert session.evu_limits.max_energy_to_grid_wh == 8_000.0
            assert session.consent_ref is not None
        assert [s async for s in (await run.fo("FO-A")).sessions.list()] == []


async def test_s2_the_home_csp_contract_governs(scenario: StartScenario) -> None:
    async with scenario("uc-1.2-s2") as run:
        await _contracts(run)
        home_a = [s async for s in (await run.fo("FO-A")).sessions.list()]
        users_of_a = {
            run.pseudonym(s.evse_id)
            for s in run.fleet.initial_sessions
            if s.home_party == "CSP-HOME-A"
        }
        assert {s.session_ref for s in home_a} == users_of_a
        assert len(users_of_a) == 2
        for session in home_a:
            (holder,) = session.holders
            assert (holder.party_id, holder.role) == ("CSP-HOME-A", PartyRole.H_CSP)
        assert [s async for s in (await run.fo("FO-V")).sessions.list()] == []
        # the visited CSO's FO still sees the car park itself
        (site,) = [s async for s in (await run.fo("FO-V")).sites.list()]
        assert site.site_id == "SITE-CARPARK"


@pytest.mark.parametrize(
    ("name", "fo", "fsc_id"),
    [("uc-1.2", "FO-V", "fsc-visited"), ("uc-1.2-s2", "FO-A", "fsc-home-a")],
    ids=["s1-visited-cso", "s2-home-csp"],
)
async def test_the_governing_party_runs_an_fs(
    scenario: StartScenario, name: str, fo: str, fsc_id: str
) -> None:
    """UC 2.1 in the car park, under the visited CSO's (S1) or the home CSP's (S2) contract."""
    async with scenario(name) as run:
        await _contracts(run)
        h = await harness_of(run, await run.fo(fo))
        carpark = h.evses_of("SITE-CARPARK")
        fs = await start_fs(h, "fs-park", "SETPOINT", setpoint(10_000), "SITE-CARPARK",
                            fsc_id=fsc_id)  # fmt: skip
        assert fs.state is FsState.ACTIVE
        assert await h.power_w(carpark) == pytest.approx(10_000, rel=0.05)
        await finish_fs(h, "fs-park")
