"""Local grid functions of an EVSE: frequency droop (UC 2.3) and fast frequency response (UC 2.4).

Both act on the site's simulated frequency inside the simulator's step, never through the server:
FFR must reach full power in a second or less, which no API round trip can promise, so the FS
only pre-arms it (architecture.md, quality goals). They are kept in a sparse map, because only
the EVSEs an FO armed carry them, and they work by overriding the EVSE's desired power for the
step (`EvseTable.mode`/`sp_w`) before the hot loop clamps it to consent, user limits and physics.

FFR phases: ARMED -> ACTIVE (trigger crossed: ramp to `delta_p_w` within the full-activation
time, hold for the support duration) -> REARM (back to the base power) -> ARMED after `rearm_s`.
Phase changes happen at step boundaries; the engine shortens steps while an FFR is active so the
ramp and its evidence are resolved at `ffr_resolution_s`.

This module must not draw random numbers or read a clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from fcsbe.sim.controls import DroopControl, FfrControl
from fcsbe.sim.evse_table import EvseTable, round_to_min

__all__ = [
    "ACTIVE",
    "ARMED",
    "REARM",
    "LocalFunctions",
    "any_pending",
    "droop_delta_w",
    "ffr_delta_w",
]

ARMED: Final = 0
ACTIVE: Final = 1
REARM: Final = 2


@dataclass(slots=True)
class LocalFunctions:
    """The droop and FFR armed on one EVSE, with their state."""

    droop: DroopControl | None = None
    droop_dp_w: float = 0.0
    ffr: FfrControl | None = None
    ffr_phase: int = ARMED
    ffr_trigger_us: int = 0
    ffr_baseline_w: float = 0.0
    ffr_delta_w: float = 0.0
    ffr_just_ended: bool = False

    @property
    def empty(self) -> bool:
        """True when nothing is armed any more (the EVSE can leave the sparse map)."""
        return self.droop is None and self.ffr is None


def droop_delta_w(ctl: DroopControl, f_hz: float, p_ref_w: float) -> float:
    """Steady-state droop response: import rises with frequency, falls when it sags."""
    dev = f_hz - ctl.f_ref_hz
    if dev > ctl.deadband_hz:
        dev -= ctl.deadband_hz
    elif dev < -ctl.deadband_hz:
        dev += ctl.deadband_hz
    else:
        return 0.0
    return dev / ctl.f_ref_hz / (ctl.droop_pct / 100.0) * p_ref_w


def ffr_triggered(ctl: FfrControl, f_hz: float, nominal_hz: float) -> bool:
    """Under-frequency triggers fire at or below the level, over-frequency ones at or above."""
    if ctl.trigger_hz < nominal_hz:
        return f_hz <= ctl.trigger_hz
    return f_hz >= ctl.trigger_hz


def ffr_delta_w(ctl: FfrControl, elapsed_s: float) -> float:
    """Commanded FFR change `elapsed_s` after the trigger: a linear ramp, then the full delta."""
    fat = ctl.full_activation_time_s
    if fat <= 0.0 or elapsed_s >= fat:
        return ctl.delta_p_w
    return ctl.delta_p_w * max(elapsed_s, 0.0) / fat


def ffr_end_us(ctl: FfrControl, trigger_us: int) -> int:
    """When the support ends: full activation plus the support duration after the trigger."""
    return trigger_us + round((ctl.full_activation_time_s + ctl.support_duration_s) * 1e6)


def update_phases(
    fns: dict[int, LocalFunctions],
    table: EvseTable,
    freq_hz: list[float],
    nominal_hz: list[float],
    t_us: int,
) -> tuple[list[int], list[int]]:
    """Advance the FFR state machines at a step boundary; return (triggered, ended) EVSEs."""
    triggered: list[int] = []
    ended: list[int] = []
    site_of = table.site_of
    for i, fn in fns.items():
        ctl = fn.ffr
        if ctl is None:
            continue
        if fn.ffr_phase == ACTIVE and t_us >= ffr_end_us(ctl, fn.ffr_trigger_us):
            fn.ffr_phase, fn.ffr_delta_w, fn.ffr_just_ended = REARM, 0.0, True
            ended.append(i)
        if fn.ffr_phase == REARM:
            rearm_at = ffr_end_us(ctl, fn.ffr_trigger_us) + round(ctl.rearm_s * 1e6)
            if t_us >= rearm_at:
                fn.ffr_phase = ARMED
        if fn.ffr_phase == ARMED and table.managed[i]:
            s = site_of[i]
            if ffr_triggered(ctl, freq_hz[s], nominal_hz[s]):
                fn.ffr_phase, fn.ffr_trigger_us = ACTIVE, t_us
                fn.ffr_baseline_w, fn.ffr_delta_w = table.p_w[i], 0.0
                triggered.append(i)
    return triggered, ended


def next_ffr_boundary_us(fns: dict[int, LocalFunctions], t_us: int, res_us: int) -> int | None:
    """Next instant an FFR needs a step boundary: while active its evidence grid (trigger +
    k x res), full activation and the end of support; while re-arming, the re-arm instant."""
    best: int | None = None
    for fn in fns.values():
        ctl = fn.ffr
        if ctl is None or fn.ffr_phase == ARMED:
            continue
        trig = fn.ffr_trigger_us
        if fn.ffr_phase == REARM:
            candidates: tuple[int, ...] = (ffr_end_us(ctl, trig) + round(ctl.rearm_s * 1e6),)
        else:
            grid_at = trig + ((t_us - trig) // res_us + 1) * res_us
            full_at = trig + round(ctl.full_activation_time_s * 1e6)
            candidates = (grid_at, full_at, ffr_end_us(ctl, trig))
        for at in candidates:
            if at > t_us and (best is None or at < best):
                best = at
    return best


def any_pending(fns: dict[int, LocalFunctions]) -> bool:
    """True while some FFR is active or re-arming (its instants then cut the steps)."""
    return any(fn.ffr is not None and fn.ffr_phase != ARMED for fn in fns.values())


def apply_local(
    fns: dict[int, LocalFunctions],
    table: EvseTable,
    freq_hz: list[float],
    t_end_us: int,
    dt_s: float,
) -> None:
    """Write each armed EVSE's desired power for the step: base + droop (bounded) + FFR."""
    site_of = table.site_of
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
            p_ref = spec.max_charge_w if droop.p_ref_w is None else droop.p_ref_w
            target = droop_delta_w(droop, freq_hz[site_of[i]], p_ref)
            tau = droop.response_time_s
            fn.droop_dp_w += (target - fn.droop_dp_w) * (1.0 if tau <= 0 else min(1.0, dt_s / tau))
            desired = min(droop.p_max_w, max(droop.p_min_w, desired + fn.droop_dp_w))
        ffr = fn.ffr
        if ffr is not None and fn.ffr_phase == ACTIVE:
            fn.ffr_delta_w = ffr_delta_w(ffr, (t_end_us - fn.ffr_trigger_us) / 1e6)
            desired += fn.ffr_delta_w
        table.mode[i] = 1
        table.sp_w[i] = desired
