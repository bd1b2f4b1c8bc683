"""Inputs and outputs of execution planning: what is known of each EVSE, and what each gets.

Planning is pure: the caller (the FS decision and the lifecycle) loads the live state of the
EVSEs, turns it into `EvseState` values and passes them in with the request and the time; the
planners return a `Plan` without touching a database, a clock or a station. Keeping the inputs
plain dataclasses (not ORM rows, not API models) lets the same planners run in the decision, in
the scheduler and in property tests with thousands of generated EVSEs.

Sign convention as everywhere in fcsbe: power is positive for import (the EV charges), negative
for export (V2G). Headroom and limits are magnitudes (>= 0) with the direction in the name.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime

from fcsbe.model import FsResult, FsType, GridFunction, ReasonCode

__all__ = [
    "ArmedFunction",
    "EvsePlan",
    "EvseState",
    "Feasibility",
    "FfrStep",
    "Plan",
    "PlanStep",
    "Reservation",
    "Shortfall",
]

_EPSILON_W = 1e-6
"""Below this, a power difference is rounding, not a shortfall."""


MUST_CHARGE_HORIZON_H = 1.0
"""Horizon of the latest-start rule for EV-user minimums (see `EvseState.must_charge_w`)."""


@dataclass(frozen=True, slots=True)
class EvseState:
    """What planning needs to know of one EVSE now.

    `max_import_w` / `max_export_w` are the headroom already limited by the EVSE, the EV, the
    site, other FS, the EV user's consent and the SoC (export > 0 means discharge is allowed up to
    it). `energy_to_min_soc_wh` is the energy still needed to reach the EV user's minimum SoC at
    `departure`; `energy_to_target_wh` what the EV would like in total (defaults to the minimum).
    `export_energy_left_wh` is what the EV user still allows to give back to the grid.

    `site_other_w` is the rest of the site's point of connection now: its household or building
    load minus PV (+ import; negative when PV exceeds the load), and `site_import_limit_w` /
    `site_export_limit_w` the connection's limits (0 export: the zero-export rule of a home).
    Every EVSE of one site carries the same three values; planners that judge the connection
    point (congestion, V2H) take them once per site. `site_other_known` says whether the
    stations reported the rest of the site at all (False: `site_other_w` is an assumed 0).
    """

    evse_id: str
    site_id: str
    connected: bool
    p_w: float = 0.0
    max_import_w: float = 0.0
    max_export_w: float = 0.0
    soc_pct: float | None = None
    capacity_wh: float | None = None
    departure: datetime | None = None
    energy_to_min_soc_wh: float = 0.0
    energy_to_target_wh: float | None = None
    v2g_allowed: bool = False
    grid_node: str | None = None
    soc_floor_pct: float = 0.0
    export_energy_left_wh: float = math.inf
    site_other_w: float = 0.0
    site_other_known: bool = False
    site_import_limit_w: float = math.inf
    site_export_limit_w: float = math.inf

    @property
    def import_room_w(self) -> float:
        """Charging headroom usable now (0 when no EV is connected)."""
        return max(self.max_import_w, 0.0) if self.connected else 0.0

    @property
    def export_room_w(self) -> float:
        """Discharging headroom usable now: only with an EV connected and V2G allowed."""
        if not (self.connected and self.v2g_allowed) or self.export_energy_left_wh <= 0:
            return 0.0
        return max(self.max_export_w, 0.0)

    @property
    def wanted_wh(self) -> float:
        """Energy the EV wants: the target, never less than the minimum it needs."""
        target = self.energy_to_target_wh
        return max(self.energy_to_min_soc_wh, target if target is not None else 0.0)

    @property
    def energy_above_floor_wh(self) -> float:
        """Battery energy above the EV user's SoC floor; infinite when the SoC is unknown."""
        if self.soc_pct is None or self.capacity_wh is None:
            return math.inf
        return max(0.0, (self.soc_pct - self.soc_floor_pct) / 100.0 * self.capacity_wh)

    @property
    def energy_to_full_wh(self) -> float:
        """Room left in the battery; infinite when the SoC is unknown."""
        if self.soc_pct is None or self.capacity_wh is None:
            return math.inf
        return max(0.0, (100.0 - self.soc_pct) / 100.0 * self.capacity_wh)

    def must_charge_w(self, now: datetime, horizon_h: float = MUST_CHARGE_HORIZON_H) -> float:
        """Least power over the next `horizon_h` that still reaches the minimum SoC by departure.

        Latest-start rule: the EV must take now only what it could not still take after the
        horizon at full power. An EV with hours to spare has no floor, so a flexibility setpoint
        below the average charging need stays reachable; near departure the floor rises to full
        power. Plans are recomputed well within the horizon, so the guarantee holds throughout.
        An EV with a need and a departure in the past (or now) takes all it can; an EV without a
        known departure has no deadline and so no floor.
        """
        need = self.energy_to_min_soc_wh
        if need <= 0 or not self.connected:
            return 0.0
        if self.departure is None:
            return 0.0
        hours = (self.departure - now).total_seconds() / 3600.0
        if hours <= 0:
            return self.import_room_w
        if hours <= horizon_h:
            return min(need / hours, self.import_room_w)
        later_wh = self.import_room_w * (hours - horizon_h)
        return min(max(0.0, need - later_wh) / horizon_h, self.import_room_w)


