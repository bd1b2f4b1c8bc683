"""Scenario factories: consistent descriptions that load into the simulator and run."""

from __future__ import annotations

from datetime import timedelta

import pytest

from fcsbe.sim import ScenarioFleet, SimOptions, Simulator
from fcsbe.sim import scenarios as sc

FACTORIES = {
    "demo": lambda: sc.demo_fleet(0),
    "uc_1_1_s1": lambda: sc.uc_1_1_home(1),
    "uc_1_1_s2": lambda: sc.uc_1_1_home(2),
    "uc_1_2_s1": lambda: sc.uc_1_2_visited(1),
    "uc_1_2_s2": lambda: sc.uc_1_2_visited(2),
    "uc_1_3": sc.uc_1_3_fleet_depot,
    "uc_1_4_s1": lambda: sc.uc_1_4_fleet_public(1),
    "uc_1_4_s2": lambda: sc.uc_1_4_fleet_public(2),
    "uc_1_5": sc.uc_1_5_evss,
    "uc_1_6_on": lambda: sc.uc_1_6_energy_community(False),
    "uc_1_6_off": lambda: sc.uc_1_6_energy_community(True),
    "uc_1_7": sc.uc_1_7_onboard_inverter,
    "large": lambda: sc.large_fleet(1_000, seed=1),
}


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_scenario_is_consistent_and_runs(name: str) -> None:
    fleet: ScenarioFleet = FACTORIES[name]()
    assert fleet == FACTORIES[name]()  # deterministic
    site_ids = {s.site_id for s in fleet.sites}
    cs_sites = {cs.cs_id: cs.site_id for cs in fleet.stations}
    assert len(cs_sites) == len(fleet.stations)
    for evse in fleet.evses:
        assert cs_sites[evse.cs_id] == evse.site_id
        assert evse.site_id in site_ids
    evse_ids = {e.evse_id for e in fleet.evses}
    assert {s.evse_id for s in fleet.initial_sessions} <= evse_ids
    sim = Simulator.from_scenario(fleet, options=SimOptions(evse_readings=False))
    assert len(sim.sessions()) == len(fleet.initial_sessions)
    sim.run_until(fleet.start + timedelta(minutes=30), dt_s=60)
    for site in sim.site_ids:
        state = sim.site_state(site)
        assert state.p_w <= sim.site_spec(site).import_limit_w + 1e-6


def test_demo_fleet_covers_the_five_contexts() -> None:
    fleet = sc.demo_fleet()
    assert [s.configuration_type for s in fleet.sites] == [4, 3, 2, 1, 3]
    evss = fleet.sites[3]
    assert evss.pv_peak_w > 0
    assert evss.storage is not None
    assert fleet.sites[4].energy_community_id == "EC-1"
    roaming = [s for s in fleet.initial_sessions if s.visited_party]
    assert roaming
    assert all(s.home_party for s in roaming)
    assert sum(e.site_id == "SITE-DEPOT" for e in fleet.evses) == 20
    depot = fleet.sites[1]
    assert depot.profile is not None
    assert depot.profile.fleet_departure_hours


@pytest.mark.parametrize(("scenario", "controller"), [(1, "VISITED"), (2, "HOME")])
def test_roaming_sessions_name_the_controlling_party(scenario: int, controller: str) -> None:
    sim = Simulator.from_scenario(sc.uc_1_2_visited(scenario))  # type: ignore[arg-type]
    sessions = sim.sessions()
    assert {s.fs_controller for s in sessions} == {controller}
    assert {s.visited_party for s in sessions} == {"CSO-VISITED"}
    assert {s.home_party for s in sessions} == {"CSP-HOME-A", "CSP-HOME-B"}


def test_embedded_home_scenario_has_one_wallbox() -> None:
    fleet = sc.uc_1_1_home(2)
    assert len(fleet.sites) == len(fleet.evses) == len(fleet.initial_sessions) == 1
    assert fleet.sites[0].configuration_type == 4


def test_large_fleet_size() -> None:
    fleet = sc.large_fleet(1_234, seed=5, evses_per_site=100)
    assert len(fleet.evses) == 1_234
    assert len(fleet.sites) == 13
    assert 0.7 < len(fleet.initial_sessions) / 1_234 < 0.9
