"""EVSS with PV and storage (UC 1.5) and energy communities on- and off-grid (UC 1.6)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from fcsbe.sim import SimOptions, Simulator, StorageSpec
from fcsbe.sim.scenarios import uc_1_5_evss, uc_1_6_energy_community
from tests.sim.helpers import plug, single_site


def test_evss_point_of_connection_balances_evses_pv_and_storage() -> None:
    fleet = uc_1_5_evss()
    sim = Simulator.from_scenario(fleet, options=SimOptions(meter_resolution_s=60))
    (site,) = sim.site_ids
    spec = fleet.sites[0]
    assert spec.storage is not None
    soc0 = sim.site_state(site).storage_soc_pct
    assert soc0 is not None
    saw_surplus = saw_shaving = False
    for _ in range(180):
        sim.step(60)
        s = sim.site_state(site)
        assert s.p_w == pytest.approx(s.evse_p_w + s.base_load_w - s.pv_w + s.storage_w)
        assert s.p_w <= spec.import_limit_w + 1e-6
        assert s.storage_soc_pct is not None
        assert 5.0 - 1e-9 <= s.storage_soc_pct <= 100.0
        saw_surplus |= s.storage_w > 0 and s.pv_w > s.evse_p_w
        saw_shaving |= s.storage_w < 0
    assert saw_surplus or saw_shaving
    readings = sim.drain_readings()
    kinds = {r.kind for r in readings}
    assert kinds == {"EVSE", "SITE", "PV", "STORAGE"}
    storage = [r for r in readings if r.kind == "STORAGE"]
    soc1 = sim.site_state(site).storage_soc_pct
    assert soc1 is not None
    net_wh = storage[-1].e_import_wh - storage[-1].e_export_wh
    assert net_wh == pytest.approx((soc1 - soc0) / 100 * spec.storage.capacity_wh)


def test_pv_surplus_goes_to_storage_then_export_then_curtailment() -> None:
    storage = StorageSpec(capacity_wh=10_000, max_charge_w=5_000, max_discharge_w=5_000)
    sim, _ = single_site(1, pv_peak_w=20_000, storage=storage, export_limit_w=10_000)
    sim.set_irradiance("SITE", 1.0)
    sim.step(60)
    s = sim.site_state("SITE")
    assert s.storage_w == 5_000
    assert s.p_w == pytest.approx(-10_000)
    assert s.pv_curtailed_w == pytest.approx(5_000)


def test_energy_community_off_grid_exchanges_nothing_with_the_grid() -> None:
    fleet = uc_1_6_energy_community(off_grid=True)
    sim = Simulator.from_scenario(fleet)
    (site,) = sim.site_ids
    for _ in range(120):
        sim.step(60)
        s = sim.site_state(site)
        assert s.grid_state == "OFF_GRID"
        assert s.p_w == pytest.approx(0.0, abs=1e-6)
        assert (s.import_limit_w, s.export_limit_w) == (0.0, 0.0)
    sim.set_grid_state(site, "ON_GRID")
    assert sim.site_state(site).import_limit_w == fleet.sites[0].import_limit_w
    assert [e.kind for e in sim.drain_events()][-1] == "GRID_STATE_CHANGED"


def test_off_grid_without_local_supply_cuts_charging_and_reports_unserved_load() -> None:
    sim, (evse,) = single_site(1, base_load_peak_w=10_000, grid_state="OFF_GRID")
    plug(sim, evse, soc_pct=30.0)
    sim.step(60)
    s = sim.site_state("SITE")
    assert sim.evse_state(evse).p_w == 0.0
    assert s.p_w == pytest.approx(0.0)
    assert s.unserved_w == pytest.approx(s.base_load_w)
    assert s.unserved_w > 0
    sim.set_grid_state("SITE", "ON_GRID")
    sim.run_until(sim.now + timedelta(minutes=1))
    assert sim.evse_state(evse).p_w == 11_000
