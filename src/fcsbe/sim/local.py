"""Local grid functions of an EVSE: droop and frequency-watt curves, volt-var / volt-watt
(UC 2.3) and fast frequency response (UC 2.4).

They act on the site's simulated frequency and voltage inside the simulator's step, never through
the server: FFR must reach full power in a second or less, which no API round trip can promise,
so the FS only pre-arms it (architecture.md, quality goals). They are kept in a sparse map,
because only the EVSEs an FO armed carry them, and they work by overriding the EVSE's desired
power for the step (`EvseTable.mode`/`sp_w`) before the hot loop clamps it to consent, user limits
and physics, and shapes it with the EVSE's rise time and ramp limit.

The EVSE's response latency (`EvseSpec.response_latency_s`: seconds on AC under IEC 61851 PWM,
sub-second on DC) is applied here: what the controller commands reaches the EVSE's power that
much later. Droop sees the frequency through that delay; FFR's commanded change is applied to the
power after it.

FFR phases: ARMED -> DETECTING (a level crossed: wait the detection delay) -> ACTIVE (the
deepest level crossed is commanded; a deeper one escalates; held for the support duration, or
until the frequency recovers when unlatched) -> DEACTIVATING (linear ramp back to the base
power) -> REARM -> ARMED after `rearm_s`. Phase changes happen at step boundaries; the engine
shortens steps while something is pending so ramps and evidence are resolved at
`ffr_resolution_s`.

This module must not draw random numbers or read a clock.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from dataclasses import dataclass, field
from typing import Final

from fcsbe.sim.controls import Curve, DroopControl, FfrControl, FfrLevel
from fcsbe.sim.evse_table import EvseTable, round_to_min

__all__ = [
    "ACTIVE",
    "ARMED",
    "DEACTIVATING",
    "DETECTING",
    "PHASES",
    "REARM",
    "LocalFunctions",
    "any_pending",
    "curve_value",
    "droop_delta_w",
    "ffr_command_at",
]

ARMED: Final = 0
ACTIVE: Final = 1
REARM: Final = 2
DETECTING: Final = 3
DEACTIVATING: Final = 4
PHASES: Final = ("ARMED", "ACTIVE", "REARM", "DETECTING", "DEACTIVATING")

SETTLE_S: Final = 2.0
"""Evidence keeps being sampled this long after the response should have settled."""


@dataclass(slots=True)
class LocalFunctions:
    """The droop and FFR armed on one EVSE, with their state."""

    droop: DroopControl | None = None
    droop_dp_w: float = 0.0
    """Controller output: the curve's value shaped to the ordered response time."""
    droop_base_w: float = 0.0
    """Power the EVSE would hold without droop, this step."""
    droop_event_us: int = -1
    """Last change of the frequency or voltage seen: evidence is sampled around it."""
    seen_f_hz: float | None = None
    next_f_hz: float | None = None
    next_f_us: int = -1
    ffr: FfrControl | None = None
    ffr_phase: int = ARMED
    ffr_trigger_us: int = 0
    ffr_level: int = -1
    ffr_end_us: int = 0
    ffr_deact_end_us: int = 0
    ffr_rearm_us: int = 0
    ffr_baseline_w: float = 0.0
    ffr_delta_w: float = 0.0
    """Commanded change now (what the evidence calls ordered)."""
    ffr_just_ended: bool = False
    ffr_cmd: list[tuple[int, float, bool]] = field(default_factory=list)
    """Commands of the present activation: (instant, W, ramp-to): a step to W at the instant,
    or (ramp-to) a linear ramp from the previous point to W at the instant."""

    @property
    def empty(self) -> bool:
        """True when nothing is armed any more (the EVSE can leave the sparse map)."""
        return self.droop is None and self.ffr is None


def curve_value(curve: Curve, x: float) -> float:
    """Piecewise-linear interpolation, flat beyond the first and last points."""
    if x <= curve[0][0]:
        return curve[0][1]
    if x >= curve[-1][0]:
        return curve[-1][1]
    k = bisect_right([p[0] for p in curve], x)
    (x0, y0), (x1, y1) = curve[k - 1], curve[k]
    return y0 + (y1 - y0) * (x - x0) / (x1 - x0)


