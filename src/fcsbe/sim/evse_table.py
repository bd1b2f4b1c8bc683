"""Flat per-EVSE state and the per-step loop: the hot path of the simulator.

One list per quantity, indexed by the EVSE's position (EVSEs are stored grouped by site so a site
is a contiguous slice), because a step of 100,000 EVSEs must take well under a second in pure
Python: no per-EVSE objects, dict lookups or allocations inside the loop. Everything that changes
only when something happens (an EV connects, consent changes, a control arrives) is folded into
per-EVSE bounds by `refresh`, so the loop only does what depends on the SoC and the time.

The order of precedence is the safety argument of the simulator, from weakest to strongest:
the control in force (setpoint, limit) < consent and V2G capability < the EV user's limits
(SoC floor, energy to grid, minimum SoC at departure) < physics (EVSE and EV ratings, a full
battery). Site connection limits are applied afterwards by `sites.py`.

This module must not read clocks, draw random numbers or know about sites' DERs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import compress
from typing import Final

from fcsbe.sim.controls import LimitControl, SetpointControl
from fcsbe.sim.fleet import Consent, EvProfile, EvseSpec, EvUserLimits

__all__ = ["CV_END_SHARE", "INF", "EvseTable", "SessionRecord", "taper_share"]

INF: Final = float("inf")
CV_END_SHARE: Final = 0.05
"""Share of the maximum charge power left at 100 % SoC at the end of the CC/CV taper."""
SNAP_W: Final = 1.0
"""A first-order response closer than this to its target has reached it (no endless tail)."""


def taper_share(soc_wh: float, full_wh: float, cv_wh: float) -> float:
    """Share of the maximum charge power the battery accepts at `soc_wh` (CC/CV): 1 below the
    knee `cv_wh`, then linear down to `CV_END_SHARE` at full."""
    if soc_wh <= cv_wh or full_wh <= cv_wh:
        return 1.0
    share = (full_wh - soc_wh) / (full_wh - cv_wh)
    return share if share > CV_END_SHARE else CV_END_SHARE


@dataclass(slots=True)
class SessionRecord:
    """What the simulator remembers about one EV session (mutable: consent and limits change)."""

    key: str
    serial: int
    ev: EvProfile
    connected_at_us: int
    departure_us: int
    limits: EvUserLimits
    consent: Consent
    target_soc_pct: float
    v2g_capable: bool
    e_import0_wh: float
    e_export0_wh: float
    home_party: str | None = None
    visited_party: str | None = None
    fs_controller: str | None = None
    id_token: str | None = None
    """The ID token the station authorised with (contract id / eMAID or RFID UID), if any."""
    vin: str | None = None
    """The EV's VIN, if it told the station (ISO 15118-20)."""
    evcc_id: str | None = None
    """The EV communication controller id (ISO 15118), if the EV talks ISO 15118."""


def v2g_capable(spec: EvseSpec, ev: EvProfile) -> bool:
    """Can this EV discharge on this EVSE? DC: the EVSE's converter; AC: the EV's inverter."""
    if spec.max_discharge_w <= 0 or ev.max_discharge_w <= 0:
        return False
    return spec.current_type == "DC" or ev.onboard_bidirectional


