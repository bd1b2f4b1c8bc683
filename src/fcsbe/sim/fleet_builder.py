"""Assembling scenario fleets: station ratings, a builder with sequential ids, site templates.

The scenario factories (`scenarios.py`) describe fleets in a few declarative lines; this module
holds the plumbing they share: a builder that numbers stations and EVSEs, the AC/DC ratings of
stations, and the site templates reused across scenarios (home, public car park, depot, EVSS,
energy community), so the same site looks the same in the demo fleet and in its use-case fleet.

This module only builds descriptions; it must not build or run a simulator.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Literal, NamedTuple

from fcsbe.sim.catalogue import (
    AC_3PH_MIN_W,
    cs_id,
    depot_profile,
    evse_id,
    highway_profile,
    home_profile,
    public_profile,
)
from fcsbe.sim.fleet import (
    CurrentType,
    EvseSpec,
    InitialSession,
    KnownEvUser,
    ScenarioFleet,
    SiteSpec,
    StationSpec,
    StorageSpec,
)

__all__ = [
    "FleetBuilder",
    "Rating",
    "ac",
    "dc",
    "depot_site",
    "ec_site",
    "evss_site",
    "fleet",
    "home_site",
    "hours_after",
    "public_site",
]


class Rating(NamedTuple):
    """Electrical rating and dynamics shared by the EVSEs of one station (fields in the order
    of `EvseSpec`'s after the ids)."""

    current_type: CurrentType
    max_charge_w: float
    max_discharge_w: float = 0.0
    min_charge_w: float = 0.0
    max_reactive_var: float = 0.0
    phases: int = 3
    response_latency_s: float = 0.0
    rise_time_s: float = 0.0
    ramp_w_per_s: float = float("inf")
    efficiency: float = 1.0
    setpoint_resolution_w: float = 0.0


AC_LATENCY_S = 1.5
"""AC: the EVSE changes the IEC 61851 PWM duty cycle and the EV's on-board charger follows
(the standard allows up to 5 s; 1-2 s is typical of current EVs)."""
AC_RISE_S = 1.0
DC_LATENCY_S = 0.2
"""DC: the EVSE's own converter, commanded over its internal bus."""
DC_RISE_S = 0.3
AC_EFFICIENCY = 0.90
"""On-board charger and battery losses, grid meter to cells (one way)."""
DC_EFFICIENCY = 0.94
"""Off-board converter and battery losses, grid meter to cells (one way)."""


def ac(kw: float = 11.0, discharge_kw: float = 0.0, phases: int = 3) -> Rating:
    """An AC station: the EV's on-board charger converts, so the 6 A minimum applies, the
    current is set in 1 A steps per phase, and the EV follows the PWM after seconds."""
    return Rating(
        "AC",
        kw * 1000,
        discharge_kw * 1000,
        min_charge_w=AC_3PH_MIN_W * phases / 3,
        phases=phases,
        response_latency_s=AC_LATENCY_S,
        rise_time_s=AC_RISE_S,
        ramp_w_per_s=kw * 1000 / AC_RISE_S,
        efficiency=AC_EFFICIENCY,
        setpoint_resolution_w=230.0 * phases,
    )


def dc(kw: float, discharge_kw: float = 0.0, var_kvar: float = 0.0) -> Rating:
    """A DC station: its own converter (reactive power too), sub-second response."""
    return Rating(
        "DC",
        kw * 1000,
        discharge_kw * 1000,
        max_reactive_var=var_kvar * 1000,
        response_latency_s=DC_LATENCY_S,
        rise_time_s=DC_RISE_S,
        ramp_w_per_s=4 * kw * 1000,
        efficiency=DC_EFFICIENCY,
        setpoint_resolution_w=100.0,
    )


class FleetBuilder:
    """Collects stations and EVSEs with sequential ids, so factories stay declarative."""

    def __init__(self) -> None:
        self.stations: list[StationSpec] = []
        self.evses: list[EvseSpec] = []

    def station(
        self,
        site_id: str,
        evses: int,
        rating: Rating,
        conformity: tuple[str, ...] = ("IEC 61851-1",),
    ) -> list[str]:
        """Add a station with `evses` identical EVSEs; returns their ids."""
        cs = cs_id(len(self.stations) + 1)
        self.stations.append(StationSpec(cs_id=cs, site_id=site_id, conformity=conformity))
        ids = []
        for _ in range(evses):
            ident = evse_id(len(self.evses) + 1)
            self.evses.append(EvseSpec(ident, cs, site_id, *rating))
            ids.append(ident)
        return ids


def fleet(
    name: str,
    start: datetime,
    seed: int,
    sites: Iterable[SiteSpec],
    builder: FleetBuilder,
    sessions: Iterable[InitialSession] = (),
    ev_users: Iterable[KnownEvUser] = (),
) -> ScenarioFleet:
    """Freeze what a builder collected into the one description server and simulator share."""
    return ScenarioFleet(
        name=name,
        start=start,
        seed=seed,
        sites=tuple(sites),
        stations=tuple(builder.stations),
        evses=tuple(builder.evses),
        initial_sessions=tuple(sessions),
        ev_users=tuple(ev_users),
    )


def hours_after(start: datetime, h: float) -> datetime:
    """Departures are written relative to the scenario start, so a fleet can start any time."""
    return start + timedelta(hours=h)


HOME_LOAD_PEAK_W = 2_000.0
"""Evening peak of a simulated household's own load (a quarter hour's mean, not a kettle)."""


def home_site(n: int, dc_wallbox: bool = False) -> SiteSpec:
    """A home: 25 A three-phase connection and its household load; a DC wallbox may export
    (V2H/V2G)."""
    return SiteSpec(
        site_id=f"SITE-HOME-{n}",
        configuration_type=5 if dc_wallbox else 4,
        import_limit_w=17_250,
        export_limit_w=10_000 if dc_wallbox else 0.0,
        base_load_peak_w=HOME_LOAD_PEAK_W,
        profile=home_profile(),
    )


def public_site(site_id: str, visited: str, controller: Literal["VISITED", "HOME"]) -> SiteSpec:
    """A public car park of a visited CSO, where roaming EV users charge (UC 1.2, 1.4)."""
    return SiteSpec(
        site_id=site_id,
        configuration_type=2,
        import_limit_w=400_000,
        export_limit_w=100_000,
        grid_node_id="NODE-CITY-1",
        profile=public_profile(visited, controller),
    )


def depot_site() -> SiteSpec:
    """A fleet depot whose connection is smaller than its EVSEs' total (UC 1.3)."""
    return SiteSpec(
        site_id="SITE-DEPOT",
        configuration_type=3,
        import_limit_w=150_000,
        export_limit_w=50_000,
        grid_node_id="NODE-CITY-1",
        profile=depot_profile(),
    )


def evss_site() -> SiteSpec:
    """An EV service station on a DC bus with PV and storage (UC 1.5)."""
    return SiteSpec(
        site_id="SITE-EVSS",
        configuration_type=1,
        import_limit_w=400_000,
        export_limit_w=200_000,
        pv_peak_w=200_000,
        storage=StorageSpec(capacity_wh=500_000, max_charge_w=250_000, max_discharge_w=250_000),
        profile=highway_profile(),
    )


def ec_site(off_grid: bool) -> SiteSpec:
    """An energy community: households, PV, storage and AC V2G chargers (UC 1.6)."""
    return SiteSpec(
        site_id="SITE-EC",
        configuration_type=3,
        import_limit_w=60_000,
        export_limit_w=60_000,
        pv_peak_w=60_000,
        storage=StorageSpec(
            capacity_wh=100_000, max_charge_w=50_000, max_discharge_w=50_000, initial_soc_pct=70.0
        ),
        energy_community_id="EC-1",
        grid_state="OFF_GRID" if off_grid else "ON_GRID",
        grid_node_id="NODE-EC",
        base_load_peak_w=30_000,
    )
