"""Moving simulated time forward: sub-steps, due events, evidence and meter readings.

`SimCore` holds the simulator's state (declared here, built by `Simulator.__init__`) and the step
machinery; `sessions.SessionOps` and `engine.Simulator` add the public operations on top. Kept
apart from the façade so the order of one step can be read in one place:

    at the sub-step start: frequency events, departures, arrivals, FFR phase changes
    over the sub-step:     droop/FFR desired powers, EVSE loop, site and node balance
    at the sub-step end:   clock, FFR evidence, meter readings, late readings due

This module must not sleep or read the wall clock.
"""

from __future__ import annotations

import heapq
import random
from datetime import datetime

from fcsbe.sim import local as localfns
from fcsbe.sim import views
from fcsbe.sim.arrivals import Arrival, ArrivalProcess
from fcsbe.sim.clock import Clock, VirtualClock, from_us, to_us
from fcsbe.sim.evse_table import EvseTable, SessionRecord, v2g_capable
from fcsbe.sim.fleet import StationSpec
from fcsbe.sim.local import LocalFunctions
from fcsbe.sim.meters import FfrSample, ReadingBuffer
from fcsbe.sim.signals import ALL_SITES, SignalSchedule
from fcsbe.sim.sites import SiteTable
from fcsbe.sim.state import EventKind, SimEvent, SimOptions, SimStats

__all__ = ["SimCore"]


