"""The periods of one charging profile: the controls in force composed over time, in the
station's unit and rounding, within the number of periods it takes.

Pure helpers of `profiles.plan_calls` (docs/ocpp-mapping.md, "Schedules, units and rounding"):
a period per interval between control ends, W or A per phase, caps rounded down so that
rounding never lets more through than asked, and periods beyond `PeriodsPerSchedule` merged
into the strictest caps of them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from fcsbe.server.adapters.ocpp.ledger import Held

if TYPE_CHECKING:
    from fcsbe.server.adapters.ocpp.profiles import StationLimits

__all__ = ["VENDOR_ID", "Schedule", "schedule_of", "staircase"]

VENDOR_ID = "org.fcsbe"
"""`customData.vendorId` of what OCPP 2.1 has no field for (FFR timing, response times)."""


def floor_cap(value: float) -> float:
    """A cap for the wire: non-negative, rounded down to 0.1 (never above what was asked)."""
    return max(0.0, round(math.floor(value * 10 + 1e-6) / 10, 1))


def near(value: float, low: float, high: float) -> float:
    return min(max(round(value, 1), low), high) + 0.0


def bounds(held: Sequence[Held]) -> tuple[float | None, float | None]:
    """(max import W, max export W) of every limit and droop range in force (None: free)."""
    imports = [h.get("max_import_w") for h in held if h.kind == "limit"]
    exports = [h.get("max_export_w") for h in held if h.kind == "limit"]
    for h in held:
        if h.kind == "droop":
            imports.append(max(0.0, h.get("p_max_w") or 0.0))
            exports.append(max(0.0, -(h.get("p_min_w") or 0.0)))
    imp = [max(0.0, x) for x in imports if x is not None]
    exp = [max(0.0, x) for x in exports if x is not None]
    return (min(imp) if imp else None, min(exp) if exp else None)


def staircase(levels: Sequence[tuple[float, float, float]]) -> tuple[tuple[float, float], ...]:
    """Every FFR trigger level (Hz, total ΔP W at and beyond it, full-activation s) as one
    frequency-watt curve of increasing frequency: a step of 10 mHz into each level, so that a
    deeper level takes over from the one before it."""
    under = [lv for lv in levels if lv[1] < 0]
    over = [lv for lv in levels if lv[1] >= 0]
    points: list[tuple[float, float]] = []
    under.sort()  # deepest (lowest Hz, largest change) first
    for i, (f, delta, _) in enumerate(under):
        after = under[i + 1][1] if i + 1 < len(under) else 0.0
        points += [(round(f, 3), delta), (round(f + 0.01, 3), after)]
    over.sort()
    for i, (f, delta, _) in enumerate(over):
        before = over[i - 1][1] if i else 0.0
        points += [(round(f - 0.01, 3), before), (round(f, 3), delta)]
    out: list[tuple[float, float]] = []
    for f, w in points:
        if not out or f > out[-1][0]:
            out.append((f, w))
    return tuple(out)


def curve(armed: Held) -> list[tuple[float, float]]:
    """The frequency-watt curve (Hz, W added to the baseline) of an armed droop or FFR."""
    if armed.points:
        return [(round(f, 4), round(w, 1)) for f, w in armed.points]
    if armed.kind == "ffr":
        trigger, delta = armed.get("trigger_hz") or 0.0, armed.get("delta_p_w") or 0.0
        if delta < 0:
            return [(round(trigger, 3), delta), (round(trigger + 0.01, 3), 0.0)]
        return [(round(trigger - 0.01, 3), 0.0), (round(trigger, 3), delta)]
    f_ref, band = armed.get("f_ref_hz") or 50.0, armed.get("deadband_hz") or 0.0
    p_ref = armed.get("p_ref_w")
    if p_ref is None:
        p_ref = max(armed.get("p_max_w") or 0.0, -(armed.get("p_min_w") or 0.0))
    full = f_ref * (armed.get("droop_pct") or 5.0) / 100.0
    under = armed.get("droop_under_pct")
    band_under = armed.get("deadband_under_hz")
    band_under = band if band_under is None else band_under
    full_under = full if under is None else f_ref * under / 100.0
    raw = [
        (f_ref - band_under - full_under, -p_ref),
        (f_ref - band_under, 0.0),
        (f_ref + band, 0.0),
        (f_ref + band + full, p_ref),
    ]
    out: list[tuple[float, float]] = []
    for f, p in raw:
        f = round(f, 4)
        if not out or f > out[-1][0]:
            out.append((f, round(p, 1)))
    return out


def armed_custom(armed: Held) -> dict[str, Any]:
    custom: dict[str, Any] = {"vendorId": VENDOR_ID}
    names = {
        "response_time_s": "responseTime",
        "full_activation_time_s": "fullActivationTime",
        "support_duration_s": "supportDuration",
        "rearm_s": "rearmTime",
        "detection_delay_s": "detectionDelay",
        "deactivation_ramp_s": "deactivationRamp",
        "latched": "latched",
    }
    for name, wire in names.items():
        value = armed.get(name)
        if value is not None:
            custom[wire] = bool(value) if name == "latched" else value
    return custom


def period_of(held: Sequence[Held], evse: int, limits: StationLimits) -> dict[str, Any] | None:
    """The period (in W) of the controls in force, or None when nothing binds the station."""
    imp, exp = bounds(held)
    setpoint = next((h for h in held if h.kind == "setpoint"), None)
    armed = next((h for h in held if h.kind in ("droop", "ffr")), None)
    two_way = limits.bidirectional
    period: dict[str, Any] = {}
    low = -exp if exp is not None else -math.inf
    high = imp if imp is not None else math.inf
    if not two_way or evse == 0:
        cap = imp
        if setpoint is not None and evse != 0:
            p_w = max(0.0, setpoint.get("p_w") or 0.0)
            cap = p_w if cap is None else min(cap, p_w)
        if cap is None:
            return None  # a period without an operation mode (ChargingOnly) needs a limit
        period["limit"] = cap
        if two_way and exp is not None:
            period["dischargeLimit"] = -exp
        return period
    if imp is not None:
        period["limit"] = imp
    if exp is not None:
        period["dischargeLimit"] = -exp
    local = armed is not None and (armed.kind == "ffr" or not limits.der or bool(armed.points))
    if local and armed is not None:
        base = setpoint.get("p_w") or 0.0 if setpoint is not None else 0.0
        period["operationMode"] = "LocalFrequency"
        period["v2xBaseline"] = near(base, low, high)
        period["v2xFreqWattCurve"] = curve(armed)
        period["customData"] = armed_custom(armed)
    elif setpoint is not None:
        period["operationMode"] = "CentralSetpoint"
        period["setpoint"] = setpoint.get("p_w") or 0.0
        q_var = setpoint.get("q_var")
        if q_var is not None:
            period["setpointReactive"] = q_var
    elif imp is None:
        return None  # charging only (no discharge to cap): nothing binds without an import cap
    return period


def wire(period: dict[str, Any], limits: StationLimits) -> dict[str, Any]:
    """A period in the station's unit and rounding, as OCPP-J."""
    scale = 1.0 if limits.unit == "W" else 1.0 / (limits.phases * limits.voltage_v)
    out: dict[str, Any] = {"startPeriod": period["startPeriod"]}
    high = math.inf
    low = -math.inf
    if "limit" in period:
        out["limit"] = high = floor_cap(period["limit"] * scale)
    if "dischargeLimit" in period:
        out["dischargeLimit"] = low = -floor_cap(-period["dischargeLimit"] * scale) + 0.0
    if "operationMode" in period:
        out["operationMode"] = period["operationMode"]
    if "setpoint" in period:
        out["setpoint"] = near(period["setpoint"] * scale, low, high)
    if "setpointReactive" in period:
        out["setpointReactive"] = round(period["setpointReactive"] * scale, 1)
    if "v2xBaseline" in period:
        out["v2xBaseline"] = near(period["v2xBaseline"] * scale, low, high)
        out["v2xFreqWattCurve"] = [
            {"frequency": f, "power": round(p * scale, 1)} for f, p in period["v2xFreqWattCurve"]
        ]
        out["customData"] = period["customData"]
    if limits.unit == "A":
        out["numberPhases"] = limits.phases
    return out