def droop_delta_w(ctl: DroopControl, f_hz: float, p_ref_w: float) -> float:
    """Steady-state response: import rises with frequency, falls when it sags (asymmetric
    deadbands and droops, or the frequency-watt curve when one is given)."""
    if ctl.curve:
        return curve_value(ctl.curve, f_hz)
    dev = f_hz - ctl.f_ref_hz
    if dev > ctl.deadband_hz:
        return (dev - ctl.deadband_hz) / ctl.f_ref_hz / (ctl.droop_pct / 100.0) * p_ref_w
    under_db = ctl.deadband_hz if ctl.deadband_under_hz is None else ctl.deadband_under_hz
    under_pct = ctl.droop_pct if ctl.droop_under_pct is None else ctl.droop_under_pct
    if dev < -under_db:
        return (dev + under_db) / ctl.f_ref_hz / (under_pct / 100.0) * p_ref_w
    return 0.0


def _triggered(level: FfrLevel, f_hz: float, nominal_hz: float) -> bool:
    """Under-frequency levels fire at or below their trigger, over-frequency ones at or above."""
    if level[0] < nominal_hz:
        return f_hz <= level[0]
    return f_hz >= level[0]


def _deepest(ctl: FfrControl, f_hz: float, nominal_hz: float) -> int:
    """Index of the level with the largest |ΔP| the frequency has reached, or -1."""
    best, best_dp = -1, 0.0
    for k, level in enumerate(ctl.all_levels):
        if _triggered(level, f_hz, nominal_hz) and abs(level[1]) > best_dp:
            best, best_dp = k, abs(level[1])
    return best


def ffr_command_at(cmd: list[tuple[int, float, bool]], t_us: int) -> float:
    """The commanded FFR change at `t_us` from the activation's command points."""
    value = 0.0
    prev_at, prev_value = 0, 0.0
    for at, target, ramp in cmd:
        if at > t_us:
            if ramp and at > prev_at and t_us >= prev_at:
                return prev_value + (target - prev_value) * (t_us - prev_at) / (at - prev_at)
            return value
        value, prev_at, prev_value = target, at, target
    return value


def _latency_us(table: EvseTable, i: int) -> int:
    return round(table.specs[i].response_latency_s * 1e6)


def _ffr_level_end(ctl: FfrControl, k: int, crossed_us: int) -> int:
    """End of support for level `k` crossed at `crossed_us`: full activation, then the hold."""
    fat = ctl.all_levels[k][2]
    return crossed_us + round((fat + ctl.support_duration_s) * 1e6)


def _activate(fn: LocalFunctions, ctl: FfrControl, k: int, at_us: int) -> None:
    fn.ffr_level = k
    fn.ffr_cmd.append((at_us, ctl.all_levels[k][1], False))


def _deactivate(fn: LocalFunctions, ctl: FfrControl, t_us: int) -> None:
    now_w = ffr_command_at(fn.ffr_cmd, t_us)
    fn.ffr_cmd = [c for c in fn.ffr_cmd if c[0] <= t_us]
    ramp_us = round(ctl.deactivation_ramp_s * 1e6)
    if ramp_us > 0:
        fn.ffr_cmd.append((t_us, now_w, False))
        fn.ffr_cmd.append((t_us + ramp_us, 0.0, True))
    else:
        fn.ffr_cmd.append((t_us, 0.0, False))
    fn.ffr_phase, fn.ffr_deact_end_us = DEACTIVATING, t_us + ramp_us


