"""Random arrivals and departures follow the site profile (times, schedules, SoC, consent)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fcsbe.sim import (
    Consent,
    DwellTime,
    EvProfile,
    EvseSpec,
    EvUserLimits,
    SimOptions,
    Simulator,
    SiteProfile,
    SiteSpec,
    VirtualClock,
)
from fcsbe.sim.catalogue import daily_curve

START = datetime(2025, 6, 2, 0, 0, tzinfo=UTC)
EV = EvProfile(battery_capacity_wh=60_000, max_charge_w=11_000, max_discharge_w=11_000)


def _depot(profile: SiteProfile, evses: int = 30) -> Simulator:
    site = SiteSpec("DEPOT", 3, import_limit_w=1e9, utc_offset_h=0.0, profile=profile)
    # DC EVSEs: V2G then depends only on the EV (AC would also need an on-board inverter).
    specs = [EvseSpec(f"E{k}", "CS", "DEPOT", "DC", 11_000, 11_000) for k in range(evses)]
    return Simulator(
        [site], specs, seed=11, clock=VirtualClock(START), options=SimOptions(evse_readings=False)
    )


def test_fleet_vehicles_arrive_in_the_evening_and_leave_on_schedule() -> None:
    profile = SiteProfile(
        arrivals_per_hour=daily_curve({17: 4.0, 18: 4.0}),
        dwell=DwellTime(mean_s=0, sd_s=0, min_s=3600, max_s=3600),
        ev_mix=((EV, 1.0),),
        arrival_soc_pct=(20.0, 40.0),
        target_soc_pct=90.0,
        v2g_capable_share=0.5,
        v2g_consent_share=1.0,
        limits=EvUserLimits(min_soc_at_departure_pct=80.0),
        fleet_departure_hours=(6.0, 6.5),
        home_parties=("FLEET-OP-1",),
    )
    sim = _depot(profile)
    sim.run_until(START + timedelta(days=1, hours=12), dt_s=60)
    events = sim.drain_events()
    arrivals = [e for e in events if e.kind == "EV_CONNECTED"]
    departures = [e for e in events if e.kind == "EV_DISCONNECTED"]
    assert 3 <= len(arrivals) <= 20  # ~8 expected
    assert {(e.at.day, e.at.hour) for e in arrivals} <= {(2, 17), (2, 18)}
    assert len(departures) == len(arrivals)
    assert {(e.at.hour, e.at.minute) for e in departures} <= {(6, 0), (6, 30)}
    for e in arrivals:
        assert 20.0 <= e.data["soc_pct"] <= 40.0  # type: ignore[operator]
    for e in departures:
        assert e.data["soc_pct"] >= 80.0 - 1e-6  # type: ignore[operator]
    assert sim.stats.arrivals == len(arrivals)


def test_consent_and_capability_shares() -> None:
    profile = SiteProfile(
        arrivals_per_hour=(20.0,) * 24,
        dwell=DwellTime(mean_s=600, sd_s=60, min_s=300, max_s=900),
        ev_mix=((EV, 1.0),),
        v2g_capable_share=0.5,
        v1g_consent_share=0.8,
        v2g_consent_share=0.5,
        home_parties=("A", "B"),
        visited_party="V",
    )
    sim = _depot(profile, evses=60)
    seen: dict[str, tuple[Consent, bool, str | None]] = {}
    for _ in range(24 * 6):
        sim.step(600)
        for s in sim.sessions():
            seen[s.session_key] = (s.consent, s.v2g_capable, s.home_party)
    assert len(seen) > 300
    capable = sum(c for _, c, _ in seen.values()) / len(seen)
    v2g = sum(consent.v2g for consent, _, _ in seen.values()) / len(seen)
    assert 0.4 < capable < 0.6
    assert 0.15 < v2g < 0.35  # capable x consenting
    assert all(consent.v2g <= capable for consent, capable, _ in seen.values())
    assert {home for _, _, home in seen.values()} == {"A", "B"}


def test_lost_arrivals_are_counted_when_the_site_is_full() -> None:
    profile = SiteProfile(
        arrivals_per_hour=(30.0,) * 24,
        dwell=DwellTime(mean_s=7200, sd_s=0, min_s=7200, max_s=7200),
        ev_mix=((EV, 1.0),),
    )
    sim = _depot(profile, evses=2)
    sim.run_until(START + timedelta(hours=2), dt_s=60)
    assert sim.stats.arrivals_lost > 0
    assert sim.stats.arrivals == sim.stats.arrivals_lost + 2
