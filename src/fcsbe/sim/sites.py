"""Per-site state and the balance at each point of connection: PV, storage, limits, off-grid.

After the EVSE loop has chosen every EVSE's power, each site is balanced, in this order:
1. a site-level setpoint (UC 1.5: the EVSS serves the FS as a whole) is split over its managed
   EVSEs, each within the bounds the EVSE loop computed (so EV-user limits still hold);
2. stationary storage absorbs PV surplus, shaves imports above the limit, or (with a site
   setpoint) covers what the EVSEs could not; off-grid it balances everything it can;
3. import above the limit is cut from EVSE charging: first managed EVSEs down to what their
   users need (enough for congestion limits), then, only for the physical connection limit,
   every EVSE down to its user's need, then down to zero;
4. export above the limit is cut from V2G discharge, then PV is curtailed.
An off-grid site has both limits at zero (UC 1.6). Grid-node limits (UC 2.7) then cut managed
charging across the node's sites.

The non-EV load and the PV behind the connection come from `loads` (a seeded daily curve per
site, clear-sky PV), unless a test or the operator fixes them (`load_override`, `irradiance`).
The point-of-connection power `net_w` (EVSEs + load - PV + storage) is what the site's meter
reads and what `SiteState.p_w` reports.

This module must not read clocks or draw random numbers; time arrives as arguments.
"""

from __future__ import annotations

from collections.abc import Container

from fcsbe.sim.controls import SetpointControl
from fcsbe.sim.evse_table import INF, EvseTable
from fcsbe.sim.fleet import SiteSpec
from fcsbe.sim.loads import LOAD_SHAPES, QUARTERS, LoadProfile, pv_fraction

__all__ = ["BASE_LOAD_SHAPE", "SiteTable", "pv_fraction"]

BASE_LOAD_SHAPE = LOAD_SHAPES["HOUSEHOLD"]
"""Residential load per local hour, as a share of the site's peak (typical evening peak)."""


