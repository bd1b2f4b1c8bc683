"""Deterministic fleets: the five-site demo, one fleet per family-1 use case, and a large one.

Each factory returns a `ScenarioFleet`, the single description from which the server loads its
registry (sites, stations, EVSEs) and the simulator its physics and initial EVs, so the two can
never disagree. Same arguments, same fleet: anything random is drawn from `random.Random(seed)`.
The default start is a Monday afternoon in June, when depots fill up and PV still produces.

This module only describes fleets; it must not build or run a simulator.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Literal

from fcsbe.sim.catalogue import (
    COMPACT_AC,
    FLEET_VAN,
    ONBOARD_BIDI,
    SUV_BPT,
    V2G_DC,
    depot_profile,
    public_profile,
)
from fcsbe.sim.fleet import (
    Consent,
    EvProfile,
    EvUserLimits,
    InitialSession,
    KnownEvUser,
    ScenarioFleet,
    SiteSpec,
)
from fcsbe.sim.fleet_builder import (
    FleetBuilder,
    ac,
    dc,
    depot_site,
    ec_site,
    evss_site,
    fleet,
    home_site,
    hours_after,
    public_site,
)

__all__ = [
    "DEFAULT_START",
    "DEMO_EV_USERS",
    "demo_fleet",
    "large_fleet",
    "uc_1_1_home",
    "uc_1_2_visited",
    "uc_1_3_fleet_depot",
    "uc_1_4_fleet_public",
    "uc_1_5_evss",
    "uc_1_6_energy_community",
    "uc_1_7_onboard_inverter",
    "uc_2_6_v2h_home",
    "uc_2_7_street",
]

DEFAULT_START = datetime(2025, 6, 2, 15, 0, tzinfo=UTC)
"""Monday 2 June 2025, 16:00 local (UTC+1 in the site profiles)."""

Scenario = Literal[1, 2]
V1G = Consent(v1g=True, v2g=False)
V2G = Consent(v1g=True, v2g=True)


def uc_1_1_home(
    scenario: Scenario = 1, *, homes: int = 10, seed: int = 0, start: datetime = DEFAULT_START
) -> ScenarioFleet:
    """UC 1.1. S1: a CSP backend with many home wallboxes (every fifth a V2G DC wallbox).
    S2: one home CS served by an embedded FCSBE."""
    count = homes if scenario == 1 else 1
    b, sites, sessions = FleetBuilder(), [], []
    for n in range(1, count + 1):
        is_dc = scenario == 1 and n % 5 == 0
        site = home_site(n, is_dc)
        sites.append(site)
        (ident,) = b.station(site.site_id, 1, dc(10, 10) if is_dc else ac(11))
        sessions.append(
            InitialSession(
                evse_id=ident,
                ev=V2G_DC if is_dc else COMPACT_AC,
                soc_pct=30.0 + 3 * (n % 7),
                departure=hours_after(start, 15.0 + (n % 3) * 0.5),
                limits=EvUserLimits(min_soc_at_departure_pct=70.0, soc_floor_pct=30.0),
                consent=V2G if is_dc else V1G,
                home_party="CSP-HOME-A",
            )
        )
    return fleet(f"uc-1.1-s{scenario}", start, seed, sites, b, sessions)


def uc_1_2_visited(
    scenario: Scenario = 1, *, seed: int = 0, start: datetime = DEFAULT_START
) -> ScenarioFleet:
    """UC 1.2: EV users roaming at a visited CSO's car park. S1: the visited CSO's FSC governs;
    S2: the home CSP's FSC governs and the visited CSO executes on its behalf."""
    controller: Literal["VISITED", "HOME"] = "VISITED" if scenario == 1 else "HOME"
    site = public_site("SITE-CARPARK", "CSO-VISITED", controller)
    b = FleetBuilder()
    ids = b.station(site.site_id, 2, dc(50, 25)) + b.station(site.site_id, 2, dc(50))
    evs: list[tuple[EvProfile, str]] = [
        (SUV_BPT, "CSP-HOME-A"),
        (V2G_DC, "CSP-HOME-B"),
        (COMPACT_AC, "CSP-HOME-A"),
    ]
    sessions = [
        InitialSession(
            evse_id=ids[k],
            ev=ev,
            soc_pct=35.0 + 10 * k,
            departure=hours_after(start, 3.0 + k),
            limits=EvUserLimits(
                min_soc_at_departure_pct=60.0, soc_floor_pct=30.0, max_energy_to_grid_wh=8_000
            ),
            consent=V2G,
            home_party=home,
            visited_party="CSO-VISITED",
            fs_controller=controller,
        )
        for k, (ev, home) in enumerate(evs)
    ]
    return fleet(f"uc-1.2-s{scenario}", start, seed, [site], b, sessions)


