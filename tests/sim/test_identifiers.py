"""Every arriving EV reports the raw identifiers a real station would: seeded, well-formed, and
a scenario's named EV users come back with their own identifier and car."""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime, timedelta

import pytest

from fcsbe.sim import (
    DwellTime,
    EvProfile,
    EvseSpec,
    EvSession,
    KnownEvUser,
    SimOptions,
    Simulator,
    SiteProfile,
    SiteSpec,
    VirtualClock,
)
from fcsbe.sim.catalogue import COMPACT_AC, SUV_BPT
from fcsbe.sim.identifiers import draw_identity, emaid, evcc_id, is_iso15118, rfid_uid, vin
from fcsbe.sim.scenarios import DEMO_EV_USERS, demo_fleet

START = datetime(2025, 6, 2, 0, 0, tzinfo=UTC)
EMAID = re.compile(r"[A-Z]{2}-[0-9A-Z]{3}-C[0-9A-Z]{8}-[0-9A-Z]")
USER = KnownEvUser("NL-FCS-C00000042-X", SUV_BPT, "LOT", vin="WVWZZZE1ZMP000042", arrival_share=0.5)


def _lot(seed: int, users: tuple[KnownEvUser, ...] = ()) -> Simulator:
    profile = SiteProfile(
        arrivals_per_hour=(6.0,) * 24,
        dwell=DwellTime(mean_s=1800, sd_s=300, min_s=600, max_s=3600),
        ev_mix=((COMPACT_AC, 1.0), (SUV_BPT, 1.0)),
    )
    site = SiteSpec("LOT", 3, import_limit_w=1e9, utc_offset_h=0.0, profile=profile)
    specs = [EvseSpec(f"E{k}", "CS", "LOT", "DC", 50_000, 25_000) for k in range(10)]
    return Simulator(
        [site],
        specs,
        seed=seed,
        clock=VirtualClock(START),
        options=SimOptions(evse_readings=False),
        ev_users=users,
    )


def _sessions(sim: Simulator, hours: int = 24) -> dict[str, EvSession]:
    seen: dict[str, EvSession] = {}
    for _ in range(hours * 6):
        sim.step(600)
        seen.update((s.session_key, s) for s in sim.sessions())
    return seen


def _ids(seen: dict[str, EvSession]) -> list[tuple[str, str | None, str | None, str | None]]:
    return sorted((k, s.id_token, s.vin, s.evcc_id) for k, s in seen.items())


def test_formats() -> None:
    rng = random.Random(1)
    assert EMAID.fullmatch(emaid(rng))
    assert re.fullmatch(r"04[0-9A-F]{12}", rfid_uid(rng))
    assert re.fullmatch(r"[0-9A-HJ-NPR-Z]{17}", vin(rng))
    assert re.fullmatch(r"[0-9A-F]{12}", evcc_id(rng))
    assert is_iso15118(SUV_BPT)
    assert not is_iso15118(COMPACT_AC)
    iso = draw_identity(rng, SUV_BPT)
    assert EMAID.fullmatch(iso.id_token)
    assert iso.vin is not None
    assert iso.evcc_id is not None
    plain = [draw_identity(rng, COMPACT_AC) for _ in range(200)]
    assert all(p.vin is None and p.evcc_id is None for p in plain)
    contracts = sum(1 for p in plain if EMAID.fullmatch(p.id_token))
    assert 80 <= contracts <= 160  # 60 % contract ids, the rest RFID cards


def test_every_arrival_reports_identifiers_and_iso15118_evs_their_own() -> None:
    seen = _sessions(_lot(3))
    assert len(seen) > 50
    assert all(s.id_token for s in seen.values())
    assert len({s.id_token for s in seen.values()}) == len(seen)
    for s in seen.values():
        assert (s.vin is not None) == is_iso15118(s.ev) == (s.evcc_id is not None)


def test_same_seed_same_identifiers_other_seed_others() -> None:
    assert _ids(_sessions(_lot(3))) == _ids(_sessions(_lot(3)))
    assert {i for _, i, _, _ in _ids(_sessions(_lot(3)))}.isdisjoint(
        i for _, i, _, _ in _ids(_sessions(_lot(4)))
    )


def test_identifiers_leave_the_arrivals_unchanged() -> None:
    """Named users swap the car and the ids of some arrivals, nothing about when they come."""
    plain, named = _sessions(_lot(5)), _sessions(_lot(5, (USER,)))
    assert [(k, s.connected_at, s.evse_id) for k, s in sorted(plain.items())] == [
        (k, s.connected_at, s.evse_id) for k, s in sorted(named.items())
    ]


def test_a_named_user_comes_back_in_their_car_never_twice_at_once() -> None:
    sim = _lot(5, (USER,))
    visits: set[str] = set()
    for _ in range(24 * 6):
        sim.step(600)
        mine = [s for s in sim.sessions() if s.id_token == USER.identifier]
        assert len(mine) <= 1
        for s in mine:
            assert (s.ev, s.vin) == (USER.ev, USER.vin)
            visits.add(s.session_key)
    assert len(visits) >= 3


def test_demo_fleet_names_its_ev_users_and_plugs_their_cars_in() -> None:
    fleet = demo_fleet()
    assert fleet.ev_users == DEMO_EV_USERS
    sim = Simulator.from_scenario(fleet)
    reported = {s.id_token: s for s in sim.sessions()}
    for user in DEMO_EV_USERS:
        assert EMAID.fullmatch(user.identifier)
        assert reported[user.identifier].site_id == user.site_id
        assert reported[user.identifier].vin == user.vin
    assert all(s.id_token for s in sim.sessions())


@pytest.mark.parametrize("share", [-0.1, 1.5])
def test_known_user_share_is_checked(share: float) -> None:
    with pytest.raises(ValueError, match="arrival_share"):
        KnownEvUser("NL-FCS-C00000001-1", COMPACT_AC, "LOT", arrival_share=share)


def test_connect_ev_reports_what_it_is_given() -> None:
    sim = _lot(1)
    ev = EvProfile(battery_capacity_wh=50_000, max_charge_w=11_000)
    key = sim.connect_ev("E0", ev, 50.0, START + timedelta(hours=1), id_token="04AABBCCDDEEFF")
    assert (sim.session(key).id_token, sim.session(key).vin) == ("04AABBCCDDEEFF", None)