def merge(periods: list[dict[str, Any]]) -> dict[str, Any]:
    """Periods that do not fit `periods_per_schedule` as one: the strictest caps of them all,
    and what they share otherwise. Setpoints that differ become caps (as on a station without
    V2X), so the merged period never lets more through than any of them asked."""
    merged: dict[str, Any] = {"startPeriod": periods[0]["startPeriod"]}
    keys = {k for p in periods for k in p} - {"startPeriod", "limit", "dischargeLimit"}
    for key in sorted(keys):
        values = [p[key] for p in periods if key in p]
        if len(values) == len(periods) and all(v == values[0] for v in values):
            merged[key] = values[0]
    caps = [p["limit"] for p in periods if "limit" in p]
    if "setpoint" not in merged:
        caps += [max(0.0, p["setpoint"]) for p in periods if "setpoint" in p]
    floors = [p["dischargeLimit"] for p in periods if "dischargeLimit" in p]
    if caps:
        merged["limit"] = min(caps)
    if floors:
        merged["dischargeLimit"] = max(floors)
    if merged.get("operationMode") == "CentralSetpoint" and "setpoint" not in merged:
        del merged["operationMode"]
        merged.pop("setpointReactive", None)
    if merged.get("operationMode") == "LocalFrequency" and "v2xFreqWattCurve" not in merged:
        for key in ("operationMode", "v2xBaseline", "customData"):
            merged.pop(key, None)
    return merged


@dataclass(frozen=True, slots=True)
class Schedule:
    periods: list[dict[str, Any]]
    valid_to: datetime | None


def schedule_of(held: Sequence[Held], evse: int, limits: StationLimits, now: datetime) -> Schedule:
    """The periods of one profile from `now`: a new period where a control ends; cut where
    nothing binds any more (the controls in force only shrink with time)."""
    ends = sorted({int((h.valid_until - now).total_seconds()) for h in held if h.valid_until})
    starts = [0, *ends]
    open_ended = any(h.valid_until is None for h in held)
    periods: list[dict[str, Any]] = []
    valid_to: datetime | None = None
    for i, start in enumerate(starts):
        if i == len(starts) - 1 and not open_ended:
            valid_to = now + timedelta(seconds=start)
            break
        in_force = [
            h
            for h in held
            if h.valid_until is None or int((h.valid_until - now).total_seconds()) > start
        ]
        period = period_of(in_force, evse, limits)
        if period is None:
            valid_to = now + timedelta(seconds=start)
            break
        period = wire({"startPeriod": start} | period, limits)
        if periods and {k: v for k, v in periods[-1].items() if k != "startPeriod"} == {
            k: v for k, v in period.items() if k != "startPeriod"
        }:
            continue
        periods.append(period)
    room = max(1, limits.periods_per_schedule)
    if len(periods) > room:
        periods = [*periods[: room - 1], merge(periods[room - 1 :])]
    return Schedule(periods, valid_to)
