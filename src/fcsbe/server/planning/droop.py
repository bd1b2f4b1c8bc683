"""DROOP (UC 2.3): frequency droop armed on each EVSE, executed by the station from local
measurements (never through the API).

The aggregate power range [p_min_w, p_max_w] is split over the connected EVSEs with the rule of
`allocation`: p_max over their import headroom, p_min over their export headroom (or down to the
power an EV must charge, which it keeps), so each EVSE gets [p_min_i, p_max_i] and the bounds sum
to the request's when the EVSEs can reach them. Each EVSE droops around its present power
(clamped into its range) with the request's deadbands and droops, taken relative to its own rated
range max(import headroom, export headroom): outside the deadband, a frequency deviation of
`droop_pct` % of f_ref moves the EVSE by 100 % of that range (IEEE 1547 / 2030.5 `kOF`, `kUF`),
until the EVSE's bound. The resulting frequency-watt curve (Hz -> W added to the baseline) is
what the station is given; volt-var / volt-watt curves of the request are per-unit and go to the
stations unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from fcsbe.model import DroopSettings, FlexibilityServiceRequest, FsType, GridFunction, ReasonCode
from fcsbe.server.planning.allocation import SplitBasis, split_setpoint
from fcsbe.server.planning.types import (
    ArmedFunction,
    EvseState,
    Feasibility,
    Plan,
    Shortfall,
    share_pct,
)

__all__ = ["droop_curve", "plan_droop"]

_EPSILON_W = 1e-6


def plan_droop(
    request: FlexibilityServiceRequest, evses: Sequence[EvseState], now: datetime
) -> Plan:
    """Per-EVSE droop settings and power ranges whose sums are the requested range."""
    params = request.parameters
    if not isinstance(params, DroopSettings):
        raise TypeError(f"plan_droop needs DroopSettings, not {params.fs_type}")
    basis = SplitBasis.for_setpoint(evses, now)
    uppers = split_setpoint(params.p_max_w, basis)
    lowers = split_setpoint(params.p_min_w, basis)
    start = max(now, request.window.start)
    armed: list[ArmedFunction] = []
    if start < request.window.end:
        present = {e.evse_id: e for e in evses}
        for i, evse_id in enumerate(basis.evse_ids):
            low, high = lowers[i], uppers[i]
            baseline = min(max(present[evse_id].p_w, low), high)
            rated = max(basis.hi[i], -basis.lo[i], 0.0)
            if rated <= _EPSILON_W:
                continue
            armed.append(
                ArmedFunction(
                    evse_id=evse_id,
                    function=GridFunction.FREQ_DROOP,
                    start=start,
                    end=request.window.end,
                    baseline_w=baseline,
                    p_min_w=low,
                    p_max_w=high,
                    curve=droop_curve(params, baseline, low, high, rated),
                    response_time_s=params.response_time_s,
                    f_ref_hz=params.f_ref_hz,
                    deadband_over_hz=params.deadband_over_hz,
                    deadband_under_hz=params.deadband_under_hz,
                    droop_over_pct=params.droop_over_pct,
                    droop_under_pct=params.droop_under_pct,
                )
            )
    requested = params.p_max_w - params.p_min_w
    reached_max, reached_min = basis.feasible(params.p_max_w), basis.feasible(params.p_min_w)
    shortfalls: list[Shortfall] = []
    if start >= request.window.end:
        shortfalls.append(Shortfall(ReasonCode.TOO_LATE, "the droop window has passed"))
    if reached_max < params.p_max_w - _EPSILON_W:
        shortfalls.append(
            Shortfall(
                ReasonCode.INSUFFICIENT_AVAILABILITY,
                f"import headroom reaches {reached_max:g} W of p_max {params.p_max_w:g} W",
            )
        )
    if reached_min > params.p_min_w + _EPSILON_W:
        shortfalls.append(
            Shortfall(
                ReasonCode.INSUFFICIENT_AVAILABILITY,
                f"downward headroom reaches {reached_min:g} W of p_min {params.p_min_w:g} W",
            )
        )
    committed = reached_max - reached_min
    if not armed:
        share = 0.0
    elif requested <= _EPSILON_W:
        share = 0.0 if shortfalls else 100.0
    else:
        share = share_pct(committed, requested)
    return Plan(
        fs_type=FsType.DROOP,
        evse_plans=(),
        feasibility=Feasibility(requested, committed, share, shortfalls=tuple(shortfalls)),
        armed=tuple(armed),
        excluded=tuple(sorted({e.evse_id for e in evses} - {a.evse_id for a in armed})),
    )


def droop_curve(
    params: DroopSettings, baseline: float, low: float, high: float, rated: float
) -> tuple[tuple[float, float], ...]:
    """The frequency-watt curve of one EVSE: (Hz, W added to the baseline), x increasing.

    Flat at 0 inside the deadband, linear with the droop slope outside it, flat at the EVSE's
    bound beyond the saturation frequency. Under-frequency lowers power (less import / more
    export), over-frequency raises it.
    """
    f_under = params.f_ref_hz - params.deadband_under_hz
    f_over = params.f_ref_hz + params.deadband_over_hz
    slope_under = rated / (params.droop_under_pct / 100.0 * params.f_ref_hz)
    slope_over = rated / (params.droop_over_pct / 100.0 * params.f_ref_hz)
    points: list[tuple[float, float]] = []
    if baseline - low > _EPSILON_W:
        points.append((f_under - (baseline - low) / slope_under, low - baseline))
    points.append((f_under, 0.0))
    if f_over > f_under:
        points.append((f_over, 0.0))
    if high - baseline > _EPSILON_W:
        points.append((f_over + (high - baseline) / slope_over, high - baseline))
    return tuple(points)