def uc_1_3_fleet_depot(
    *, evses: int = 20, connected: int = 16, seed: int = 0, start: datetime = DEFAULT_START
) -> ScenarioFleet:
    """UC 1.3: a private depot; fleet departure schedules and a binding site import limit."""
    rng = random.Random(seed)  # noqa: S311 - scenario data, not security
    site, b = depot_site(), FleetBuilder()
    ids: list[str] = []
    for _ in range(0, evses, 2):
        ids += b.station(site.site_id, min(2, evses - len(ids)), ac(22, 11))
    sessions = [
        InitialSession(
            evse_id=ids[k],
            ev=FLEET_VAN,
            soc_pct=round(rng.uniform(15, 45), 1),
            departure=hours_after(start, 14.0 + 0.5 * (k % 3)),
            limits=EvUserLimits(
                min_soc_at_departure_pct=90.0, soc_floor_pct=40.0, max_energy_to_grid_wh=20_000
            ),
            consent=V2G if k % 2 == 0 else V1G,
            target_soc_pct=95.0,
            home_party="FLEET-OP-1",
        )
        for k in range(min(connected, evses))
    ]
    return fleet("uc-1.3", start, seed, [site], b, sessions)


def uc_1_4_fleet_public(
    scenario: Scenario = 1, *, seed: int = 0, start: datetime = DEFAULT_START
) -> ScenarioFleet:
    """UC 1.4: fleet vans charging at a public car park. S1: the visited CSO's FSC; S2: the
    home CSP's (the fleet operator's e-mobility provider)."""
    controller: Literal["VISITED", "HOME"] = "VISITED" if scenario == 1 else "HOME"
    site = public_site("SITE-PUBLIC-FLEET", "CSO-VISITED", controller)
    b = FleetBuilder()
    ids = b.station(site.site_id, 4, dc(50, 11))
    sessions = [
        InitialSession(
            evse_id=ids[k],
            ev=FLEET_VAN,
            soc_pct=30.0 + 5 * k,
            departure=hours_after(start, 2.0 + k),
            limits=EvUserLimits(
                min_soc_at_departure_pct=80.0, soc_floor_pct=40.0, max_energy_to_grid_wh=10_000
            ),
            consent=V2G,
            target_soc_pct=90.0,
            home_party="FLEET-OP-1",
            visited_party="CSO-VISITED",
            fs_controller=controller,
        )
        for k in range(3)
    ]
    return fleet(f"uc-1.4-s{scenario}", start, seed, [site], b, sessions)


def uc_1_5_evss(*, seed: int = 0, start: datetime = DEFAULT_START) -> ScenarioFleet:
    """UC 1.5: an EV service station on a DC bus with PV and storage, serving FS as a whole."""
    site, b = evss_site(), FleetBuilder()
    ids = b.station(site.site_id, 6, dc(150, 0, 50), ("IEC 61851-1", "IEC 61851-23"))
    sessions = [
        InitialSession(
            evse_id=ids[k],
            ev=SUV_BPT,
            soc_pct=20.0 + 10 * k,
            departure=hours_after(start, 0.75),
            limits=EvUserLimits(min_soc_at_departure_pct=60.0),
            consent=V1G,
        )
        for k in range(3)
    ]
    return fleet("uc-1.5", start, seed, [site], b, sessions)


def uc_1_6_energy_community(
    off_grid: bool = False, *, seed: int = 0, start: datetime = DEFAULT_START
) -> ScenarioFleet:
    """UC 1.6: an energy community (households, PV, storage, AC V2G chargers), on- or off-grid."""
    site, b = ec_site(off_grid), FleetBuilder()
    ids = b.station(site.site_id, 4, ac(11, 11))
    sessions = [
        InitialSession(
            evse_id=ids[k],
            ev=ONBOARD_BIDI,
            soc_pct=40.0 + 10 * k,
            departure=hours_after(start, 16.0),
            limits=EvUserLimits(
                min_soc_at_departure_pct=70.0, soc_floor_pct=35.0, max_energy_to_grid_wh=15_000
            ),
            consent=V2G,
            home_party="EC-1",
        )
        for k in range(3)
    ]
    return fleet(f"uc-1.6-{'off' if off_grid else 'on'}-grid", start, seed, [site], b, sessions)


