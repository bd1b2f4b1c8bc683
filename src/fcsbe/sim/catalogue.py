"""Building blocks for scenarios: EV models, daily arrival curves, site profiles, id formats.

Figures are typical of the European market (2024-2025), rounded; they are there to make the
scenarios plausible, not to describe any real product. Kept apart from `scenarios.py` so the
factories read as a description of sites rather than a table of numbers.

This module holds constants and small pure builders only.
"""

from __future__ import annotations

from typing import Final

from fcsbe.sim.fleet import DwellTime, EvProfile, EvUserLimits, SiteProfile

__all__ = [
    "AC_3PH_MIN_W",
    "COMPACT_AC",
    "FLEET_VAN",
    "ONBOARD_BIDI",
    "SUV_BPT",
    "V2G_DC",
    "cs_id",
    "daily_curve",
    "depot_profile",
    "evse_id",
    "highway_profile",
    "home_profile",
    "public_profile",
]

AC_3PH_MIN_W: Final = 6 * 3 * 230.0
"""IEC 61851 minimum current (6 A) on three phases at 230 V: the least an AC EVSE can offer."""

COMPACT_AC: Final = EvProfile(
    model="compact-ac",
    battery_capacity_wh=50_000,
    max_charge_w=100_000,
    max_ac_charge_w=11_000,
    conformity=("IEC 61851-1",),
)
V2G_DC: Final = EvProfile(
    model="v2g-dc",
    battery_capacity_wh=40_000,
    max_charge_w=50_000,
    max_discharge_w=10_000,
    max_ac_charge_w=6_600,
    conformity=("IEC 61851-1", "CHAdeMO 2.0 V2X"),
)
SUV_BPT: Final = EvProfile(
    model="suv-bpt",
    battery_capacity_wh=77_000,
    max_charge_w=135_000,
    max_discharge_w=11_000,
    max_ac_charge_w=11_000,
    conformity=("IEC 61851-1", "ISO 15118-20 BPT"),
)
ONBOARD_BIDI: Final = EvProfile(
    model="onboard-bidi",
    battery_capacity_wh=60_000,
    max_charge_w=120_000,
    max_discharge_w=11_000,
    max_ac_charge_w=11_000,
    onboard_bidirectional=True,
    conformity=("IEC 61851-1", "ISO 15118-20 BPT", "EN 50549-1", "VDE-AR-N 4105"),
)
FLEET_VAN: Final = EvProfile(
    model="fleet-van",
    battery_capacity_wh=75_000,
    max_charge_w=80_000,
    max_discharge_w=11_000,
    max_ac_charge_w=11_000,
    conformity=("IEC 61851-1", "ISO 15118-20 BPT"),
)


def daily_curve(peaks: dict[int, float], base: float = 0.0) -> tuple[float, ...]:
    """24 hourly arrival rates: `base` everywhere, `peaks` at the hours given."""
    return tuple(peaks.get(h, base) for h in range(24))


def evse_id(n: int) -> str:
    """An eMI3-style EVSE id (country*operator*E-number)."""
    return f"DE*FCS*E{n:07d}*1"


def cs_id(n: int) -> str:
    """A charging-station id."""
    return f"CS-{n:07d}"


_HOUR = 3600.0


def home_profile() -> SiteProfile:
    """Home wallbox: one car home in the evening, away in the morning."""
    return SiteProfile(
        arrivals_per_hour=daily_curve({17: 0.3, 18: 0.4, 19: 0.2}, base=0.005),
        dwell=DwellTime(mean_s=13 * _HOUR, sd_s=2 * _HOUR, min_s=2 * _HOUR, max_s=16 * _HOUR),
        ev_mix=((COMPACT_AC, 0.6), (ONBOARD_BIDI, 0.4)),
        arrival_soc_pct=(20.0, 60.0),
        target_soc_pct=80.0,
        v2g_capable_share=1.0,
        v1g_consent_share=0.9,
        v2g_consent_share=0.5,
        limits=EvUserLimits(min_soc_at_departure_pct=60.0, soc_floor_pct=30.0),
    )


def depot_profile() -> SiteProfile:
    """Fleet depot: vans back in the late afternoon, out on a fixed morning schedule."""
    return SiteProfile(
        arrivals_per_hour=daily_curve({16: 3.0, 17: 6.0, 18: 5.0, 19: 2.0}),
        dwell=DwellTime(mean_s=12 * _HOUR, sd_s=1 * _HOUR, min_s=4 * _HOUR, max_s=16 * _HOUR),
        ev_mix=((FLEET_VAN, 1.0),),
        arrival_soc_pct=(15.0, 45.0),
        target_soc_pct=95.0,
        v2g_capable_share=0.5,
        v1g_consent_share=1.0,
        v2g_consent_share=0.8,
        limits=EvUserLimits(
            min_soc_at_departure_pct=90.0, soc_floor_pct=40.0, max_energy_to_grid_wh=20_000
        ),
        fleet_departure_hours=(6.0, 6.5, 7.0),
        home_parties=("FLEET-OP-1",),
    )


def public_profile(visited_party: str, controller: str | None = "VISITED") -> SiteProfile:
    """Public car park (roaming): daytime visits of a few hours, several home CSPs."""
    return SiteProfile(
        arrivals_per_hour=daily_curve(
            {8: 2.0, 9: 3.0, 10: 2.5, 11: 2.0, 12: 2.5, 13: 2.0, 14: 2.0, 15: 2.0, 16: 2.5},
            base=0.3,
        ),
        dwell=DwellTime(mean_s=3 * _HOUR, sd_s=1.5 * _HOUR, min_s=0.5 * _HOUR, max_s=9 * _HOUR),
        ev_mix=((COMPACT_AC, 0.4), (V2G_DC, 0.3), (SUV_BPT, 0.3)),
        arrival_soc_pct=(20.0, 70.0),
        target_soc_pct=80.0,
        v2g_capable_share=0.6,
        v1g_consent_share=0.8,
        v2g_consent_share=0.5,
        limits=EvUserLimits(
            min_soc_at_departure_pct=50.0, soc_floor_pct=30.0, max_energy_to_grid_wh=10_000
        ),
        home_parties=("CSP-HOME-A", "CSP-HOME-B"),
        visited_party=visited_party,
        fs_controller="VISITED" if controller == "VISITED" else "HOME",
    )


def highway_profile() -> SiteProfile:
    """EV service station: short fast-charging stops through the day."""
    return SiteProfile(
        arrivals_per_hour=daily_curve(
            dict.fromkeys(range(7, 21), 6.0) | {12: 9.0, 13: 9.0, 17: 8.0}, base=0.5
        ),
        dwell=DwellTime(mean_s=0.5 * _HOUR, sd_s=0.2 * _HOUR, min_s=600.0, max_s=1.5 * _HOUR),
        ev_mix=((COMPACT_AC, 0.3), (SUV_BPT, 0.5), (V2G_DC, 0.2)),
        arrival_soc_pct=(10.0, 40.0),
        target_soc_pct=80.0,
        v2g_capable_share=0.0,
        v1g_consent_share=0.7,
        limits=EvUserLimits(min_soc_at_departure_pct=70.0),
    )
