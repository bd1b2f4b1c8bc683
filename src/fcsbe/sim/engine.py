"""The simulator engine: a seeded, clock-driven fleet of sites, EVSEs and EVs, with no I/O.

`Simulator` is the one object the server's station adapter talks to. It is built from the same
static description the server's registry is loaded from (`ScenarioFleet`), holds flat per-EVSE
arrays (`evse_table`), the sites (`sites`), the local grid functions (`local`), seeded arrival
processes, a signal schedule and a meter buffer, and moves them forward in `step`s (the order of
one step is in `stepping.py`; sessions are in `sessions.py`).

With a `VirtualClock` the simulator moves the clock forward with its own time, so a server sharing
that clock sees the same instants. With any other clock, `run_until(clock.now())` (what
`RealTimeRunner` does) keeps the simulation on the wall clock.

This module must not import the server or the client, sleep, or read the wall clock itself.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Iterable, Sequence
from datetime import datetime

from fcsbe.sim import views
from fcsbe.sim.arrivals import ArrivalProcess
from fcsbe.sim.clock import Clock, VirtualClock, to_us
from fcsbe.sim.controls import (
    ClearControl,
    Control,
    DroopControl,
    FfrControl,
    LimitControl,
    SetpointControl,
)
from fcsbe.sim.evse_table import INF, EvseTable
from fcsbe.sim.fleet import (
    EvseSpec,
    GridState,
    KnownEvUser,
    ScenarioFleet,
    SiteSpec,
    StationSpec,
)
from fcsbe.sim.identifiers import draw_identity
from fcsbe.sim.local import ARMED, PHASES, LocalFunctions
from fcsbe.sim.meters import FfrSample, MeterReading, ReadingBuffer
from fcsbe.sim.sessions import SessionOps
from fcsbe.sim.signals import ALL_SITES, SignalSchedule
from fcsbe.sim.sites import SiteTable
from fcsbe.sim.state import (
    Aggregate,
    EvseState,
    Headroom,
    SimEvent,
    SimOptions,
    SimStats,
    SiteState,
)

__all__ = ["EVSE_STATUSES", "Simulator"]

EVSE_STATUSES = ("AVAILABLE", "UNAVAILABLE", "FAULTED")
"""Operational states of a simulated EVSE (`Simulator.set_evse_status`)."""


class Simulator(SessionOps):
    """A deterministic fleet simulator: same seed and same calls give the same readings."""

    def __init__(
        self,
        sites: Sequence[SiteSpec],
        evses: Sequence[EvseSpec],
        *,
        seed: int,
        clock: Clock,
        options: SimOptions | None = None,
        stations: Sequence[StationSpec] = (),
        ev_users: Sequence[KnownEvUser] = (),
    ) -> None:
        self.options = options or SimOptions()
        self.seed = seed
        self._clock = clock
        site_index = {s.site_id: k for k, s in enumerate(sites)}
        if len(site_index) != len(sites):
            raise ValueError("site ids must be unique")
        unknown = sorted({e.site_id for e in evses} - set(site_index))
        if unknown:
            raise ValueError(f"EVSEs refer to unknown sites: {unknown[:5]}")
        ordered = sorted(evses, key=lambda e: site_index[e.site_id])  # stable: keeps input order
        self._index = {e.evse_id: i for i, e in enumerate(ordered)}
        if len(self._index) != len(ordered):
            raise ValueError("EVSE ids must be unique")
        counts = [0] * len(sites)
        for e in ordered:
            counts[site_index[e.site_id]] += 1
        ranges, start = [], 0
        for count in counts:
            ranges.append((start, start + count))
            start += count
        self._site_index = site_index
        self.table = EvseTable(ordered, [site_index[e.site_id] for e in ordered])
        self.sites = SiteTable(list(sites), ranges, seed)
        self.stations = tuple(stations) or _stations_of(ordered)
        self._local: dict[int, LocalFunctions] = {}
        self._rng = random.Random(f"{seed}:simulator")  # noqa: S311 - simulation, not security
        self._origin_us = self._t_us = to_us(clock.now())
        self._arrivals = [
            ArrivalProcess(s, s.profile, seed, self._t_us, tuple(ev_users)) if s.profile else None
            for s in sites
        ]
        self._arrival_heap = [
            (p.next_us, k) for k, p in enumerate(self._arrivals) if p and p.next_us is not None
        ]
        heapq.heapify(self._arrival_heap)
        self._departures: list[tuple[int, int, int]] = []
        self._by_key: dict[str, int] = {}
        self._serial = 0
        events = self.options.frequency_events
        events_site = ALL_SITES
        if events is not None and events.site_id is not None:
            events_site = site_index[events.site_id]
        self._signals = SignalSchedule(events, events_site, self._t_us)
        self._buffer = ReadingBuffer(self.options.reading_buffer_limit, self.options.faults)
        self._ffr_evidence: list[FfrSample] = []
        self._events: list[SimEvent] = []
        self._status: dict[int, str] = {}
        self._stats = SimStats()

    @classmethod
    def from_scenario(
        cls,
        fleet: ScenarioFleet,
        *,
        seed: int | None = None,
        clock: Clock | None = None,
        options: SimOptions | None = None,
    ) -> Simulator:
        """Build from a scenario, with its initial EVs plugged in (clock defaults to its start)."""
        sim = cls(
            fleet.sites,
            fleet.evses,
            seed=fleet.seed if seed is None else seed,
            clock=clock or VirtualClock(fleet.start),
            options=options,
            stations=fleet.stations,
            ev_users=fleet.ev_users,
        )
        ids = random.Random(f"{sim.seed}:initial-ids")  # noqa: S311 - simulation, not security
        for s in fleet.initial_sessions:
            drawn = draw_identity(ids, s.ev)
            sim.connect_ev(
                s.evse_id,
                s.ev,
                s.soc_pct,
                s.departure,
                s.limits,
                s.consent,
                target_soc_pct=s.target_soc_pct,
                home_party=s.home_party,
                visited_party=s.visited_party,
                fs_controller=s.fs_controller,
                id_token=s.id_token or drawn.id_token,
                vin=s.vin if s.id_token else drawn.vin,
                evcc_id=drawn.evcc_id,
            )
        return sim

    # -- fleet -----------------------------------------------------------------------------------

    @property
    def evse_ids(self) -> tuple[str, ...]:
        """Every EVSE id, grouped by site."""
        return tuple(self.table.ids)

    @property
    def site_ids(self) -> tuple[str, ...]:
        """Every site id, in the order given."""
        return tuple(self.sites.ids)

    def evse_spec(self, evse_id: str) -> EvseSpec:
        """The static description of an EVSE."""
        return self.table.specs[self._index_of(evse_id)]

    def site_spec(self, site_id: str) -> SiteSpec:
        """The static description of a site."""
        return self.sites.specs[self._site_of_id(site_id)]

    def site_evse_ids(self, site_id: str) -> tuple[str, ...]:
        """The EVSEs of one site."""
        a, b = self.sites.ranges[self._site_of_id(site_id)]
        return tuple(self.table.ids[a:b])

    # -- controls --------------------------------------------------------------------------------

    def apply(self, evse_id: str, control: Control) -> None:
        """Put a control in force on one EVSE, replacing the one of the same kind."""
        self._apply_evse(self._index_of(evse_id), control)

    def apply_many(self, items: Iterable[tuple[str, Control]]) -> None:
        """Apply many EVSE controls at once; setpoints take a fast path (no bound recompute)."""
        index, fast = self._index, self.table.set_setpoint
        for evse_id, control in items:
            i = index.get(evse_id)
            if i is None:
                raise KeyError(f"unknown EVSE {evse_id!r}")
            if type(control) is SetpointControl:
                fast(i, control.p_w, control.q_var)
            else:
                self._apply_evse(i, control)

    def apply_setpoints(
        self,
        evses: Sequence[str] | views.EvseGroup,
        p_w: Sequence[float],
        q_var: Sequence[float | None] | None = None,
    ) -> None:
        """Setpoints as plain floats, one per EVSE: the fastest fan-out (no control objects).

        Same effect as `apply_many` with `SetpointControl(p, q)` for each pair.
        """
        group = evses if isinstance(evses, views.EvseGroup) else self.group(evses)
        if len(p_w) != len(group.indices) or (q_var is not None and len(q_var) != len(p_w)):
            raise ValueError("one setpoint per EVSE")
        fast = self.table.set_setpoint
        if q_var is None:
            for i, p in zip(group.indices, p_w, strict=True):
                fast(i, p)
        else:
            for i, p, q in zip(group.indices, p_w, q_var, strict=True):
                fast(i, p, q)

    def _apply_evse(self, i: int, control: Control) -> None:
        table = self.table
        if isinstance(control, SetpointControl):
            table.ctl_sp_w[i], table.ctl_q_var[i] = control.p_w, control.q_var
        elif isinstance(control, LimitControl):
            table.ctl_limit[i] = control
        elif isinstance(control, DroopControl):
            fn = self._local.setdefault(i, LocalFunctions())
            fn.droop, fn.droop_dp_w, fn.droop_event_us = control, 0.0, -1
            # It starts from the frequency seen now: a later change reaches it after latency.
            fn.seen_f_hz = fn.next_f_hz = self.sites.freq_hz[table.site_of[i]]
        elif isinstance(control, FfrControl):
            fn = self._local.setdefault(i, LocalFunctions())
            fn.ffr, fn.ffr_phase, fn.ffr_delta_w, fn.ffr_cmd = control, ARMED, 0.0, []
        elif isinstance(control, ClearControl):
            table.ctl_sp_w[i] = table.ctl_q_var[i] = None
            table.ctl_limit[i] = None
            self._local.pop(i, None)
        else:
            raise TypeError(f"not a control: {control!r}")
        table.refresh(i)

    def apply_site(self, site_id: str, control: Control) -> None:
        """Site-level control: a setpoint or limit acts on the point of connection; droop and FFR
        are armed on every EVSE of the site; clear removes site and EVSE controls alike."""
        s = self._site_of_id(site_id)
        sites = self.sites
        if isinstance(control, SetpointControl):
            sites.setpoint[s] = control
        elif isinstance(control, LimitControl):
            sites.soft_imp_w[s] = INF if control.max_import_w is None else control.max_import_w
            sites.soft_exp_w[s] = INF if control.max_export_w is None else control.max_export_w
        elif isinstance(control, DroopControl | FfrControl | ClearControl):
            if isinstance(control, ClearControl):
                sites.setpoint[s] = None
                sites.soft_imp_w[s] = sites.soft_exp_w[s] = INF
            for i in range(*sites.ranges[s]):
                self._apply_evse(i, control)
        else:
            raise TypeError(f"not a control: {control!r}")

    def apply_node(self, grid_node_id: str, control: LimitControl | ClearControl) -> None:
        """Congestion limit on a grid node (UC 2.7), on the sum of its sites' power."""
        if grid_node_id not in self.sites.node_sites:
            raise KeyError(f"unknown grid node {grid_node_id!r}")
        imp, exp = self.sites.node_imp_w, self.sites.node_exp_w
        imp.pop(grid_node_id, None)
        exp.pop(grid_node_id, None)
        if isinstance(control, LimitControl):
            if control.max_import_w is not None:
                imp[grid_node_id] = control.max_import_w
            if control.max_export_w is not None:
                exp[grid_node_id] = control.max_export_w
        elif not isinstance(control, ClearControl):
            raise TypeError("a grid node takes LimitControl or ClearControl")

    # -- signals ---------------------------------------------------------------------------------

    def _sites_or_all(self, site_id: str | None) -> Sequence[int]:
        return range(self.sites.m) if site_id is None else (self._site_of_id(site_id),)

    def set_frequency(self, site_id: str | None, f_hz: float) -> None:
        """Set the local frequency at one site, or everywhere (None); seen from the next step."""
        for s in self._sites_or_all(site_id):
            self.sites.freq_hz[s] = f_hz

    def set_voltage(self, site_id: str | None, u_v: float) -> None:
        """Set the local voltage at one site, or everywhere (None)."""
        for s in self._sites_or_all(site_id):
            self.sites.volt_v[s] = u_v

    def schedule_frequency_event(
        self, at: datetime, f_hz: float, duration_s: float | None, site_id: str | None = None
    ) -> None:
        """Frequency `f_hz` from `at` (exactly) for `duration_s` (None: until changed), then
        nominal again; None as site means every site (one synchronous area)."""
        site = ALL_SITES if site_id is None else self._site_of_id(site_id)
        duration = None if duration_s is None else round(duration_s * 1e6)
        self._signals.schedule(max(to_us(at), self._t_us), site, f_hz, duration)

    def set_irradiance(self, site_id: str, fraction: float | None) -> None:
        """Override PV output as a share of peak (a cloud); None returns to the clear-sky curve."""
        self.sites.irradiance[self._site_of_id(site_id)] = fraction

    def set_base_load(self, site_id: str, p_w: float | None) -> None:
        """Fix the non-EV load behind a site's connection (W, >= 0); None returns to its daily
        curve. The point-of-connection meter sees it from the next step."""
        if p_w is not None and not p_w >= 0:
            raise ValueError("p_w must be >= 0")
        self.sites.load_override[self._site_of_id(site_id)] = p_w

    def set_grid_state(self, site_id: str, state: GridState) -> None:
        """Island or reconnect a site (UC 1.6): off-grid, nothing crosses its connection."""
        if state not in ("ON_GRID", "OFF_GRID"):
            raise ValueError("state must be ON_GRID or OFF_GRID")
        s = self._site_of_id(site_id)
        if self.sites.grid_state[s] != state:
            self.sites.grid_state[s] = state
            self._emit("GRID_STATE_CHANGED", s, grid_state=state)

    def set_evse_status(self, evse_id: str, status: str) -> None:
        """Take an EVSE out of service (`UNAVAILABLE`, `FAULTED`) or back (`AVAILABLE`): out
        of service it exchanges no power, whatever is connected or commanded. Reported as an
        `EVSE_STATUS_CHANGED` event (OCPP `StatusNotification`)."""
        if status not in EVSE_STATUSES:
            raise ValueError(f"status must be one of {', '.join(EVSE_STATUSES)}")
        i = self._index_of(evse_id)
        if self.evse_status(evse_id) == status:
            return
        self._status[i] = status
        self.table.out_of_service[i] = status != "AVAILABLE"
        self.table.refresh(i)
        self._emit("EVSE_STATUS_CHANGED", self.table.site_of[i], i, status=status)

    def out_of_service(self) -> frozenset[str]:
        """The EVSEs not `AVAILABLE` now."""
        ids = self.table.ids
        return frozenset(ids[i] for i, status in self._status.items() if status != "AVAILABLE")

    def evse_status(self, evse_id: str) -> str:
        """`AVAILABLE`, `UNAVAILABLE` or `FAULTED` (connected EVs do not change it)."""
        return self._status.get(self._index_of(evse_id), "AVAILABLE")

    def raise_der_alarm(
        self,
        site_id: str,
        code: str,
        *,
        evse_id: str | None = None,
        severity: str = "WARNING",
        detail: str | None = None,
        ended: bool = False,
    ) -> None:
        """Report a DER alarm at a site or one of its EVSEs (OCPP 2.1 `NotifyDERAlarm`, e.g.
        `code="OverVoltage"`), or its end; a `DER_ALARM` event, nothing else changes."""
        s = self._site_of_id(site_id)
        i = None if evse_id is None else self._index_of(evse_id)
        if i is not None and self.table.site_of[i] != s:
            raise ValueError(f"EVSE {evse_id!r} is not at site {site_id!r}")
        self._emit(
            "DER_ALARM",
            s,
            i,
            code=code,
            severity=severity,
            detail=detail,
            alarm_ended="true" if ended else "false",
        )

    def report_capability_change(self, evse_id: str, detail: str | None = None) -> None:
        """Report that what an EVSE can do changed at the station (a derating, V2G switched
        off): a `CAPABILITY_CHANGED` event; the simulated physics stay as they are."""
        i = self._index_of(evse_id)
        self._emit("CAPABILITY_CHANGED", self.table.site_of[i], i, detail=detail)

    # -- read ------------------------------------------------------------------------------------

    def evse_state(self, evse_id: str) -> EvseState:
        """Snapshot of one EVSE: power, EV SoC, controls in force."""
        i = self._index_of(evse_id)
        site_id = self.sites.ids[self.table.site_of[i]]
        return views.evse_state(self.table, i, self._local.get(i), site_id)

    def site_state(self, site_id: str) -> SiteState:
        """Snapshot of one site at its point of connection (EVSEs, base load, PV, storage)."""
        return views.site_state(self.sites, self._site_of_id(site_id), self.table)

    def headroom(self, evse_id: str, horizon_s: float | None = None) -> Headroom:
        """Power range the EVSE can hold now (physics, consent, EV-user limits; not controls)."""
        horizon = horizon_s or self.options.headroom_horizon_s
        t_s = (self._t_us - self._origin_us) / 1e6
        return views.headroom(self.table, self._index_of(evse_id), t_s, horizon)

    def site_headroom(self, site_id: str, horizon_s: float | None = None) -> Headroom:
        """Range of a site's point-of-connection power (EVSEs, storage, PV, load, limits)."""
        horizon = horizon_s or self.options.headroom_horizon_s
        t_s = (self._t_us - self._origin_us) / 1e6
        return views.site_headroom(self.sites, self._site_of_id(site_id), self.table, t_s, horizon)

    def group(self, evse_ids: Sequence[str]) -> views.EvseGroup:
        """Resolve EVSE ids once, for repeated `aggregate` calls on the same set."""
        return views.EvseGroup(evse_ids, [self._index_of(e) for e in evse_ids])

    def aggregate(
        self, evses: Sequence[str] | views.EvseGroup, *, with_headroom: bool = True
    ) -> Aggregate:
        """Sum of power (and headroom) over EVSEs; pass a `group` to skip the id lookups."""
        group = evses if isinstance(evses, views.EvseGroup) else self.group(evses)
        t_s = (self._t_us - self._origin_us) / 1e6
        horizon = self.options.headroom_horizon_s
        return views.aggregate(self.table, group.indices, t_s, horizon, with_headroom)

    def ffr_phase(self, evse_id: str) -> str | None:
        """ARMED, DETECTING, ACTIVE, DEACTIVATING or REARM for an EVSE with FFR armed."""
        fn = self._local.get(self._index_of(evse_id))
        if fn is None or fn.ffr is None:
            return None
        return PHASES[fn.ffr_phase]

    def drain_readings(self) -> list[MeterReading]:
        """Meter readings delivered since the last drain (with faults, if configured)."""
        return self._buffer.drain()

    def drain_ffr_evidence(self) -> list[FfrSample]:
        """High-resolution FFR samples recorded since the last drain."""
        out, self._ffr_evidence = self._ffr_evidence, []
        return out

    def drain_events(self) -> list[SimEvent]:
        """Session, consent, grid-state and FFR events since the last drain."""
        out, self._events = self._events, []
        return out

    @property
    def pending_late_readings(self) -> int:
        """Readings held back by the late fault, not yet delivered."""
        return self._buffer.pending_late


def _stations_of(evses: Sequence[EvseSpec]) -> tuple[StationSpec, ...]:
    """Stations implied by the EVSEs' cs_ids, when the caller gave none."""
    seen: dict[str, StationSpec] = {}
    for e in evses:
        seen.setdefault(e.cs_id, StationSpec(cs_id=e.cs_id, site_id=e.site_id))
    return tuple(seen.values())