def uc_1_7_onboard_inverter(*, seed: int = 0, start: datetime = DEFAULT_START) -> ScenarioFleet:
    """UC 1.7: AC V2G through the EV's on-board inverter. EVSE 1 has such an EV (with its own
    grid-code evidence); EVSE 2 has an EV without one, which must not discharge."""
    site = SiteSpec(
        site_id="SITE-AC-V2G", configuration_type=3, import_limit_w=43_000, export_limit_w=22_000
    )
    b = FleetBuilder()
    ids = b.station(site.site_id, 2, ac(11, 11), ("IEC 61851-1", "ISO 15118-20 BPT"))
    limits = EvUserLimits(
        min_soc_at_departure_pct=60.0, soc_floor_pct=30.0, max_energy_to_grid_wh=10_000
    )
    sessions = [
        InitialSession(ids[0], ONBOARD_BIDI, 70.0, hours_after(start, 10.0), limits, V2G),
        InitialSession(ids[1], COMPACT_AC, 70.0, hours_after(start, 10.0), limits, V2G),
    ]
    return fleet("uc-1.7", start, seed, [site], b, sessions)


DEMO_EV_USERS = (
    KnownEvUser("NL-FCS-C0000DEM1-9", COMPACT_AC, "SITE-HOME-1", arrival_share=1.0),
    KnownEvUser("NL-FCS-C0000DEM2-N", SUV_BPT, "SITE-CARPARK", vin="WVWZZZE1ZMP000002"),
)
"""The demo fleet's named EV users: an operator can invite one by its identifier and see that
car's sessions in the phone app. The first owns the home wallbox (plugged in at the start), the
second drives a V2G SUV that is plugged in at the car park and comes back to it now and then."""


def uc_2_6_v2h_home(*, seed: int = 0, start: datetime = DEFAULT_START) -> ScenarioFleet:
    """UC 2.6 V2H: one home with its household load, a bidirectional DC wallbox and a V2G EV
    plugged in; the connection may not export (zero-export rule), so discharge can only cover
    the home's own load."""
    b = FleetBuilder()
    home = SiteSpec(
        site_id="SITE-V2H-HOME",
        configuration_type=5,
        import_limit_w=17_250,
        export_limit_w=0.0,
        base_load_peak_w=2_000,
    )
    (evse,) = b.station(home.site_id, 1, dc(11, 10), ("IEC 61851-23", "EN 50549-1"))
    session = InitialSession(
        evse,
        V2G_DC,
        70.0,
        hours_after(start, 14.0),
        EvUserLimits(min_soc_at_departure_pct=50.0, soc_floor_pct=30.0),
        V2G,
        home_party="CSP-HOME-A",
    )
    return fleet("uc-2.6-v2h", start, seed, [home], b, [session])


def uc_2_7_street(
    *, seed: int = 0, start: datetime = DEFAULT_START, connection_meter: bool = True
) -> ScenarioFleet:
    """UC 2.7: a block of flats behind one congestion point: its households' load, a PV roof
    and six AC chargers (two of them bidirectional, with V2G EVs), four EVs plugged in and two
    chargers free for an EV arriving during a limit. `connection_meter` False: the connection
    point has no meter that reports (the records then estimate it)."""
    b = FleetBuilder()
    flats = SiteSpec(
        site_id="SITE-FLATS",
        configuration_type=3,
        import_limit_w=100_000,
        export_limit_w=30_000,
        pv_peak_w=20_000,
        grid_node_id="NODE-STREET-1",
        base_load_peak_w=25_000,
        connection_meter=connection_meter,
    )
    bidi = b.station(flats.site_id, 2, ac(11, 11))
    plain = b.station(flats.site_id, 4, ac(11))
    limits = EvUserLimits(min_soc_at_departure_pct=40.0, soc_floor_pct=30.0)
    sessions = [
        InitialSession(evse, ONBOARD_BIDI, 60.0, hours_after(start, 12.0), limits, V2G)
        for evse in bidi
    ] + [
        InitialSession(evse, COMPACT_AC, 30.0 + 5 * k, hours_after(start, 12.0), limits, V1G)
        for k, evse in enumerate(plain[:2])
    ]
    return fleet("uc-2.7-street", start, seed, [flats], b, sessions)


