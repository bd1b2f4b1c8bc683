"""EV sessions: connect, disconnect, change consent and limits, list.

Scenarios and tests need sessions they can name (`connect_ev` with a chosen SoC, departure and
limits), on top of the random arrivals of a site profile; the EV user's app (UC 3.6) needs consent
and limits to change at once, as one update, so that a withdrawal of V2G consent stops discharge
on the very next step. Sessions are keyed by an opaque key drawn from the seeded generator; the
server pseudonymises it before any FO sees it.

This module must not advance time.
"""

from __future__ import annotations

import heapq
import random
from datetime import datetime

from fcsbe.sim import views
from fcsbe.sim.arrivals import session_key as new_session_key
from fcsbe.sim.clock import to_us
from fcsbe.sim.evse_table import SessionRecord, v2g_capable
from fcsbe.sim.fleet import Consent, EvProfile, EvUserLimits
from fcsbe.sim.state import EvSession
from fcsbe.sim.stepping import SimCore

__all__ = ["SessionOps"]


class SessionOps(SimCore):
    """Session operations of the simulator (mixed into `Simulator`)."""

    def connect_ev(
        self,
        evse_id: str,
        ev: EvProfile,
        soc_pct: float,
        departure: datetime,
        limits: EvUserLimits | None = None,
        consent: Consent | None = None,
        *,
        target_soc_pct: float = 80.0,
        home_party: str | None = None,
        visited_party: str | None = None,
        fs_controller: str | None = None,
        session_key: str | None = None,
        id_token: str | None = None,
        vin: str | None = None,
        evcc_id: str | None = None,
    ) -> str:
        """Plug an EV in now, deterministically; returns its session key."""
        i = self._index_of(evse_id)
        if self.table.connected[i]:
            raise ValueError(f"EVSE {evse_id} is occupied")
        if not 0 <= soc_pct <= 100:
            raise ValueError("soc_pct must be within 0-100")
        key = session_key or _fresh_key(self._rng, self._by_key)
        if key in self._by_key:
            raise ValueError(f"session key {key} is in use")
        record = SessionRecord(
            key=key,
            serial=0,
            ev=ev,
            connected_at_us=self._t_us,
            departure_us=max(to_us(departure), self._t_us),
            limits=limits or EvUserLimits(),
            consent=consent or Consent(),
            target_soc_pct=max(target_soc_pct, soc_pct),
            v2g_capable=v2g_capable(self.table.specs[i], ev),
            e_import0_wh=0.0,
            e_export0_wh=0.0,
            home_party=home_party,
            visited_party=visited_party,
            fs_controller=fs_controller,
            id_token=id_token,
            vin=vin,
            evcc_id=evcc_id,
        )
        self._seat(i, record, soc_pct)
        return key

    def _seat(self, i: int, record: SessionRecord, soc_pct: float) -> None:
        self._serial += 1
        record.serial = self._serial
        self.table.connect(i, record, soc_pct, self._origin_us)
        self._by_key[record.key] = i
        heapq.heappush(self._departures, (record.departure_us, record.serial, i))
        self._emit("EV_CONNECTED", self.table.site_of[i], i, soc_pct=soc_pct)

    def disconnect(self, evse_id: str) -> EvSession | None:
        """Unplug the EV at an EVSE now; returns its final session snapshot (None if free)."""
        i = self._index_of(evse_id)
        if not self.table.connected[i]:
            return None
        return self._unseat(i)

    def _unseat(self, i: int) -> EvSession:
        site = self.table.site_of[i]
        final = views.session_view(self.table, i, self.sites.ids[site])
        self._emit(
            "EV_DISCONNECTED",
            site,
            i,
            soc_pct=final.soc_pct,
            energy_imported_wh=final.energy_imported_wh,
            energy_exported_wh=final.energy_exported_wh,
        )
        record = self.table.disconnect(i)
        if record is not None:
            self._by_key.pop(record.key, None)
        self._stats.departures += 1
        return final

    def update_session(
        self,
        session_key: str,
        *,
        consent: Consent | None = None,
        limits: EvUserLimits | None = None,
        departure: datetime | None = None,
        target_soc_pct: float | None = None,
    ) -> None:
        """Change consent, limits, departure or target at once; binds from the next step."""
        i = self._by_key.get(session_key)
        record = None if i is None else self.table.sessions[i]
        if i is None or record is None:
            raise KeyError(f"unknown session {session_key!r}")
        if departure is not None:
            record.departure_us = max(to_us(departure), self._t_us)
            self.table.departure_s[i] = (record.departure_us - self._origin_us) / 1e6
            heapq.heappush(self._departures, (record.departure_us, record.serial, i))
        target = record.target_soc_pct if target_soc_pct is None else target_soc_pct
        old_consent, old_limits = record.consent, record.limits
        self.table.set_user(i, limits or old_limits, consent or old_consent, target)
        site = self.table.site_of[i]
        if record.consent != old_consent:
            v1g, v2g = record.consent.v1g, record.consent.v2g
            self._emit("CONSENT_CHANGED", site, i, v1g=str(v1g).lower(), v2g=str(v2g).lower())
        if record.limits != old_limits:
            self._emit("LIMITS_CHANGED", site, i)

    def sessions(self, site_id: str | None = None) -> list[EvSession]:
        """Snapshots of the connected EVs' sessions (of one site, or all)."""
        table, ids = self.table, self.sites.ids
        if site_id is None:
            a, b = 0, table.n
        else:
            a, b = self.sites.ranges[self._site_of_id(site_id)]
        return [
            views.session_view(table, i, ids[table.site_of[i]])
            for i in range(a, b)
            if table.connected[i]
        ]

    def session(self, session_key: str) -> EvSession:
        """Snapshot of one session by key."""
        i = self._by_key.get(session_key)
        if i is None:
            raise KeyError(f"unknown session {session_key!r}")
        return views.session_view(self.table, i, self.sites.ids[self.table.site_of[i]])

    def _index_of(self, evse_id: str) -> int:
        try:
            return self._index[evse_id]
        except KeyError:
            raise KeyError(f"unknown EVSE {evse_id!r}") from None

    def _site_of_id(self, site_id: str) -> int:
        try:
            return self._site_index[site_id]
        except KeyError:
            raise KeyError(f"unknown site {site_id!r}") from None


def _fresh_key(rng: random.Random, taken: dict[str, int]) -> str:
    """A session key not in use (collisions are astronomically rare, but cheap to exclude)."""
    while True:
        key = new_session_key(rng)
        if key not in taken:
            return key