class EvseTable:
    """Per-EVSE state in parallel lists; see the module docstring for why."""

    def __init__(self, specs: list[EvseSpec], site_of: list[int]) -> None:
        n = len(specs)
        self.n = n
        self.specs = specs
        self.ids = [s.evse_id for s in specs]
        self.site_of = site_of
        self.min_charge_w = [s.min_charge_w for s in specs]
        self.max_q_var = [s.max_reactive_var for s in specs]
        self.sessions: list[SessionRecord | None] = [None] * n
        # Setpoints are kept as floats (None = no setpoint), not as control objects: the server
        # fans out 100,000 of them every few seconds and should not have to build objects.
        self.ctl_sp_w: list[float | None] = [None] * n
        self.ctl_q_var: list[float | None] = [None] * n
        self.ctl_limit: list[LimitControl | None] = [None] * n
        # An EVSE out of service (unavailable or faulted) exchanges no power, EV or not.
        self.out_of_service = [False] * n
        zeros = [0.0] * n
        self.connected = [False] * n
        self.managed = [False] * n
        self.soc_wh = zeros.copy()
        self.full_wh = [1.0] * n
        self.target_wh = zeros.copy()
        self.floor_wh = zeros.copy()
        self.min_dep_wh = zeros.copy()
        self.departure_s = zeros.copy()
        self.grid_cap_wh = [INF] * n
        self.phys_max_w = zeros.copy()
        self.dis_floor_w = zeros.copy()
        self.cap_w = [INF] * n
        self.lo_static_w = zeros.copy()
        self.mode = [0] * n
        self.sp_w = zeros.copy()
        self.p_w = zeros.copy()
        self.q_var = zeros.copy()
        self.lo_w = zeros.copy()
        self.hi_w = zeros.copy()
        self.e_import_wh = zeros.copy()
        self.e_export_wh = zeros.copy()
        # Dynamics: first-order time constant (from the 90 % rise time), ramp limit, one-way
        # efficiency grid <-> battery, and the CC/CV knee of the EV plugged in.
        self.tau_s = [s.rise_time_s / math.log(10.0) for s in specs]
        self.ramp_w_per_s = [s.ramp_w_per_s for s in specs]
        self.eta = [s.efficiency for s in specs]
        self.cv_wh = [INF] * n

    # -- events (rare) ---------------------------------------------------------------------------

    def connect(self, i: int, record: SessionRecord, soc_pct: float, t0_us: int) -> None:
        """Seat a session on EVSE `i` and fold its numbers into the per-EVSE bounds."""
        cap = record.ev.battery_capacity_wh
        self.sessions[i] = record
        self.connected[i] = True
        self.soc_wh[i] = cap * soc_pct / 100.0
        self.full_wh[i] = cap
        knee = record.ev.cv_from_soc_pct
        self.cv_wh[i] = INF if knee >= 100.0 else cap * knee / 100.0
        record.e_import0_wh = self.e_import_wh[i]
        record.e_export0_wh = self.e_export_wh[i]
        self.departure_s[i] = (record.departure_us - t0_us) / 1e6
        self.set_user(i, record.limits, record.consent, record.target_soc_pct)

    def set_user(self, i: int, limits: EvUserLimits, consent: Consent, target_pct: float) -> None:
        """Apply (new) EV-user limits and consent; they bind from the next step on."""
        record = self.sessions[i]
        if record is None:
            raise ValueError(f"no EV at {self.ids[i]}")
        record.limits, record.consent, record.target_soc_pct = limits, consent, target_pct
        cap = self.full_wh[i]
        self.min_dep_wh[i] = cap * limits.min_soc_at_departure_pct / 100.0
        self.target_wh[i] = max(cap * target_pct / 100.0, self.min_dep_wh[i])
        self.floor_wh[i] = cap * limits.soc_floor_pct / 100.0
        to_grid = limits.max_energy_to_grid_wh
        self.grid_cap_wh[i] = INF if to_grid is None else record.e_export0_wh + to_grid
        self.refresh(i)

    def disconnect(self, i: int) -> SessionRecord | None:
        """Free EVSE `i`; its meters keep counting, its controls stay for the next EV."""
        record = self.sessions[i]
        self.sessions[i] = None
        self.connected[i] = False
        self.refresh(i)
        return record

    def refresh(self, i: int) -> None:
        """Recompute the bounds that change only on events (connect, consent, control)."""
        record = self.sessions[i]
        spec = self.specs[i]
        if record is None or self.out_of_service[i]:
            self.managed[i] = False
            self.phys_max_w[i] = self.dis_floor_w[i] = self.lo_static_w[i] = 0.0
            self.cap_w[i] = INF
            self.mode[i] = 0
            self.p_w[i] = self.q_var[i] = self.lo_w[i] = self.hi_w[i] = 0.0
            return
        ev = record.ev
        ev_max = ev.max_charge_w
        if spec.current_type == "AC" and ev.max_ac_charge_w is not None:
            ev_max = ev.max_ac_charge_w
        self.phys_max_w[i] = min(spec.max_charge_w, ev_max)
        consent = record.consent
        managed = consent.v1g or consent.v2g
        self.managed[i] = managed
        dis = 0.0
        if managed and consent.v2g and record.v2g_capable:
            user_cap = record.limits.max_discharge_power_w
            dis = min(
                spec.max_discharge_w, ev.max_discharge_w, INF if user_cap is None else user_cap
            )
        self.dis_floor_w[i] = -dis
        lo, cap = -dis, INF
        limit = self.ctl_limit[i]
        if managed and limit is not None:
            if limit.max_import_w is not None:
                cap = round_down_to_min(limit.max_import_w, spec.min_charge_w)
            if limit.max_export_w is not None:
                lo = max(lo, -limit.max_export_w)
        self.cap_w[i], self.lo_static_w[i] = cap, lo
        setpoint = self.ctl_sp_w[i]
        if managed and setpoint is not None:
            self.mode[i] = 1
            self.sp_w[i] = round_to_min(setpoint, spec.min_charge_w)
            q = self.ctl_q_var[i] or 0.0
            self.q_var[i] = min(spec.max_reactive_var, max(-spec.max_reactive_var, q))
        else:
            self.mode[i] = 0
            self.q_var[i] = 0.0

    def setpoint(self, i: int) -> SetpointControl | None:
        """The setpoint stored on EVSE `i`, as a control (for snapshots)."""
        p = self.ctl_sp_w[i]
        return None if p is None else SetpointControl(p, self.ctl_q_var[i])

    # -- the step (hot) --------------------------------------------------------------------------

    def set_setpoint(self, i: int, p: float, q: float | None = None) -> None:
        """Install a setpoint without a full `refresh`: the fast path of `apply_many`."""
        self.ctl_sp_w[i] = p
        self.ctl_q_var[i] = q
        if not self.managed[i]:
            return
        self.mode[i] = 1
        low = self.min_charge_w[i]
        self.sp_w[i] = (low if p * 2.0 >= low else 0.0) if 0.0 < p < low else p
        if q is None:
            self.q_var[i] = 0.0
        else:
            top = self.max_q_var[i]
            self.q_var[i] = top if q > top else (-top if q < -top else q)

    def integrate(self, t_end_s: float, dt_s: float) -> None:
        """Choose every connected EVSE's power for the next `dt_s` and integrate SoC and meters.

        `t_end_s` is the end of the step (seconds since the simulation origin): the minimum SoC
        at departure is protected by charging at least what cannot be caught up after it.
        """
        k = 3600.0 / dt_s
        dt_h = dt_s / 3600.0
        soc, full, phys, cap = self.soc_wh, self.full_wh, self.phys_max_w, self.cap_w
        los, floor, grid_cap, e_exp = (
            self.lo_static_w,
            self.floor_wh,
            self.grid_cap_wh,
            self.e_export_wh,
        )
        min_dep, dep, mode, sp, tgt = (
            self.min_dep_wh,
            self.departure_s,
            self.mode,
            self.sp_w,
            self.target_wh,
        )
        p_out, lo_out, hi_out, e_imp = self.p_w, self.lo_w, self.hi_w, self.e_import_wh
        cvs, taus, ramps, etas = self.cv_wh, self.tau_s, self.ramp_w_per_s, self.eta
        alphas: dict[float, float] = {}
        for i in compress(range(self.n), self.connected):
            s = soc[i]
            hp = phys[i]
            if s > cvs[i]:  # constant-voltage phase: the battery takes less and less
                hp *= taper_share(s, full[i], cvs[i])
            room = (full[i] - s) * k
            if room < hp:
                hp = room if room > 0.0 else 0.0
            hi = cap[i]
            if hi > hp:
                hi = hp
            lo = los[i]
            if lo < 0.0:
                b = (floor[i] - s) * k * etas[i]
                if b > lo:
                    lo = b
                b = (e_exp[i] - grid_cap[i]) * k
                if b > lo:
                    lo = b
                if lo > 0.0:
                    lo = 0.0
            # Least power that still reaches the minimum SoC by departure at full power later.
            # Also binding above the minimum: it stops discharge that could not be made up
            # (the EV leaves at the end of the step its departure falls in).
            need = min_dep[i] - s
            rem = dep[i] - t_end_s
            if rem > 0.0:
                need -= phys[i] * rem / 3600.0
            need *= k
            if need > lo:
                lo = need if need < hp else hp
                if lo > hi:
                    hi = lo
            if mode[i]:
                d = sp[i]
            else:
                d = (tgt[i] - s) * k
                if d < 0.0:
                    d = 0.0
            if d > hi:
                d = hi
            elif d < lo:
                d = lo
            po = p_out[i]
            if d != po:  # the converter follows: first-order rise, then its ramp limit
                tau = taus[i]
                if tau > 0.0:
                    a = alphas.get(tau)
                    if a is None:
                        a = alphas[tau] = 1.0 - math.exp(-dt_s / tau)
                    x = po + (d - po) * a
                    if -SNAP_W < x - d < SNAP_W:
                        x = d
                    d = x
                r = ramps[i] * dt_s
                if d > po + r:
                    d = po + r
                elif d < po - r:
                    d = po - r
                if d > hi:  # hard bounds (a full battery, the user's limits) bind at once
                    d = hi
                elif d < lo:
                    d = lo
            p_out[i] = d
            lo_out[i] = lo
            hi_out[i] = hi
            e = d * dt_h
            if d > 0.0:
                e_imp[i] += e
                soc[i] = s + e * etas[i]
            elif d < 0.0:
                e_exp[i] -= e
                soc[i] = s + e / etas[i]

    def repower(self, i: int, p_new: float, dt_s: float) -> None:
        """Replace the power integrated for EVSE `i` in the last step (site limits cut it)."""
        dt_h = dt_s / 3600.0
        p_old = self.p_w[i]
        e_old, e_new = p_old * dt_h, p_new * dt_h
        self.soc_wh[i] += self.battery_wh(i, e_new) - self.battery_wh(i, e_old)
        if p_old > 0.0:
            self.e_import_wh[i] -= e_old
        elif p_old < 0.0:
            self.e_export_wh[i] += e_old
        if p_new > 0.0:
            self.e_import_wh[i] += e_new
        elif p_new < 0.0:
            self.e_export_wh[i] -= e_new
        self.p_w[i] = p_new

    def battery_wh(self, i: int, metered_wh: float) -> float:
        """Energy into (+) or out of (-) the battery for `metered_wh` at the grid meter."""
        eta = self.eta[i]
        return metered_wh * eta if metered_wh > 0.0 else metered_wh / eta

    def max_charge_now_w(self, i: int) -> float:
        """The EV's charge limit now: its rating, tapered above the CC/CV knee."""
        return self.phys_max_w[i] * taper_share(self.soc_wh[i], self.full_wh[i], self.cv_wh[i])

    def unmanaged_w(self, i: int, dt_s: float) -> float:
        """What EVSE `i` would draw uncontrolled: as fast as it can, until the target."""
        s = self.soc_wh[i]
        k = 3600.0 / dt_s
        hp = min(self.max_charge_now_w(i), max((self.full_wh[i] - s) * k, 0.0))
        return max(0.0, min(hp, (self.target_wh[i] - s) * k))

    def soc_pct(self, i: int) -> float | None:
        """SoC of the EV at `i` in percent, None when no EV is connected."""
        if not self.connected[i]:
            return None
        return 100.0 * self.soc_wh[i] / self.full_wh[i]


def round_to_min(p_w: float, min_w: float) -> float:
    """A charger offers 0 or at least its minimum: charge setpoints round to the nearer one."""
    if 0.0 < p_w < min_w:
        return min_w if p_w * 2.0 >= min_w else 0.0
    return p_w


def round_down_to_min(limit_w: float, min_w: float) -> float:
    """A limit below the charger's minimum can only be kept by pausing."""
    return 0.0 if limit_w < min_w else limit_w