def update_phases(
    fns: dict[int, LocalFunctions],
    table: EvseTable,
    freq_hz: list[float],
    nominal_hz: list[float],
    t_us: int,
) -> tuple[list[int], list[int]]:
    """Advance the FFR state machines and the droop's measurement at a step boundary; return
    (triggered, ended) EVSEs."""
    triggered: list[int] = []
    ended: list[int] = []
    site_of = table.site_of
    for i, fn in fns.items():
        s = site_of[i]
        f = freq_hz[s]
        if fn.droop is not None:
            if fn.next_f_hz != f:
                fn.next_f_hz, fn.next_f_us = f, t_us + _latency_us(table, i)
                if fn.seen_f_hz is not None:
                    fn.droop_event_us = t_us
            if fn.seen_f_hz is None or t_us >= fn.next_f_us:
                fn.seen_f_hz = fn.next_f_hz
        ctl = fn.ffr
        if ctl is None:
            continue
        phase = fn.ffr_phase
        if phase == DETECTING:
            k = _deepest(ctl, f, nominal_hz[s])
            if k < 0 and not ctl.latched:
                fn.ffr_phase, fn.ffr_cmd = ARMED, []  # a spike shorter than the detection delay
            elif t_us >= fn.ffr_trigger_us + round(ctl.detection_delay_s * 1e6):
                deepest = fn.ffr_level
                if k >= 0 and abs(ctl.all_levels[k][1]) > abs(ctl.all_levels[deepest][1]):
                    deepest = k
                _activate(fn, ctl, deepest, t_us)
                fn.ffr_phase = ACTIVE
                fn.ffr_end_us = _ffr_level_end(ctl, deepest, fn.ffr_trigger_us)
        elif phase == ACTIVE:
            k = _deepest(ctl, f, nominal_hz[s])
            if k >= 0 and abs(ctl.all_levels[k][1]) > abs(ctl.all_levels[fn.ffr_level][1]):
                delay_us = round(ctl.detection_delay_s * 1e6)
                _activate(fn, ctl, k, t_us + delay_us)  # escalate to the deeper level
                fn.ffr_end_us = max(fn.ffr_end_us, _ffr_level_end(ctl, k, t_us))
            full_us = fn.ffr_trigger_us + round(ctl.all_levels[fn.ffr_level][2] * 1e6)
            if t_us >= fn.ffr_end_us or (not ctl.latched and k < 0 and t_us >= full_us):
                _deactivate(fn, ctl, t_us)
        if fn.ffr_phase == DEACTIVATING and t_us >= fn.ffr_deact_end_us:
            fn.ffr_phase, fn.ffr_just_ended = REARM, True
            fn.ffr_rearm_us = fn.ffr_deact_end_us + round(ctl.rearm_s * 1e6)
            ended.append(i)
        if fn.ffr_phase == REARM and t_us >= fn.ffr_rearm_us:
            fn.ffr_phase = ARMED
        settled = t_us > fn.ffr_deact_end_us + _settle_us(table, i)
        if fn.ffr_phase in (REARM, ARMED) and fn.ffr_cmd and settled:
            fn.ffr_cmd = []  # settled: the activation is over, evidence included
        if fn.ffr_phase == ARMED and table.managed[i]:
            k = _deepest(ctl, f, nominal_hz[s])
            if k >= 0:
                fn.ffr_phase, fn.ffr_trigger_us, fn.ffr_level = DETECTING, t_us, k
                fn.ffr_baseline_w, fn.ffr_delta_w, fn.ffr_cmd = table.p_w[i], 0.0, []
                if ctl.detection_delay_s <= 0:
                    _activate(fn, ctl, k, t_us)
                    fn.ffr_phase = ACTIVE
                    fn.ffr_end_us = _ffr_level_end(ctl, k, t_us)
                triggered.append(i)
    return triggered, ended


def _settle_us(table: EvseTable, i: int) -> int:
    spec = table.specs[i]
    return round((spec.response_latency_s + spec.rise_time_s + SETTLE_S) * 1e6)


def sampling(fn: LocalFunctions, table: EvseTable, i: int, t_us: int) -> str | None:
    """The evidence phase of EVSE `i` at `t_us` when high-resolution samples are due, else
    None: during an FFR activation and its settling, and around a droop's frequency change."""
    if fn.ffr is not None:
        if fn.ffr_phase in (DETECTING, ACTIVE, DEACTIVATING):
            return PHASES[fn.ffr_phase]
        settling = t_us <= fn.ffr_deact_end_us + _settle_us(table, i)
        if fn.ffr_phase in (REARM, ARMED) and fn.ffr_cmd and settling:
            return "ENDED"
    if fn.droop is not None and fn.droop_event_us >= 0:
        window = _settle_us(table, i) + round(fn.droop.response_time_s * 1e6)
        if t_us <= fn.droop_event_us + window:
            return "DROOP"
    return None


def evidence_origin(fn: LocalFunctions) -> int:
    """The instant the evidence grid counts from (the FFR trigger, or the droop's event)."""
    if fn.ffr is not None and fn.ffr_cmd:
        return fn.ffr_trigger_us
    return fn.droop_event_us