@dataclass(frozen=True, slots=True)
class PlanStep:
    """One interval of an EVSE plan, [start, end).

    `setpoint_w` asks the EVSE to follow a power (+ charge, - discharge); without it the EVSE
    only has limits. `max_import_w` / `max_export_w` bound it (None: not bounded by this FS).
    """

    start: datetime
    end: datetime
    setpoint_w: float | None = None
    max_import_w: float | None = None
    max_export_w: float | None = None
    setpoint_var: float | None = None

    @property
    def duration_s(self) -> float:
        """Length of the step in seconds."""
        return (self.end - self.start).total_seconds()


@dataclass(frozen=True, slots=True)
class EvsePlan:
    """The ordered, non-overlapping steps one EVSE is to follow."""

    evse_id: str
    steps: tuple[PlanStep, ...]


@dataclass(frozen=True, slots=True)
class FfrStep:
    """One armed FFR trigger for one EVSE: its share of the power change at that frequency."""

    frequency_hz: float
    full_activation_time_s: float
    delta_p_w: float


@dataclass(frozen=True, slots=True)
class ArmedFunction:
    """A locally executed grid function armed on one EVSE (DROOP or FFR).

    The station runs it from its own measurements; nothing here travels at activation time.
    `curve` is the frequency-watt curve (Hz, W added to `baseline_w`), sorted by frequency, that
    both the OCPP 2.1 `v2xFreqWattCurve` and the evidence check use. `p_min_w` / `p_max_w` bound
    the power while the function acts.
    """

    evse_id: str
    function: GridFunction
    start: datetime
    end: datetime
    baseline_w: float
    p_min_w: float
    p_max_w: float
    curve: tuple[tuple[float, float], ...]
    response_time_s: float
    f_ref_hz: float | None = None
    deadband_over_hz: float | None = None
    deadband_under_hz: float | None = None
    droop_over_pct: float | None = None
    droop_under_pct: float | None = None
    triggers: tuple[FfrStep, ...] = ()
    support_duration_s: int | None = None
    deactivation_ramp_s: int | None = None
    rearm_time_s: int | None = None
    evidence_sampling_ms: int | None = None
    p_ref_w: float | None = None
    """The EVSE's share of the ordered reference power (droop % are relative to it)."""
    volt_var: tuple[tuple[float, float], ...] = ()
    """(% of nominal voltage, % of the EVSE's reactive rating, + inject)."""
    volt_watt: tuple[tuple[float, float], ...] = ()
    """(% of nominal voltage, W added to the baseline)."""
    detection_delay_s: float = 0.0
    latched: bool = True


@dataclass(frozen=True, slots=True)
class Reservation:
    """Capacity one EVSE holds for a RESERVE FS around its baseline (UP: less import)."""

    evse_id: str
    baseline_w: float
    up_w: float
    down_w: float


@dataclass(frozen=True, slots=True)
class Shortfall:
    """Why part of a request cannot be committed, for the decision's reasons."""

    code: ReasonCode
    detail: str
    evse_id: str | None = None


@dataclass(frozen=True, slots=True)
class Feasibility:
    """How much of the request the plan can commit to.

    `share_pct` is the committed share of what was asked (100 = all), `committed_w` the committed
    amount when one number says it, `committed_schedule` (start offset s, duration s, power W)
    when it varies per period. `firm` is False for services without a firm commitment (demand
    response, dynamic price): they are accepted whenever some EVSE takes part.
    """

    requested_w: float
    committed_w: float | None
    share_pct: float
    committed_schedule: tuple[tuple[int, int, float], ...] = ()
    shortfalls: tuple[Shortfall, ...] = ()
    firm: bool = True

    def result(self, minimum_acceptance_pct: float) -> FsResult:
        """ACCEPTED when all is committed, PARTIALLY_ACCEPTED from the FO's minimum, else
        REJECTED. A share of zero is never a partial acceptance."""
        if self.share_pct >= 100.0 - 1e-9:
            return FsResult.ACCEPTED
        if self.share_pct > 0.0 and self.share_pct >= minimum_acceptance_pct:
            return FsResult.PARTIALLY_ACCEPTED
        return FsResult.REJECTED


@dataclass(frozen=True, slots=True)
class Plan:
    """Everything planning produced for one FS (or one reserve activation)."""

    fs_type: FsType
    evse_plans: tuple[EvsePlan, ...]
    feasibility: Feasibility
    armed: tuple[ArmedFunction, ...] = ()
    reservations: tuple[Reservation, ...] = ()
    excluded: tuple[str, ...] = field(default=())

    def plan_of(self, evse_id: str) -> EvsePlan | None:
        """The plan of one EVSE, if it takes part."""
        return next((p for p in self.evse_plans if p.evse_id == evse_id), None)


def share_pct(committed: float, requested: float) -> float:
    """Committed share of a requested magnitude, in percent (100 when nothing was asked)."""
    if abs(requested) <= _EPSILON_W:
        return 100.0
    return max(0.0, min(100.0, 100.0 * committed / requested))
