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
from itertools import pairwise

__all__ = [
    "ClearControl",
    "Control",
    "Curve",
    "DroopControl",
    "FfrControl",
    "FfrLevel",
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


Curve = tuple[tuple[float, float], ...]
"""A piecewise-linear curve: (x, y) points with x strictly increasing, flat beyond its ends."""


def _check_curve(name: str, curve: Curve) -> None:
    if curve and (len(curve) < 2 or any(b[0] <= a[0] for a, b in pairwise(curve))):
        raise ValueError(f"{name} needs at least two points with x strictly increasing")


@dataclass(frozen=True, slots=True)
class DroopControl:
    """Frequency droop f -> P (UC 2.3), computed locally from the site's frequency every step.

    With a `curve` of (Hz, W added to the base power) points, that curve is the response (a
    frequency-watt curve with deadband and knees, e.g. Dynamic Containment); without one,
    outside the deadband dP = (f - f_ref -/+ deadband) / f_ref / (droop_pct / 100) * p_ref_w,
    with the `_under` settings below f_ref when given (asymmetric droop). A low frequency lowers
    import (or raises export). The result, added to the power otherwise in force, is kept within
    [p_min_w, p_max_w]. `p_ref_w` defaults to the EVSE's maximum charge power.

    `response_time_s` is the ordered time to 90 % of a change (as grid codes measure it): the
    station shapes its response so that, with its own latency and rise, 90 % is reached then
    (0 = as fast as the EVSE can). `volt_var` (% of nominal voltage -> % of the EVSE's reactive
    rating, + = inject: the EVSE then meters a negative q_var, + being absorbed) and
    `volt_watt` (% of nominal voltage -> W added to the base power) act on the site's voltage
    the same way.
    """

    f_ref_hz: float
    deadband_hz: float
    droop_pct: float
    p_min_w: float
    p_max_w: float
    p_ref_w: float | None = None
    response_time_s: float = 0.0
    deadband_under_hz: float | None = None
    droop_under_pct: float | None = None
    curve: Curve = ()
    volt_var: Curve = ()
    volt_watt: Curve = ()

    def __post_init__(self) -> None:
        if not self.droop_pct > 0 or (
            self.droop_under_pct is not None and self.droop_under_pct <= 0
        ):
            raise ValueError("droop_pct must be > 0")
        if not self.f_ref_hz > 0 or self.deadband_hz < 0 or self.response_time_s < 0:
            raise ValueError("f_ref_hz must be > 0, deadband_hz and response_time_s >= 0")
        if self.deadband_under_hz is not None and self.deadband_under_hz < 0:
            raise ValueError("deadband_under_hz must be >= 0")
        if self.p_min_w > self.p_max_w:
            raise ValueError("p_min_w must be <= p_max_w")
        for name in ("curve", "volt_var", "volt_watt"):
            _check_curve(name, getattr(self, name))


FfrLevel = tuple[float, float, float]
"""One FFR trigger level: (trigger Hz, ΔP W at full activation, full-activation time s)."""


@dataclass(frozen=True, slots=True)
class FfrControl:
    """Pre-armed fast frequency response (UC 2.4), activated locally, never over the API.

    `levels` are every trigger level (the single `trigger_hz`/`delta_p_w` level when empty);
    each level's ΔP is the total change while the frequency is at or beyond it (below nominal:
    at or below the trigger; above: at or above). When the frequency crosses a level, the
    station waits `detection_delay_s` (a measurement window against false triggers), then
    commands the deepest level reached; a deeper level crossed later escalates the response.
    The EVSE's latency, rise and ramp limit shape what it delivers. The support is held
    `support_duration_s` after full activation; `latched` holds it whatever the frequency does,
    unlatched it ends once the frequency is back inside every level. Then the power returns to
    the base over `deactivation_ramp_s`, and the triggers re-arm `rearm_s` later.
    """

    trigger_hz: float
    delta_p_w: float
    full_activation_time_s: float
    support_duration_s: float
    rearm_s: float = 0.0
    levels: tuple[FfrLevel, ...] = ()
    detection_delay_s: float = 0.0
    deactivation_ramp_s: float = 0.0
    latched: bool = True

    def __post_init__(self) -> None:
        if (
            not self.trigger_hz > 0
            or self.full_activation_time_s < 0
            or self.support_duration_s < 0
            or self.rearm_s < 0
            or self.detection_delay_s < 0
            or self.deactivation_ramp_s < 0
        ):
            raise ValueError("trigger_hz must be > 0 and the times >= 0")
        for hz, _dp, fat in self.levels:
            if not hz > 0 or fat < 0:
                raise ValueError("every level needs a trigger > 0 Hz and a time >= 0")

    @property
    def all_levels(self) -> tuple[FfrLevel, ...]:
        """Every trigger level (the single one when `levels` is empty)."""
        if self.levels:
            return self.levels
        return ((self.trigger_hz, self.delta_p_w, self.full_activation_time_s),)


@dataclass(frozen=True, slots=True)
class ClearControl:
    """Remove every control: the EVSE reverts to unmanaged charging (at max until the target)."""


Control = SetpointControl | LimitControl | DroopControl | FfrControl | ClearControl