def next_boundary_us(
    fns: dict[int, LocalFunctions], table: EvseTable, t_us: int, res_us: int
) -> int | None:
    """Next instant a local function needs a step boundary: its evidence grid, command
    instants (and when they reach the EVSE after its latency), end of support, of the ramp,
    re-arm, and when a frequency change reaches a droop."""
    best: int | None = None
    for i, fn in fns.items():
        candidates: list[int] = []
        if fn.droop is not None and fn.next_f_us > t_us:
            candidates.append(fn.next_f_us)
        ctl = fn.ffr
        if ctl is not None and fn.ffr_phase != ARMED:
            lat = _latency_us(table, i)
            if fn.ffr_phase == DETECTING:
                candidates.append(fn.ffr_trigger_us + round(ctl.detection_delay_s * 1e6))
            elif fn.ffr_phase == ACTIVE:
                candidates.append(fn.ffr_end_us)
            elif fn.ffr_phase == DEACTIVATING:
                candidates.append(fn.ffr_deact_end_us)
            else:
                candidates.append(fn.ffr_rearm_us)
            for at, _w, _r in fn.ffr_cmd:
                candidates.extend((at, at + lat))
        if sampling(fn, table, i, t_us + 1) is not None:
            origin = evidence_origin(fn)
            candidates.append(origin + ((t_us - origin) // res_us + 1) * res_us)
        for at in candidates:
            if at > t_us and (best is None or at < best):
                best = at
    return best


def any_pending(fns: dict[int, LocalFunctions]) -> bool:
    """True while some FFR is not simply armed, or a droop has a change to resolve."""
    return any(
        (fn.ffr is not None and (fn.ffr_phase != ARMED or fn.ffr_cmd))
        or (fn.droop is not None and fn.droop_event_us >= 0)
        for fn in fns.values()
    )


def _shaping_alpha(ordered_s: float, physical_s: float, dt_s: float) -> float:
    """Share of the remaining change the controller passes on this step: a first-order filter
    whose 90 % time, added to the EVSE's own, makes the ordered response time."""
    t90 = ordered_s - physical_s
    if t90 <= 0.0:
        return 1.0
    return 1.0 - math.exp(-dt_s * math.log(10.0) / t90)


def apply_local(
    fns: dict[int, LocalFunctions],
    table: EvseTable,
    freq_hz: list[float],
    volt_v: list[float],
    nominal_v: list[float],
    t_end_us: int,
    dt_s: float,
) -> None:
    """Write each armed EVSE's desired power for the step: base + droop (bounded) + FFR, and
    the reactive power of a volt-var curve."""
    for i, fn in fns.items():
        if not (table.connected[i] and table.managed[i]):
            continue
        setpoint = table.ctl_sp_w[i]
        spec = table.specs[i]
        if setpoint is not None:
            desired = round_to_min(setpoint, spec.min_charge_w)
        else:
            desired = table.unmanaged_w(i, dt_s)
        droop = fn.droop
        if droop is not None:
            fn.droop_base_w = desired
            p_ref = spec.max_charge_w if droop.p_ref_w is None else droop.p_ref_w
            f_seen = freq_hz[table.site_of[i]] if fn.seen_f_hz is None else fn.seen_f_hz
            target = droop_delta_w(droop, f_seen, p_ref)
            site = table.site_of[i]
            u_pct = 100.0 * volt_v[site] / nominal_v[site]
            if droop.volt_watt:
                target += curve_value(droop.volt_watt, u_pct)
            alpha = _shaping_alpha(droop.response_time_s, spec.response_time_s, dt_s)
            fn.droop_dp_w += (target - fn.droop_dp_w) * alpha
            desired = min(droop.p_max_w, max(droop.p_min_w, desired + fn.droop_dp_w))
            if droop.volt_var:
                share = curve_value(droop.volt_var, u_pct) / 100.0
                table.q_var[i] = -share * spec.max_reactive_var  # + inject, - absorb
        ffr = fn.ffr
        if ffr is not None and fn.ffr_cmd:
            fn.ffr_delta_w = ffr_command_at(fn.ffr_cmd, t_end_us)
            # What the controller commanded by the start of the step, minus the latency, is
            # what the EVSE's power follows over the step.
            start_us = t_end_us - round(dt_s * 1e6)
            desired += ffr_command_at(fn.ffr_cmd, start_us - _latency_us(table, i))
        table.mode[i] = 1
        table.sp_w[i] = desired
