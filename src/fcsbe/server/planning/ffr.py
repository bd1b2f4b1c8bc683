"""FFR (UC 2.4): fast frequency response triggers armed on each EVSE; the station fires them
from its own frequency measurement, never through the API.

Each EVSE's baseline is its present power, clamped into its range. A negative ΔP (less import /
more export, the under-frequency response) is shared over the EVSEs in proportion to their room
below the baseline (down to their export headroom, or to the power an EV must charge, which it
keeps); a positive ΔP over their room above it. Every trigger level of one sign is shared with
the same proportions, so an EVSE's steps keep the request's shape; when the room is less than the
largest level, all levels of that sign are scaled down together and the shortfall is reported.

Every level, the detection delay, latching, the support duration, the deactivation ramp and the
re-arm time go to the station, which fires them from its own frequency measurement.

The per-EVSE curve (Hz -> W added to the baseline) is a staircase: under-frequency triggers hold
their ΔP at and below their frequency, over-frequency ones at and above; each step edge is
`STEP_HZ` wide so that the curve stays a function with strictly increasing frequencies.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from fcsbe.model import FfrSettings, FlexibilityServiceRequest, FsType, GridFunction, ReasonCode
from fcsbe.server.planning.allocation import SplitBasis
from fcsbe.server.planning.types import (
    ArmedFunction,
    EvseState,
    Feasibility,
    FfrStep,
    Plan,
    Shortfall,
)

__all__ = ["STEP_HZ", "ffr_curve", "plan_ffr"]

STEP_HZ = 0.001
"""Width of a step edge of the FFR curve (well below a station's frequency resolution)."""

_EPSILON_W = 1e-6


def plan_ffr(request: FlexibilityServiceRequest, evses: Sequence[EvseState], now: datetime) -> Plan:
    """Per-EVSE FFR triggers (shares of each ΔP) and their frequency-watt curves."""
    params = request.parameters
    if not isinstance(params, FfrSettings):
        raise TypeError(f"plan_ffr needs FfrSettings, not {params.fs_type}")
    basis = SplitBasis.for_setpoint(evses, now)
    power = {e.evse_id: e.p_w for e in evses}
    baselines = [
        min(max(power[i], low), high)
        for i, low, high in zip(basis.evse_ids, basis.lo, basis.hi, strict=True)
    ]
    down = [b - low for b, low in zip(baselines, basis.lo, strict=True)]
    up = [high - b for b, high in zip(baselines, basis.hi, strict=True)]
    levels = params.trigger_levels
    need_down = max((-t.delta_p_w for t in levels if t.delta_p_w < 0), default=0.0)
    need_up = max((t.delta_p_w for t in levels if t.delta_p_w > 0), default=0.0)
    scale_down = _scale(need_down, sum(down))
    scale_up = _scale(need_up, sum(up))
    shortfalls: list[Shortfall] = []
    under = [t.frequency_hz for t in levels if t.delta_p_w < 0]
    over = [t.frequency_hz for t in levels if t.delta_p_w > 0]
    if under and over and max(under) >= min(over):
        shortfalls.append(
            Shortfall(
                ReasonCode.NOT_CAPABLE,
                "under-frequency triggers (negative ΔP) must lie below over-frequency ones",
            )
        )
    start = max(now, request.window.start)
    if start >= request.window.end:
        shortfalls.append(Shortfall(ReasonCode.TOO_LATE, "the FFR window has passed"))
    armed: list[ArmedFunction] = []
    if not shortfalls:
        total_down, total_up = sum(down), sum(up)
        for i, evse_id in enumerate(basis.evse_ids):
            steps = tuple(
                FfrStep(
                    t.frequency_hz,
                    t.full_activation_time_s,
                    t.delta_p_w * scale_down * down[i] / total_down
                    if t.delta_p_w < 0
                    else t.delta_p_w * scale_up * up[i] / total_up,
                )
                for t in levels
                if (down[i] if t.delta_p_w < 0 else up[i]) > _EPSILON_W
            )
            if not steps:
                continue
            armed.append(
                ArmedFunction(
                    evse_id=evse_id,
                    function=GridFunction.FREQ_WATT,
                    start=start,
                    end=request.window.end,
                    baseline_w=baselines[i],
                    p_min_w=baselines[i] + min(0.0, *(s.delta_p_w for s in steps)),
                    p_max_w=baselines[i] + max(0.0, *(s.delta_p_w for s in steps)),
                    curve=ffr_curve(steps),
                    response_time_s=min(s.full_activation_time_s for s in steps),
                    triggers=steps,
                    support_duration_s=params.support_duration_s,
                    deactivation_ramp_s=params.deactivation_ramp_s,
                    rearm_time_s=params.rearm_time_s,
                    evidence_sampling_ms=params.evidence_sampling_ms,
                    detection_delay_s=params.detection_delay_s,
                    latched=params.latched,
                )
            )
    requested = max(need_down, need_up)
    share = (
        0.0
        if shortfalls or not armed
        else 100.0 * min(scale_down if need_down > 0 else 1.0, scale_up if need_up > 0 else 1.0)
    )
    if armed and share < 100.0 - 1e-9:
        shortfalls.append(
            Shortfall(
                ReasonCode.INSUFFICIENT_AVAILABILITY,
                f"headroom covers {share:.1f} % of the largest trigger level",
            )
        )
    return Plan(
        fs_type=FsType.FFR,
        evse_plans=(),
        feasibility=Feasibility(
            requested,
            requested * share / 100.0,
            share,
            shortfalls=tuple(shortfalls),
        ),
        armed=tuple(armed),
        excluded=tuple(sorted({e.evse_id for e in evses} - {a.evse_id for a in armed})),
    )


def _scale(needed: float, room: float) -> float:
    """Factor applied to every level of one sign: 1 when the room covers the largest level."""
    if needed <= 0:
        return 1.0
    return min(1.0, room / needed)


def ffr_curve(steps: Sequence[FfrStep]) -> tuple[tuple[float, float], ...]:
    """The staircase frequency-watt curve of one EVSE's triggers (Hz, W added to the baseline)."""
    under = sorted((s for s in steps if s.delta_p_w < 0), key=lambda s: s.frequency_hz)
    over = sorted((s for s in steps if s.delta_p_w > 0), key=lambda s: s.frequency_hz)
    points: list[tuple[float, float]] = []
    for k, step in enumerate(under):
        following = under[k + 1] if k + 1 < len(under) else None
        edge = (
            STEP_HZ
            if following is None
            else min(STEP_HZ, (following.frequency_hz - step.frequency_hz) / 2)
        )
        points.append((step.frequency_hz, step.delta_p_w))
        points.append((step.frequency_hz + edge, following.delta_p_w if following else 0.0))
    for k, step in enumerate(over):
        previous = over[k - 1] if k > 0 else None
        edge = (
            STEP_HZ
            if previous is None
            else min(STEP_HZ, (step.frequency_hz - previous.frequency_hz) / 2)
        )
        points.append((step.frequency_hz - edge, previous.delta_p_w if previous else 0.0))
        points.append((step.frequency_hz, step.delta_p_w))
    return tuple(points)
