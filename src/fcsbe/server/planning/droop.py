"""DROOP (UC 2.3): a frequency response armed on each EVSE, executed by the station from local
measurements (never through the API).

The FO orders the response of the whole target in its own terms: a droop (% of f_ref for 100 %
of a reference power) or a gain (W/Hz), asymmetric above and below f_ref, each with its
deadband; or a frequency-watt curve with deadband and knees. Planning turns either into one
aggregate curve: Hz -> W added to the aggregate operating point, bounded by the ordered range
[p_min_w, p_max_w] (the response never takes the aggregate beyond it).

Each connected EVSE keeps its operating point (its present power, clamped into its range: idle,
charging or discharging alike) as its baseline, held as a setpoint while the droop is armed. The
downward part of the curve (less import / more export) is shared over the EVSEs in proportion to
their room below the baseline (down to their export headroom, or to the power an EV must charge,
which it keeps), the upward part in proportion to their room above it. So an idle V2G EV at
49.8 Hz exports its share, and a discharging EV exports more rather than less. When the room is
short of the ordered response, the curve is scaled down and the shortfall reported.

Each EVSE gets its share as its own frequency-watt curve (what the station executes and the
evidence is checked against), with the equivalent droop settings for stations that take only
a droop. Volt-var / volt-watt curves in percent go to the stations unchanged (x as % of the
nominal voltage); volt-watt in W is shared like the downward response.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from fcsbe.model import (
    CurveUnit,
    DerCurve,
    DroopSettings,
    FlexibilityServiceRequest,
    FsType,
    GridFunction,
    ReasonCode,
)
from fcsbe.server.planning.allocation import SplitBasis
from fcsbe.server.planning.types import (
    ArmedFunction,
    EvseState,
    Feasibility,
    Plan,
    Shortfall,
    share_pct,
)

__all__ = ["NOMINAL_V", "aggregate_curve", "clip_curve", "droop_curve", "plan_droop"]

_EPSILON_W = 1e-6
NOMINAL_V = 230.0
"""Nominal voltage a volt curve given in volts is read against (low-voltage connection)."""

Curve = tuple[tuple[float, float], ...]


def plan_droop(
    request: FlexibilityServiceRequest, evses: Sequence[EvseState], now: datetime
) -> Plan:
    """Per-EVSE frequency-watt curves whose sum is the ordered response (see module doc)."""
    params = request.parameters
    if not isinstance(params, DroopSettings):
        raise TypeError(f"plan_droop needs DroopSettings, not {params.fs_type}")
    basis = SplitBasis.for_setpoint(evses, now)
    present = {e.evse_id: e.p_w for e in evses}
    baselines = [
        min(max(present[i], low), high)
        for i, low, high in zip(basis.evse_ids, basis.lo, basis.hi, strict=True)
    ]
    baselines = _into_range(baselines, basis.lo, basis.hi, params.p_min_w, params.p_max_w)
    downs = [b - low for b, low in zip(baselines, basis.lo, strict=True)]
    ups = [high - b for b, high in zip(baselines, basis.hi, strict=True)]
    base_total = sum(baselines)
    room_down, room_up = sum(downs), sum(ups)
    bound_down = max(0.0, base_total - params.p_min_w)
    bound_up = max(0.0, params.p_max_w - base_total)
    curve = clip_curve(aggregate_curve(params, bound_down, bound_up), -bound_down, bound_up)
    need_down = max(0.0, -min(y for _, y in curve))
    need_up = max(0.0, max(y for _, y in curve))
    den_down, den_up = max(room_down, need_down), max(room_up, need_up)
    start = max(now, request.window.start)
    shortfalls: list[Shortfall] = []
    if start >= request.window.end:
        shortfalls.append(Shortfall(ReasonCode.TOO_LATE, "the droop window has passed"))
    if room_down < need_down - _EPSILON_W:
        shortfalls.append(
            Shortfall(
                ReasonCode.INSUFFICIENT_AVAILABILITY,
                f"downward room {room_down:g} W of the ordered {need_down:g} W",
            )
        )
    if room_up < need_up - _EPSILON_W:
        shortfalls.append(
            Shortfall(
                ReasonCode.INSUFFICIENT_AVAILABILITY,
                f"upward room {room_up:g} W of the ordered {need_up:g} W",
            )
        )
    volt_var, volt_watt = _volt_curves(params, shortfalls)
    armed: list[ArmedFunction] = []
    if start < request.window.end:
        for i, evse_id in enumerate(basis.evse_ids):
            k_down = downs[i] / den_down if den_down > _EPSILON_W else 0.0
            k_up = ups[i] / den_up if den_up > _EPSILON_W else 0.0
            if k_down <= _EPSILON_W and k_up <= _EPSILON_W:
                continue
            own = tuple((f, y * (k_down if y < 0 else k_up)) for f, y in curve)
            base = baselines[i]
            one = _armed(params, evse_id, start, request.window.end, base, own, k_down, k_up)
            own_watt = tuple((x, y * k_down) for x, y in volt_watt)
            armed.append(replace(one, volt_var=volt_var, volt_watt=own_watt))
    requested = need_down + need_up
    committed = min(need_down, room_down) + min(need_up, room_up)
    share = 0.0 if not armed else share_pct(committed, requested)
    return Plan(
        fs_type=FsType.DROOP,
        evse_plans=(),
        feasibility=Feasibility(requested, committed, share, shortfalls=tuple(shortfalls)),
        armed=tuple(armed),
        excluded=tuple(sorted({e.evse_id for e in evses} - {a.evse_id for a in armed})),
    )


def _into_range(
    baselines: list[float],
    lows: Sequence[float],
    highs: Sequence[float],
    p_min_w: float,
    p_max_w: float,
) -> list[float]:
    """Baselines moved (in proportion to each EVSE's room) so that their sum lies within the
    ordered range, as far as the EVSEs can: the operating point is inside what was ordered."""
    total = sum(baselines)
    shift = min(max(total, p_min_w), p_max_w) - total
    if abs(shift) <= _EPSILON_W:
        return baselines
    rooms = [
        (b - low) if shift < 0 else (high - b)
        for b, low, high in zip(baselines, lows, highs, strict=True)
    ]
    room = sum(rooms)
    if room <= _EPSILON_W:
        return baselines
    k = min(1.0, abs(shift) / room)
    sign = -1.0 if shift < 0 else 1.0
    return [b + sign * k * r for b, r in zip(baselines, rooms, strict=True)]


def _armed(
    params: DroopSettings,
    evse_id: str,
    start: datetime,
    end: datetime,
    base: float,
    curve: Curve,
    k_down: float,
    k_up: float,
) -> ArmedFunction:
    """One EVSE's droop: its curve, and the equivalent droop settings (percent of its share
    of the reference power) for stations that take a droop rather than a curve."""
    reference = params.reference_w * (k_down if k_down > _EPSILON_W else k_up)
    gains = {"under": _gain(params, "under", curve), "over": _gain(params, "over", curve)}

    def pct(side: str) -> float:
        gain = gains[side] * (k_down if side == "under" else k_up)
        if gain <= _EPSILON_W:
            return 100.0
        return min(100.0, 100.0 * reference / (gain * params.f_ref_hz))

    return ArmedFunction(
        evse_id=evse_id,
        function=GridFunction.FREQ_WATT if params.freq_watt else GridFunction.FREQ_DROOP,
        start=start,
        end=end,
        baseline_w=base,
        p_min_w=base + min(0.0, *(y for _, y in curve)),
        p_max_w=base + max(0.0, *(y for _, y in curve)),
        curve=curve,
        response_time_s=params.response_time_s,
        f_ref_hz=params.f_ref_hz,
        deadband_over_hz=params.deadband_over_hz,
        deadband_under_hz=params.deadband_under_hz,
        droop_over_pct=pct("over"),
        droop_under_pct=pct("under"),
        p_ref_w=reference,
    )


def _gain(params: DroopSettings, side: str, curve: Curve) -> float:
    """The aggregate gain of one side (W/Hz): ordered, or the mean slope of the curve from
    its deadband edge to its end."""
    if not params.freq_watt:
        return params.gain_w_per_hz("under" if side == "under" else "over")
    points = curve if side == "over" else tuple((-f, -y) for f, y in reversed(curve))
    edge = max((f for f, y in points if abs(y) <= _EPSILON_W), default=points[0][0])
    f_end, y_end = points[-1]
    return y_end / (f_end - edge) if f_end > edge and y_end > 0 else 0.0


def aggregate_curve(params: DroopSettings, bound_down: float, bound_up: float) -> Curve:
    """The ordered response of the whole target: (Hz, W added to its operating point)."""
    f_ref = params.f_ref_hz
    if params.freq_watt:
        reference = params.reference_w
        return tuple((f_ref + p.df_hz, p.p_pct / 100.0 * reference) for p in params.freq_watt)
    f_under = f_ref - params.deadband_under_hz
    f_over = f_ref + params.deadband_over_hz
    points: list[tuple[float, float]] = []
    gain_under, gain_over = params.gain_w_per_hz("under"), params.gain_w_per_hz("over")
    if bound_down > _EPSILON_W and gain_under > 0:
        points.append((f_under - bound_down / gain_under, -bound_down))
    points.append((f_under, 0.0))
    if f_over > f_under:
        points.append((f_over, 0.0))
    if bound_up > _EPSILON_W and gain_over > 0:
        points.append((f_over + bound_up / gain_over, bound_up))
    if len(points) == 1:
        points.append((f_under + 0.001, 0.0))
    return tuple(points)


def clip_curve(curve: Curve, low: float, high: float) -> Curve:
    """The curve bounded to [low, high], with a knot where it crosses a bound or zero (so that
    scaling its two signs differently keeps it piecewise linear)."""
    out: list[tuple[float, float]] = []
    levels = (low, 0.0, high)
    for k, (f, y) in enumerate(curve):
        if k:
            f0, y0 = curve[k - 1]
            for level in levels:
                if (y0 - level) * (y - level) < 0:
                    out.append((f0 + (f - f0) * (level - y0) / (y - y0), level))
        out.append((f, min(high, max(low, y))))
    return tuple(out)


def droop_curve(
    params: DroopSettings, baseline: float, low: float, high: float, rated: float
) -> Curve:
    """A single EVSE's frequency-watt curve for a droop of `rated` W over the droop % (Hz, W
    added to the baseline), bounded to [low, high]: the aggregate curve of one EVSE."""
    scaled = params.model_copy(
        update={"p_ref_w": rated, "gain_over_w_per_hz": None, "gain_under_w_per_hz": None}
    )
    down, up = max(0.0, baseline - low), max(0.0, high - baseline)
    return clip_curve(aggregate_curve(scaled, down, up), -down, up)


def _volt_curves(params: DroopSettings, shortfalls: list[Shortfall]) -> tuple[Curve, Curve]:
    """Volt-var as (% of nominal V, % of reactive rating, + inject) and volt-watt as (% of
    nominal V, W of the whole target) for the stations."""
    volt_var: Curve = ()
    volt_watt: Curve = ()
    if params.volt_var is not None:
        if params.volt_var.y_unit is CurveUnit.VAR:
            shortfalls.append(
                Shortfall(
                    ReasonCode.NOT_CAPABLE,
                    "volt-var is executed in % of each EVSE's reactive rating: give y in "
                    "PCT_MAX_VAR or PCT_VAR_AVAIL",
                )
            )
        else:
            volt_var = _in_percent_v(params.volt_var)
    if params.volt_watt is not None:
        scale = 1.0 if params.volt_watt.y_unit is CurveUnit.W else params.reference_w / 100.0
        volt_watt = tuple((x, y * scale) for x, y in _in_percent_v(params.volt_watt))
    return volt_var, volt_watt


def _in_percent_v(curve: DerCurve) -> Curve:
    scale = 100.0 / NOMINAL_V if curve.x_unit is CurveUnit.V else 1.0
    return tuple((p.x * scale, p.y) for p in curve.points)