class SimCore:
    """State of a simulation and the machinery that advances it (see the module docstring)."""

    options: SimOptions
    seed: int
    table: EvseTable
    sites: SiteTable
    stations: tuple[StationSpec, ...]
    _clock: Clock
    _index: dict[str, int]
    _site_index: dict[str, int]
    _local: dict[int, LocalFunctions]
    _rng: random.Random
    _origin_us: int
    _t_us: int
    _arrivals: list[ArrivalProcess | None]
    _arrival_heap: list[tuple[int, int]]
    _departures: list[tuple[int, int, int]]
    _by_key: dict[str, int]
    _serial: int
    _signals: SignalSchedule
    _buffer: ReadingBuffer
    _ffr_evidence: list[FfrSample]
    _events: list[SimEvent]
    _stats: SimStats

    # -- public time API -------------------------------------------------------------------------

    @property
    def now(self) -> datetime:
        """Simulated time (aware UTC); a `VirtualClock` is never behind it."""
        return from_us(self._t_us)

    @property
    def stats(self) -> SimStats:
        """Counters since the start (the reading counters are refreshed on each read)."""
        b, st = self._buffer, self._stats
        st.readings_generated, st.readings_dropped = b.generated, b.dropped
        st.readings_duplicated, st.readings_delayed = b.duplicated, b.delayed
        st.readings_overflowed = b.overflowed
        return st

    def step(self, dt_s: float) -> None:
        """Advance the physics by `dt_s` seconds (cut into sub-steps where the module says)."""
        if not dt_s > 0:
            raise ValueError("dt_s must be > 0")
        self._advance_to(self._t_us + max(1, round(dt_s * 1e6)))
        self._stats.steps += 1

    def run_until(self, when: datetime, dt_s: float = 1.0) -> None:
        """Fast-forward to `when` in steps of at most `dt_s` (the last one may be shorter)."""
        if not dt_s > 0:
            raise ValueError("dt_s must be > 0")
        end, dt_us = to_us(when), max(1, round(dt_s * 1e6))
        while self._t_us < end:
            self._advance_to(min(end, self._t_us + dt_us))
            self._stats.steps += 1

    # -- one sub-step ----------------------------------------------------------------------------

    def _advance_to(self, end_us: int) -> None:
        res_us = max(1, round(self.options.meter_resolution_s * 1e6))
        ffr_us = max(1, round(self.options.ffr_resolution_s * 1e6))
        while self._t_us < end_us:
            t = self._t_us
            self._start_of_substep(t)
            stop = min(end_us, (t // res_us + 1) * res_us)
            nxt = self._signals.next_at()
            if nxt is not None and t < nxt < stop:
                stop = nxt
            if self._local and localfns.any_pending(self._local):
                boundary = localfns.next_boundary_us(self._local, self.table, t, ffr_us)
                if boundary is not None and boundary < stop:
                    stop = boundary
            self._substep(t, stop, stop % res_us == 0)
        # Settle what is due at the new instant, so state read after a step reflects it
        # (an EV whose departure is now has left). Every part is idempotent for one instant.
        self._start_of_substep(self._t_us)

    def _substep(self, t: int, stop: int, reading_due: bool) -> None:
        dt_s = (stop - t) / 1e6
        table = self.table
        if self._local:
            sites = self.sites
            localfns.apply_local(
                self._local, table, sites.freq_hz, sites.volt_v, sites.nominal_v, stop, dt_s
            )
        table.integrate((stop - self._origin_us) / 1e6, dt_s)
        self.sites.balance(table, t, dt_s, self._local)
        self._t_us = stop
        if isinstance(self._clock, VirtualClock):
            self._clock.advance_to(stop)
        self._stats.substeps += 1
        if self._local:
            self._record_ffr(stop)
        if reading_due:
            at = from_us(stop)
            if self.options.evse_readings:
                self._buffer.offer(views.evse_readings(table, self.sites, at), stop)
            if self.options.site_readings:
                self._buffer.offer(views.site_readings(self.sites, at), stop)
        self._buffer.release_due(stop)

    def _start_of_substep(self, t: int) -> None:
        """Everything that happens at an instant: signals, departures, arrivals, FFR phases."""
        sites = self.sites
        for site, hz in self._signals.pop_due(t):
            targets = range(sites.m) if site == ALL_SITES else (site,)
            for s in targets:
                sites.freq_hz[s] = sites.nominal_hz[s] if hz is None else hz
        deps = self._departures
        while deps and deps[0][0] <= t:
            dep_us, serial, i = heapq.heappop(deps)
            record = self.table.sessions[i]
            if record is not None and record.serial == serial and record.departure_us == dep_us:
                self._unseat(i)
        heap = self._arrival_heap
        while heap and heap[0][0] <= t:  # one at a time: events stay in time order across sites
            _, s = heapq.heappop(heap)
            proc = self._arrivals[s]
            assert proc is not None
            self._arrive(s, proc.take())
            if proc.next_us is not None:
                heapq.heappush(heap, (proc.next_us, s))
        if self._local:
            triggered, ended = localfns.update_phases(
                self._local, self.table, sites.freq_hz, sites.nominal_hz, t
            )
            for i in triggered:
                self._on_ffr_trigger(i, t)
            for i, fn in self._local.items():  # a droop's event: its first sample, at once
                if fn.droop is not None and fn.droop_event_us == t and self.table.connected[i]:
                    self._sample(i, fn, t, "DROOP")
            for i in ended:
                self._emit("FFR_COMPLETED", self.table.site_of[i], i)

    def _arrive(self, s: int, arrival: Arrival) -> None:
        """Seat a random arrival on a free EVSE of its site, or count it as lost."""
        a, b = self.sites.ranges[s]
        connected = self.table.connected
        free = [i for i in range(a, b) if not connected[i]]
        self._stats.arrivals += 1
        if not free:
            self._stats.arrivals_lost += 1
            self._emit("ARRIVAL_LOST", s)
            return
        i = free[int(arrival.choice * len(free))]
        key = arrival.key if arrival.key not in self._by_key else f"{arrival.key}-{self._serial}"
        ev, id_token, vin, evcc_id = arrival.ev, arrival.id_token, arrival.vin, arrival.evcc_id
        user = arrival.user
        if user is not None and not self._plugged_in(user.identifier):
            ev, id_token, vin = user.ev, user.identifier, user.vin
            evcc_id = evcc_id if vin else None
        record = SessionRecord(
            key=key,
            serial=0,
            ev=ev,
            connected_at_us=self._t_us,
            departure_us=max(arrival.departure_us, self._t_us + 1),
            limits=arrival.limits,
            consent=arrival.consent,
            target_soc_pct=arrival.target_soc_pct,
            v2g_capable=v2g_capable(self.table.specs[i], ev),
            e_import0_wh=0.0,
            e_export0_wh=0.0,
            home_party=arrival.home_party,
            visited_party=arrival.visited_party,
            fs_controller=arrival.fs_controller,
            id_token=id_token,
            vin=vin,
            evcc_id=evcc_id,
        )
        self._seat(i, record, arrival.soc_pct)

    def _plugged_in(self, id_token: str) -> bool:
        """Is a session with this ID token connected now? (A known user's car is in one place;
        checked only for known users' arrivals, so the scan costs nothing in general.)"""
        return any(r is not None and r.id_token == id_token for r in self.table.sessions)

    # -- FFR evidence ----------------------------------------------------------------------------

    def _on_ffr_trigger(self, i: int, t: int) -> None:
        fn = self._local[i]
        self._stats.ffr_activations += 1
        f = self.sites.freq_hz[self.table.site_of[i]]
        self._emit("FFR_ACTIVATED", self.table.site_of[i], i, f_hz=f)
        if self.table.connected[i]:
            base = fn.ffr_baseline_w
            self._ffr_evidence.append(
                FfrSample(self.table.ids[i], from_us(t), f, base, base, 0.0, 0.0, "TRIGGERED")
            )

    def _record_ffr(self, t: int) -> None:
        """Evidence: a sample per EVSE on its grid (trigger or droop event + k x resolution)
        while an FFR is detecting, active, deactivating or settling, and while a droop
        responds to a frequency change: ordered change, delivered change, frequency."""
        table = self.table
        res_us = max(1, round(self.options.ffr_resolution_s * 1e6))
        for i, fn in self._local.items():
            fn.ffr_just_ended = False
            if not table.connected[i]:
                continue
            phase = localfns.sampling(fn, table, i, t)
            if phase is None or (t - localfns.evidence_origin(fn)) % res_us != 0:
                continue
            self._sample(i, fn, t, phase)

    def _sample(self, i: int, fn: LocalFunctions, t: int, phase: str) -> None:
        """One evidence sample of EVSE `i` now."""
        table = self.table
        p = table.p_w[i]
        f = self.sites.freq_hz[table.site_of[i]]
        if phase == "DROOP" and fn.droop is not None:
            droop = fn.droop
            p_ref = table.specs[i].max_charge_w if droop.p_ref_w is None else droop.p_ref_w
            base = fn.droop_base_w
            ordered = localfns.droop_delta_w(droop, f, p_ref)
            ordered = min(droop.p_max_w, max(droop.p_min_w, base + ordered)) - base
        else:
            base, ordered = fn.ffr_baseline_w, fn.ffr_delta_w
        self._ffr_evidence.append(
            FfrSample(table.ids[i], from_us(t), f, p, base, ordered, p - base, phase)  # type: ignore[arg-type]
        )

    # -- hooks the session layer provides --------------------------------------------------------

    def _emit(self, kind: EventKind, site: int, i: int | None = None, **data: object) -> None:
        """Record an event for the adapter (values other than numbers and strings are dropped)."""
        record = None if i is None else self.table.sessions[i]
        self._events.append(
            SimEvent(
                at=self.now,
                kind=kind,
                site_id=self.sites.ids[site],
                evse_id=None if i is None else self.table.ids[i],
                session_key=None if record is None else record.key,
                data={k: v for k, v in data.items() if isinstance(v, float | int | str | None)},
            )
        )

    # Hooks of the stepping loop, implemented by the sessions part of the engine
    # (`sim/sessions.py`); the core alone has no EV sessions to seat.
    def _seat(self, i: int, record: SessionRecord, soc_pct: float) -> None:
        """Plug the EV of `record` into EVSE row `i` at `soc_pct` (sessions part)."""
        raise NotImplementedError

    def _unseat(self, i: int) -> object:
        """Unplug the EV of EVSE row `i` and return its session (sessions part)."""
        raise NotImplementedError