def demo_fleet(seed: int = 0, *, start: datetime = DEFAULT_START) -> ScenarioFleet:
    """Five sites, one per context: home wallbox, depot, public car park, EVSS, energy community."""
    b = FleetBuilder()
    home = home_site(1)
    (home_evse,) = b.station(home.site_id, 1, ac(11))
    depot = depot_site()
    depot_ids: list[str] = []
    for _ in range(10):
        depot_ids += b.station(depot.site_id, 2, ac(22, 11))
    carpark = public_site("SITE-CARPARK", "CSO-VISITED", "VISITED")
    v2g_dc = ("IEC 61851-1", "IEC 61851-23", "EN 50549-1")
    park_ids = b.station(carpark.site_id, 4, dc(50, 25, 10), v2g_dc) + b.station(
        carpark.site_id, 4, dc(50)
    )
    evss = evss_site()
    b.station(evss.site_id, 6, dc(150, 0, 50))
    ec = ec_site(off_grid=False)
    ec_ids = b.station(ec.site_id, 4, ac(11, 11))
    rng = random.Random(seed)  # noqa: S311 - scenario data, not security
    sessions = [
        InitialSession(
            home_evse,
            COMPACT_AC,
            35.0,
            hours_after(start, 15.0),
            EvUserLimits(min_soc_at_departure_pct=70.0, soc_floor_pct=30.0),
            V1G,
            home_party="CSP-HOME-A",
            id_token=DEMO_EV_USERS[0].identifier,
        )
    ]
    fleet_limits = EvUserLimits(
        min_soc_at_departure_pct=90.0, soc_floor_pct=40.0, max_energy_to_grid_wh=20_000
    )
    for k, ident in enumerate(depot_ids[:12]):
        sessions.append(
            InitialSession(
                ident,
                FLEET_VAN,
                round(rng.uniform(15, 45), 1),
                hours_after(start, 14.0 + 0.5 * (k % 3)),
                fleet_limits,
                V2G if k % 2 == 0 else V1G,
                target_soc_pct=95.0,
                home_party="FLEET-OP-1",
            )
        )
    park_limits = EvUserLimits(
        min_soc_at_departure_pct=50.0, soc_floor_pct=30.0, max_energy_to_grid_wh=10_000
    )
    for k in range(3):
        sessions.append(
            InitialSession(
                park_ids[k],
                SUV_BPT,
                40.0 + 5 * k,
                hours_after(start, 2.0 + k),
                park_limits,
                V2G,
                home_party="CSP-HOME-B",
                visited_party="CSO-VISITED",
                fs_controller="VISITED",
                id_token=DEMO_EV_USERS[1].identifier if k == 0 else None,
                vin=DEMO_EV_USERS[1].vin if k == 0 else None,
            )
        )
    ec_limits = EvUserLimits(
        min_soc_at_departure_pct=70.0, soc_floor_pct=35.0, max_energy_to_grid_wh=15_000
    )
    sessions.append(
        InitialSession(
            ec_ids[0],
            ONBOARD_BIDI,
            60.0,
            hours_after(start, 16.0),
            ec_limits,
            V2G,
            home_party="EC-1",
        )
    )
    return fleet("demo", start, seed, [home, depot, carpark, evss, ec], b, sessions, DEMO_EV_USERS)


def large_fleet(
    n_evses: int,
    seed: int = 0,
    *,
    evses_per_site: int = 50,
    connected_share: float = 0.8,
    start: datetime = DEFAULT_START,
) -> ScenarioFleet:
    """`n_evses` EVSEs in sites of `evses_per_site` (AC depots and DC car parks alternating), a
    share of them with an EV connected: the benchmark fleet, and a soak-test fleet."""
    rng = random.Random(seed)  # noqa: S311 - scenario data, not security
    b, sites, sessions = FleetBuilder(), [], []
    limits = EvUserLimits(
        min_soc_at_departure_pct=60.0, soc_floor_pct=30.0, max_energy_to_grid_wh=15_000
    )
    for n in range((n_evses + evses_per_site - 1) // evses_per_site):
        size = min(evses_per_site, n_evses - n * evses_per_site)
        is_dc = n % 2 == 1
        site = SiteSpec(
            site_id=f"SITE-{n + 1:05d}",
            configuration_type=2 if is_dc else 3,
            import_limit_w=size * (25_000 if is_dc else 8_000),
            export_limit_w=size * 5_000,
            grid_node_id=f"NODE-{n // 10 + 1:04d}",
            profile=public_profile("CSO-VISITED") if is_dc else depot_profile(),
        )
        sites.append(site)
        ids: list[str] = []
        for _ in range(0, size, 2):
            ids += b.station(
                site.site_id, min(2, size - len(ids)), dc(50, 10) if is_dc else ac(11, 11)
            )
        for ident in ids:
            if rng.random() >= connected_share:
                continue
            ev = V2G_DC if is_dc else (ONBOARD_BIDI if rng.random() < 0.3 else COMPACT_AC)
            v2g = rng.random() < 0.5
            sessions.append(
                InitialSession(
                    evse_id=ident,
                    ev=ev,
                    soc_pct=round(rng.uniform(15, 70), 1),
                    departure=hours_after(start, rng.uniform(1.0, 14.0)),
                    limits=limits,
                    consent=Consent(v1g=rng.random() < 0.9 or v2g, v2g=v2g),
                )
            )
    return fleet(f"large-{n_evses}", start, seed, sites, b, sessions)