class SiteTable:
    """State of every site, in parallel lists indexed like `specs`."""

    def __init__(
        self, specs: list[SiteSpec], ranges: list[tuple[int, int]], seed: int | str = 0
    ) -> None:
        m = len(specs)
        self.m = m
        self.specs = specs
        self.ids = [s.site_id for s in specs]
        self.ranges = ranges
        self.freq_hz = [s.nominal_frequency_hz for s in specs]
        self.nominal_hz = [s.nominal_frequency_hz for s in specs]
        self.volt_v = [s.nominal_voltage_v for s in specs]
        self.nominal_v = [s.nominal_voltage_v for s in specs]
        self.grid_state = [s.grid_state for s in specs]
        self.soft_imp_w = [INF] * m
        self.soft_exp_w = [INF] * m
        self.setpoint: list[SetpointControl | None] = [None] * m
        self.irradiance: list[float | None] = [None] * m
        self.load_override: list[float | None] = [None] * m
        self.load_quarters = [
            LoadProfile(s.load_kind, s.base_load_peak_w, seed, s.site_id).quarters
            if s.base_load_peak_w > 0
            else None
            for s in specs
        ]
        self._load_now = [0.0] * m
        self._load_key = -1
        self.storage_wh = [
            s.storage.capacity_wh * s.storage.initial_soc_pct / 100.0 if s.storage else 0.0
            for s in specs
        ]
        zeros = [0.0] * m
        self.evse_w, self.net_w, self.pv_w, self.curtailed_w = (zeros.copy() for _ in range(4))
        self.storage_w, self.load_w, self.unserved_w = (zeros.copy() for _ in range(3))
        self.e_import_wh, self.e_export_wh = zeros.copy(), zeros.copy()
        self.st_import_wh, self.st_export_wh, self.pv_wh = (zeros.copy() for _ in range(3))
        node_ids = sorted({s.grid_node_id for s in specs if s.grid_node_id is not None})
        self.node_sites: dict[str, list[int]] = {n: [] for n in node_ids}
        for index, spec in enumerate(specs):
            if spec.grid_node_id is not None:
                self.node_sites[spec.grid_node_id].append(index)
        self.node_imp_w: dict[str, float] = {}
        self.node_exp_w: dict[str, float] = {}

    def limits_w(self, s: int) -> tuple[float, float, float, float]:
        """(effective import, effective export, hard import, hard export) limits of site `s`."""
        if self.grid_state[s] == "OFF_GRID":
            return 0.0, 0.0, 0.0, 0.0
        spec = self.specs[s]
        hard_imp, hard_exp = spec.import_limit_w, spec.export_limit_w
        return (
            min(hard_imp, self.soft_imp_w[s]),
            min(hard_exp, self.soft_exp_w[s]),
            hard_imp,
            hard_exp,
        )

    def storage_soc_pct(self, s: int) -> float | None:
        """Storage SoC of site `s`, None without storage."""
        storage = self.specs[s].storage
        if storage is None or storage.capacity_wh <= 0:
            return None
        return 100.0 * self.storage_wh[s] / storage.capacity_wh

    def balance(self, table: EvseTable, t_us: int, dt_s: float, local: Container[int]) -> None:
        """Balance every site for the step just integrated, then the grid nodes; book meters."""
        hours = t_us / 3.6e9
        p = table.p_w
        if t_us // 900_000_000 != self._load_key:
            self._load_key = t_us // 900_000_000
            self._refresh_loads(hours)
        # Thousands of sites per step: the lists are read once, not per site.
        specs, ranges, setpoints = self.specs, self.ranges, self.setpoint
        irradiance, load_override, load_now = self.irradiance, self.load_override, self._load_now
        evse_w, pv_w, load_w, net_w = self.evse_w, self.pv_w, self.load_w, self.net_w
        for s in range(self.m):
            spec = specs[s]
            a, b = ranges[s]
            ev = sum(p[a:b])
            hour = (hours + spec.utc_offset_h) % 24.0
            pv = 0.0
            if spec.pv_peak_w:
                override = irradiance[s]
                pv = spec.pv_peak_w * (pv_fraction(hour) if override is None else override)
            load = load_override[s]
            if load is None:
                load = load_now[s]
            imp, exp, hard_imp, _ = self.limits_w(s)
            setpoint = setpoints[s]
            if setpoint is None and spec.storage is None and -exp <= ev + load - pv <= imp:
                evse_w[s], pv_w[s], load_w[s] = ev, pv, load
                net_w[s] = ev + load - pv
                self.storage_w[s] = self.curtailed_w[s] = self.unserved_w[s] = 0.0
                continue
            if setpoint is not None:
                ev = self._split(table, a, b, setpoint.p_w - load + pv, dt_s, local)
            st = self._storage(s, ev + load - pv, setpoint, imp, dt_s)
            net = ev + load - pv + st
            unserved = curtailed = 0.0
            if net > imp:
                net -= shave_import(table, a, b, net - imp, dt_s, managed_only=True, keep_need=True)
                if net > hard_imp:
                    net -= shave_import(table, a, b, net - hard_imp, dt_s, False, keep_need=True)
                if net > hard_imp:
                    net -= shave_import(table, a, b, net - hard_imp, dt_s, False, keep_need=False)
                if net > hard_imp:
                    unserved, net = net - hard_imp, hard_imp
            if net < -exp:
                net += shave_export(table, a, b, -exp - net, dt_s)
                if net < -exp:
                    curtailed = min(pv, -exp - net)
                    net += curtailed
            # Recomputed from its parts rather than carried, so the balance holds exactly.
            ev = self.evse_w[s] = sum(p[a:b])
            self.pv_w[s], self.load_w[s], self.storage_w[s] = pv - curtailed, load, st
            self.net_w[s] = ev + load - (pv - curtailed) + st - unserved
            self.curtailed_w[s], self.unserved_w[s] = curtailed, unserved
        self._balance_nodes(table, dt_s)
        self._book(dt_s)

    def _refresh_loads(self, hours: float) -> None:
        """Every site's load for the quarter hour (of UTC) that starts: the curves move in
        quarter-hour steps, so the step loop only reads a list."""
        for s, quarters in enumerate(self.load_quarters):
            if quarters is not None:
                hour = (hours + self.specs[s].utc_offset_h) % 24.0
                self._load_now[s] = quarters[int(hour * 4.0) % QUARTERS]

    def _split(
        self, table: EvseTable, a: int, b: int, target_w: float, dt_s: float, local: Container[int]
    ) -> float:
        """Spread a site target over managed EVSEs at one common position within their bounds."""
        p, lo, hi, managed, connected = (
            table.p_w,
            table.lo_w,
            table.hi_w,
            table.managed,
            table.connected,
        )
        fixed = lo_sum = hi_sum = 0.0
        flexible: list[int] = []
        for i in range(a, b):
            if not connected[i]:
                continue
            if managed[i] and i not in local:
                flexible.append(i)
                lo_sum += lo[i]
                hi_sum += hi[i]
            else:
                fixed += p[i]
        span = hi_sum - lo_sum
        alpha = 0.0 if span <= 0 else min(1.0, max(0.0, (target_w - fixed - lo_sum) / span))
        for i in flexible:
            table.repower(i, lo[i] + alpha * (hi[i] - lo[i]), dt_s)
        return fixed + sum(p[i] for i in flexible)

    def _storage(
        self, s: int, net_w: float, setpoint: SetpointControl | None, imp_w: float, dt_s: float
    ) -> float:
        """Storage power (positive = charging) for the step, within its rating and SoC."""
        spec = self.specs[s].storage
        if spec is None:
            return 0.0
        if setpoint is not None:
            want = setpoint.p_w - net_w
        elif net_w < 0.0:
            want = -net_w
        elif net_w > imp_w:  # off-grid the limit is 0: storage then carries the whole deficit
            want = imp_w - net_w
        else:
            want = 0.0
        k = 3600.0 / dt_s
        soc = self.storage_wh[s]
        charge = min(spec.max_charge_w, max(0.0, (spec.capacity_wh - soc) * k))
        floor = spec.capacity_wh * spec.min_soc_pct / 100.0
        discharge = min(spec.max_discharge_w, max(0.0, (soc - floor) * k))
        return min(charge, max(-discharge, want))

    def _balance_nodes(self, table: EvseTable, dt_s: float) -> None:
        """Grid-node (congestion point) limits: cut managed charging or V2G across its sites."""
        for node, limit in self.node_imp_w.items():
            sites = self.node_sites.get(node, [])
            excess = sum(self.net_w[s] for s in sites) - limit
            for s in sites:
                if excess <= 0:
                    break
                a, b = self.ranges[s]
                cut = shave_import(table, a, b, excess, dt_s, managed_only=True, keep_need=True)
                self.net_w[s] -= cut
                self.evse_w[s] -= cut
                excess -= cut
        for node, limit in self.node_exp_w.items():
            sites = self.node_sites.get(node, [])
            excess = -limit - sum(self.net_w[s] for s in sites)
            for s in sites:
                if excess <= 0:
                    break
                a, b = self.ranges[s]
                cut = shave_export(table, a, b, excess, dt_s)
                self.net_w[s] += cut
                self.evse_w[s] += cut
                excess -= cut

    def _book(self, dt_s: float) -> None:
        """Integrate point-of-connection, storage and PV meters for the step."""
        dt_h = dt_s / 3600.0
        for s in range(self.m):
            net = self.net_w[s]
            if net > 0.0:
                self.e_import_wh[s] += net * dt_h
            elif net < 0.0:
                self.e_export_wh[s] -= net * dt_h
            st = self.storage_w[s]
            if st:
                self.storage_wh[s] += st * dt_h
                if st > 0.0:
                    self.st_import_wh[s] += st * dt_h
                else:
                    self.st_export_wh[s] -= st * dt_h
            self.pv_wh[s] += self.pv_w[s] * dt_h


