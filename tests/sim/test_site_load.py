"""The site model: household load and PV behind the connection point, seeded and metered."""

from __future__ import annotations

import pytest

from fcsbe.sim import Simulator
from fcsbe.sim.loads import LOAD_SHAPES, LoadProfile
from fcsbe.sim.scenarios import uc_2_7_street


def test_the_connection_point_meter_reads_evs_plus_load_minus_pv() -> None:
    sim = Simulator.from_scenario(uc_2_7_street())
    sim.set_base_load("SITE-FLATS", 8_000.0)
    sim.set_irradiance("SITE-FLATS", 0.5)
    sim.step(60)
    site = sim.site_state("SITE-FLATS")
    assert site.evse_p_w == pytest.approx(44_000.0)  # four EVs at 11 kW
    assert (site.base_load_w, site.pv_w) == (8_000.0, 10_000.0)
    assert site.p_w == pytest.approx(42_000.0)
    (poc,) = [r for r in sim.drain_readings() if r.meter_id == "SITE-FLATS"][-1:]
    assert poc.kind == "SITE"
    assert poc.p_w == pytest.approx(42_000.0)


def test_a_site_without_a_connection_meter_reports_no_site_readings() -> None:
    """Its load model still runs (the site state and the station's report carry it), but no
    meter of kind SITE reports: records must estimate the connection point."""
    sim = Simulator.from_scenario(uc_2_7_street(connection_meter=False))
    sim.set_base_load("SITE-FLATS", 8_000.0)
    sim.set_irradiance("SITE-FLATS", 0.5)
    sim.step(60)
    assert sim.site_state("SITE-FLATS").p_w == pytest.approx(42_000.0)
    readings = sim.drain_readings()
    assert not [r for r in readings if r.kind == "SITE"]
    assert [r for r in readings if r.kind == "PV"]  # the PV meter still reports
    assert [r for r in readings if r.kind == "EVSE"]


def test_the_daily_curve_is_seeded_per_site_and_follows_its_shape() -> None:
    a, b = (LoadProfile("HOUSEHOLD", 2_000.0, 7, site) for site in ("H-1", "H-2"))
    assert a.quarters == LoadProfile("HOUSEHOLD", 2_000.0, 7, "H-1").quarters
    assert a.quarters != b.quarters  # two homes of one street differ
    assert a.quarters != LoadProfile("HOUSEHOLD", 2_000.0, 8, "H-1").quarters
    assert max(a.quarters) <= 2_000.0 * 1.1 * 1.05
    assert a.at(19.5) > 2 * a.at(3.5)  # evening peak, quiet night
    office = LoadProfile("BUILDING", 50_000.0, 7, "OFFICE")
    assert office.at(11.0) > 2 * office.at(2.0)
    assert len(LOAD_SHAPES["BUILDING"]) == 24


def test_the_fixed_load_returns_to_its_curve() -> None:
    sim = Simulator.from_scenario(uc_2_7_street())
    sim.step(1)
    curve = sim.site_state("SITE-FLATS").base_load_w
    assert curve > 0
    sim.set_base_load("SITE-FLATS", 1_000.0)
    sim.step(1)
    assert sim.site_state("SITE-FLATS").base_load_w == 1_000.0
    sim.set_base_load("SITE-FLATS", None)
    sim.step(1)
    assert sim.site_state("SITE-FLATS").base_load_w == pytest.approx(curve)
    with pytest.raises(ValueError, match="p_w"):
        sim.set_base_load("SITE-FLATS", -1.0)
