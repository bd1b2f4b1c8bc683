"""Point-of-connection limits: physical import/export, congestion limits, grid nodes."""

from __future__ import annotations

from datetime import timedelta

import pytest

from fcsbe.sim import (
    ClearControl,
    Consent,
    EvProfile,
    EvseSpec,
    EvUserLimits,
    LimitControl,
    SetpointControl,
    SimOptions,
    Simulator,
    SiteSpec,
    VirtualClock,
)
from fcsbe.sim.scenarios import uc_1_3_fleet_depot
from tests.sim.helpers import START, plug, single_site

TOL_W = 1e-6


def test_depot_never_imports_above_its_connection_limit() -> None:
    fleet = uc_1_3_fleet_depot()
    sim = Simulator.from_scenario(fleet, options=SimOptions(evse_readings=False))
    (site,) = fleet.sites
    peak = 0.0
    for _ in range(240):
        sim.step(60)
        state = sim.site_state(site.site_id)
        peak = max(peak, state.p_w)
        assert state.p_w <= site.import_limit_w + TOL_W
    assert peak == pytest.approx(site.import_limit_w)  # the limit did bind


def test_physical_limit_cuts_even_unconsented_charging() -> None:
    sim, evses = single_site(3, import_limit_w=15_000)
    for e in evses:
        plug(sim, e, soc_pct=20.0, consent=Consent(v1g=False))
    sim.step(60)
    assert sim.site_state("SITE").p_w == pytest.approx(15_000)
    assert [sim.evse_state(e).p_w for e in evses] == pytest.approx([5_000] * 3)


def test_physical_limit_cuts_what_users_do_not_need_first() -> None:
    sim, evses = single_site(2, import_limit_w=15_000)
    needy = EvUserLimits(min_soc_at_departure_pct=80.0)
    plug(
        sim,
        evses[0],
        soc_pct=20.0,
        departure_h=0.6 * 60 / 11,
        limits=needy,
        consent=Consent(v1g=False),
    )
    plug(sim, evses[1], soc_pct=20.0, consent=Consent(v1g=False))
    sim.step(60)
    powers = [sim.evse_state(e).p_w for e in evses]
    assert powers == pytest.approx([11_000, 4_000], rel=1e-6)


def test_congestion_limit_spares_users_minimum_needs_and_unmanaged_evs() -> None:
    sim, evses = single_site(3)
    needy = EvUserLimits(min_soc_at_departure_pct=80.0)
    plug(sim, evses[0], soc_pct=20.0, departure_h=0.6 * 60 / 11, limits=needy)
    plug(sim, evses[1], soc_pct=20.0)
    plug(sim, evses[2], soc_pct=20.0, consent=Consent(v1g=False))
    sim.apply_site("SITE", LimitControl(max_import_w=20_000))
    sim.step(60)
    powers = [sim.evse_state(e).p_w for e in evses]
    assert powers[0] == pytest.approx(11_000, rel=1e-6)  # must charge to reach 80 % in time
    assert powers[2] == 11_000  # no consent, no control
    assert powers[1] == 0.0  # the only flexible one gives everything it can
    # The soft limit is exceeded because nothing more may be cut: the server sees it.
    assert sim.site_state("SITE").p_w > 20_000
    sim.apply_site("SITE", ClearControl())
    sim.step(60)
    assert sim.evse_state(evses[1]).p_w == 11_000


def test_export_limit_cuts_v2g() -> None:
    sim, evses = single_site(2, export_limit_w=8_000)
    for e in evses:
        plug(sim, e, soc_pct=80.0)
        sim.apply(e, SetpointControl(-11_000))
    sim.step(60)
    assert sim.site_state("SITE").p_w == pytest.approx(-8_000)


def test_grid_node_limit_spans_its_sites() -> None:
    sites = [
        SiteSpec(site_id=f"S{k}", configuration_type=2, import_limit_w=50_000, grid_node_id="N1")
        for k in range(2)
    ]
    evses = [
        EvseSpec(f"E{k}", f"CS{k}", f"S{k}", "DC", max_charge_w=22_000, max_discharge_w=0)
        for k in range(2)
    ]
    sim = Simulator(sites, evses, seed=0, clock=VirtualClock(START))
    fast_ev = EvProfile(battery_capacity_wh=60_000, max_charge_w=50_000)
    for e in ("E0", "E1"):
        sim.connect_ev(e, fast_ev, 20.0, START + timedelta(hours=8))
    sim.apply_node("N1", LimitControl(max_import_w=30_000))
    sim.step(60)
    total = sim.site_state("S0").p_w + sim.site_state("S1").p_w
    assert total == pytest.approx(30_000)
    sim.apply_node("N1", ClearControl())
    sim.step(60)
    assert sim.site_state("S0").p_w + sim.site_state("S1").p_w == pytest.approx(44_000)