def shave_import(
    table: EvseTable,
    a: int,
    b: int,
    excess_w: float,
    dt_s: float,
    managed_only: bool,
    keep_need: bool,
) -> float:
    """Cut EVSE charging in [a, b) proportionally to what each can give; return the cut (W).

    Most sites of a large fleet sit at their import limit, so this runs for thousands of sites
    per step: two tight passes, the re-integration inlined (see `EvseTable.repower`).
    """
    p, lo, managed = table.p_w, table.lo_w, table.managed
    total = 0.0
    for i in range(a, b):
        pi = p[i]
        if pi > 0.0 and (managed[i] or not managed_only):
            floor = lo[i] if keep_need and lo[i] > 0.0 else 0.0
            if pi > floor:
                total += pi - floor
    if total <= 0.0:
        return 0.0
    share = min(1.0, excess_w / total)
    dt_h = dt_s / 3600.0
    soc, e_imp = table.soc_wh, table.e_import_wh
    for i in range(a, b):
        pi = p[i]
        if pi > 0.0 and (managed[i] or not managed_only):
            floor = lo[i] if keep_need and lo[i] > 0.0 else 0.0
            if pi > floor:
                cut_wh = share * (pi - floor) * dt_h
                soc[i] -= cut_wh * table.eta[i]
                e_imp[i] -= cut_wh
                p[i] = pi - share * (pi - floor)
    return share * total


def shave_export(table: EvseTable, a: int, b: int, excess_w: float, dt_s: float) -> float:
    """Cut V2G discharge in [a, b) proportionally; return how much export was removed (W)."""
    p = table.p_w
    total = -sum(x for x in p[a:b] if x < 0.0)
    if total <= 0.0:
        return 0.0
    share = min(1.0, excess_w / total)
    for i in range(a, b):
        if p[i] < 0.0:
            table.repower(i, p[i] * (1.0 - share), dt_s)
    return share * total
