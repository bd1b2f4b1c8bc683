"""Controls the server's station adapter applies to simulated EVSEs, sites and grid nodes.

They mirror what a CSBE would send to real chargers (OCPP 2.1 SetChargingProfile setpoints and
limits, SetDERControl FreqDroop, pre-armed fast frequency response), reduced to the numbers the
physics needs. They are plain frozen dataclasses so the adapter can build them without knowing the
engine, and so a test can compare them. Validation is limited to what would make the physics
meaningless (a zero droop, a negative time).

Sign convention: positive power is import (charging), negative is export (discharging).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "ClearControl",
    "Control",
    "DroopControl",
    "FfrControl",
    "LimitControl",
    "SetpointControl",
]


@dataclass(frozen=True, slots=True)
class SetpointControl:
    """Follow an active-power setpoint (UC 2.1); per site it is the point-of-connection target.

    Values between 0 and the EVSE's `min_charge_w` round to the nearer of the two, as a real
    charger cannot offer less than its minimum current. `q_var` is clamped to the EVSE's reactive
    capability.
    """

    p_w: float
    q_var: float | None = None


@dataclass(frozen=True, slots=True)
class LimitControl:
    """Cap import and/or export (UC 2.7 congestion, UC 2.2 shifting); None leaves a side free.

    On an EVSE it bounds whatever else is in force (unmanaged charging or a setpoint). On a site
    or a grid node it bounds the aggregate at the point of connection. It never overrides the EV
    user's minimum SoC at departure: only the physical connection limit can do that.
    """

    max_import_w: float | None = None
    max_export_w: float | None = None

    def __post_init__(self) -> None:
        for name in ("max_import_w", "max_export_w"):
            value = getattr(self, name)
            if value is not None and not value >= 0:
                raise ValueError(f"{name} must be >= 0 (a magnitude)")


@dataclass(frozen=True, slots=True)
class DroopControl:
    """Frequency droop f -> P (UC 2.3), computed locally from the site's frequency every step.

    Outside the deadband, dP = (f - f_ref -/+ deadband) / f_ref / (droop_pct / 100) * p_ref_w: a low
    frequency lowers import (or raises export). The result, added to the power otherwise in force,
    is kept within [p_min_w, p_max_w]. `p_ref_w` defaults to the EVSE's maximum charge power;
    `response_time_s` is the time constant of a first-order lag (0 = immediate).
    """

    f_ref_hz: float
    deadband_hz: float
    droop_pct: float
    p_min_w: float
    p_max_w: float
    p_ref_w: float | None = None
    response_time_s: float = 0.0

    def __post_init__(self) -> None:
        if not self.droop_pct > 0:
            raise ValueError("droop_pct must be > 0")
        if not self.f_ref_hz > 0 or self.deadband_hz < 0 or self.response_time_s < 0:
            raise ValueError("f_ref_hz must be > 0, deadband_hz and response_time_s >= 0")
        if self.p_min_w > self.p_max_w:
            raise ValueError("p_min_w must be <= p_max_w")


@dataclass(frozen=True, slots=True)
class FfrControl:
    """Pre-armed fast frequency response (UC 2.4), activated locally, never over the API.

    When the site frequency crosses `trigger_hz` (from above if the trigger is below nominal, from
    below otherwise), the power changes by `delta_p_w` (signed: negative for under-frequency, i.e.
    less import / more export) linearly within `full_activation_time_s`, is held for
    `support_duration_s` after full activation, drops back, and re-arms `rearm_s` later.
    """

    trigger_hz: float
    delta_p_w: float
    full_activation_time_s: float
    support_duration_s: float
    rearm_s: float = 0.0

    def __post_init__(self) -> None:
        if (
            not self.trigger_hz > 0
            or self.full_activation_time_s < 0
            or self.support_duration_s < 0
            or self.rearm_s < 0
        ):
            raise ValueError("trigger_hz must be > 0 and the times >= 0")


@dataclass(frozen=True, slots=True)
class ClearControl:
    """Remove every control: the EVSE reverts to unmanaged charging (at max until the target)."""


Control = SetpointControl | LimitControl | DroopControl | FfrControl | ClearControl
