"""Random EV arrivals at a site: when they come, what EV, what it needs, what its user allows.

Arrivals are a Poisson process whose rate follows the site profile's hour-of-day curve, drawn by
thinning (candidates at the peak rate, kept with probability rate(hour) / peak). Each site has its
own generator seeded from (seed, site_id), so a site's arrivals do not depend on the step size,
on the other sites, or on what the server did: a scenario replays identically when only the
controls change, which is what a before/after comparison needs.

This module must not touch EVSE state; the engine seats the arrivals it returns.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace

from fcsbe.sim.fleet import Consent, EvProfile, EvUserLimits, KnownEvUser, SiteProfile, SiteSpec
from fcsbe.sim.identifiers import draw_identity

__all__ = ["Arrival", "ArrivalProcess", "local_hour", "session_key"]

_US_PER_H = 3_600_000_000


def local_hour(t_us: int, utc_offset_h: float) -> float:
    """Hour of day (0-24, fractional) at a site, for its daily profiles."""
    return (t_us / _US_PER_H + utc_offset_h) % 24.0


def session_key(rng: random.Random) -> str:
    """An opaque, random-looking session id; the server pseudonymises it before the FO sees it."""
    return f"sim-{rng.getrandbits(64):016x}"


@dataclass(frozen=True, slots=True)
class Arrival:
    """One EV arriving: everything needed to open its session."""

    at_us: int
    key: str
    ev: EvProfile
    soc_pct: float
    target_soc_pct: float
    departure_us: int
    consent: Consent
    limits: EvUserLimits
    home_party: str | None
    visited_party: str | None
    fs_controller: str | None
    choice: float
    """Uniform draw in [0, 1) used to pick one of the free EVSEs."""
    id_token: str | None = None
    vin: str | None = None
    evcc_id: str | None = None
    user: KnownEvUser | None = None
    """A known EV user whose car this arrival is, if it is not plugged in already (the engine
    checks; otherwise the drawn identifiers stand)."""


class ArrivalProcess:
    """The arrival stream of one site."""

    __slots__ = ("_ids", "_offset_h", "_peak_per_h", "_users", "next_us", "profile", "rng")

    def __init__(
        self,
        site: SiteSpec,
        profile: SiteProfile,
        seed: int,
        start_us: int,
        users: tuple[KnownEvUser, ...] = (),
    ) -> None:
        self.profile = profile
        self.rng = random.Random(f"{seed}:{site.site_id}")  # noqa: S311 - simulation, not security
        # Identifiers come from a stream of their own: adding them left the arrivals unchanged.
        self._ids = random.Random(f"{seed}:{site.site_id}:ids")  # noqa: S311 - not security
        self._users = tuple(u for u in users if u.site_id == site.site_id)
        self._offset_h = site.utc_offset_h
        self._peak_per_h = max(profile.arrivals_per_hour)
        self.next_us: int | None = self._after(start_us)

    def _after(self, t_us: int) -> int | None:
        """The first accepted arrival strictly after `t_us` (None if the rate is always zero)."""
        if self._peak_per_h <= 0:
            return None
        rates = self.profile.arrivals_per_hour
        rng = self.rng
        while True:
            t_us += max(1, round(rng.expovariate(self._peak_per_h) * _US_PER_H))
            hour = int(local_hour(t_us, self._offset_h))
            if rng.random() * self._peak_per_h < rates[hour]:
                return t_us

    def take(self) -> Arrival:
        """The next arrival (at `next_us`, which must not be None); draws the one after it."""
        at_us = self.next_us
        if at_us is None:
            raise LookupError("no further arrivals at this site")
        arrival = self._draw(at_us)
        self.next_us = self._after(at_us)
        return arrival

    def _draw(self, at_us: int) -> Arrival:
        p, rng = self.profile, self.rng
        models = [model for model, _ in p.ev_mix]
        weights = [weight for _, weight in p.ev_mix]
        ev = rng.choices(models, weights)[0]
        capable = (ev.max_discharge_w > 0) and rng.random() < p.v2g_capable_share
        if not capable and (ev.max_discharge_w > 0 or ev.onboard_bidirectional):
            ev = replace(ev, max_discharge_w=0.0, onboard_bidirectional=False)
        v1g = rng.random() < p.v1g_consent_share
        v2g = capable and rng.random() < p.v2g_consent_share
        low, high = p.arrival_soc_pct
        soc = rng.uniform(low, high)
        home = rng.choice(p.home_parties) if p.home_parties else None
        identity = draw_identity(self._ids, ev)
        user = None
        for known in self._users:
            if self._ids.random() < known.arrival_share:
                user = known
                break
        return Arrival(
            at_us=at_us,
            key=session_key(rng),
            ev=ev,
            soc_pct=soc,
            target_soc_pct=max(p.target_soc_pct, soc),
            departure_us=self._departure(at_us),
            consent=Consent(v1g=v1g or v2g, v2g=v2g),
            limits=p.limits,
            home_party=home,
            visited_party=p.visited_party,
            fs_controller=p.fs_controller,
            choice=rng.random(),
            id_token=identity.id_token,
            vin=identity.vin,
            evcc_id=identity.evcc_id,
            user=user,
        )

    def _departure(self, at_us: int) -> int:
        """Departure: the next fleet slot after the minimum dwell, or a drawn dwell time."""
        dwell = self.profile.dwell
        if self.profile.fleet_departure_hours:
            earliest = at_us + round(dwell.min_s * 1e6)
            hour_now = local_hour(earliest, self._offset_h)
            waits = [(h - hour_now) % 24.0 for h in self.profile.fleet_departure_hours]
            return earliest + round(min(waits) * _US_PER_H)
        drawn = self.rng.gauss(dwell.mean_s, dwell.sd_s) if dwell.sd_s > 0 else dwell.mean_s
        seconds = min(dwell.max_s, max(dwell.min_s, drawn))
        return at_us + round(seconds * 1e6)
