"""Pure rules of the FS decision: power needed per FS type, and splitting a commitment.

Separated from the step (`decision.py`) so the arithmetic is tested on its own.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from fcsbe.model import (
    DroopSettings,
    EnergyRequest,
    EvuLimits,
    FfrSettings,
    FlexibilityServiceRequest,
    FsType,
    ReasonCode,
    ReserveOffer,
    SetpointSchedule,
    StateOfCharge,
)
from fcsbe.server.planning import EvseState, Feasibility, SplitBasis, plan_fs
from fcsbe.server.planning.reserve import window_rooms
from fcsbe.server.services.registry.capabilities import ocpp_refusal

__all__ = [
    "EXCLUSIVE_TYPES",
    "EvuBound",
    "Need",
    "allocate",
    "committed_fraction",
    "evse_state",
    "evu_bound",
    "ocpp_refusal",
    "power_need",
    "scale_request",
    "too_slow",
]

EXCLUSIVE_TYPES = frozenset({FsType.SETPOINT, FsType.DROOP, FsType.FFR, FsType.DYNAMIC_PRICE})
"""Types that steer an EVSE's power directly: two of them may not overlap on one EVSE."""


@dataclass(frozen=True, slots=True)
class Need:
    """Firm power an FS needs: import (charging, W ≥ 0) and export (discharging, W ≥ 0)."""

    import_w: float = 0.0
    export_w: float = 0.0
    up_w: float = 0.0
    """Up-regulation (less import or more export): served by stopping charging or by V2G."""

    @property
    def firm(self) -> bool:
        return self.import_w > 0 or self.export_w > 0 or self.up_w > 0

    @property
    def magnitude_w(self) -> float:
        return max(self.import_w, self.export_w, self.up_w)


def power_need(request: FlexibilityServiceRequest) -> Need:
    """The firm power a request asks for (zero for signals without a firm commitment).

    DOWN regulation is import; UP regulation (reserve up, FFR) is served by less import or by
    export, so it counts against both. Demand response,
    dynamic prices and congestion limits carry no firm power commitment.
    """
    p = request.parameters
    if isinstance(p, SetpointSchedule):
        values = [period.p_w for period in p.periods]
        return Need(import_w=max(0.0, max(values)), export_w=max(0.0, -min(values)))
    if isinstance(p, ReserveOffer):
        return Need(import_w=p.down_w, up_w=p.up_w)
    if isinstance(p, FfrSettings):
        return Need(up_w=max(abs(level.delta_p_w) for level in p.trigger_levels))
    if isinstance(p, DroopSettings):
        return Need(import_w=max(0.0, p.p_max_w), export_w=max(0.0, -p.p_min_w))
    return Need()


def too_slow(request: FlexibilityServiceRequest, response_time_s: float) -> str | None:
    """Why a target that reaches 90 % of a change in `response_time_s` cannot deliver the
    order in time, or None when it can. FFR must reach full activation within its time after
    the detection delay; a droop must respond within its ordered response time; a reserve
    within its full-activation time. Orders of no stated speed are never too fast."""
    p = request.parameters
    if isinstance(p, FfrSettings):
        level = min(p.trigger_levels, key=lambda t: t.full_activation_time_s)
        allowed = level.full_activation_time_s - p.detection_delay_s
        what = f"full activation of the {level.frequency_hz:g} Hz level"
    elif isinstance(p, DroopSettings) and p.response_time_s > 0:
        allowed, what = p.response_time_s, "the ordered droop response"
    elif isinstance(p, ReserveOffer):
        allowed, what = float(p.full_activation_time_s), "full activation of the reserve"
    else:
        return None
    if response_time_s <= allowed + 1e-9:
        return None
    return (
        f"responds to 90 % in {response_time_s:g} s; {what} needs {allowed:g} s "
        "(after any detection delay)"
    )


def committed_fraction(need: Need, free_import_w: float, free_export_w: float) -> float:
    """Share of the need (0..1) that the free capacity can carry in both directions."""
    fraction = 1.0
    if need.import_w > 0:
        fraction = min(fraction, free_import_w / need.import_w)
    if need.export_w > 0:
        fraction = min(fraction, free_export_w / need.export_w)
    if need.up_w > 0:
        # up and down are held on the same range [-export, +import]: together they fit in it
        span = need.up_w + need.import_w + need.export_w
        fraction = min(fraction, (free_import_w + free_export_w) / span)
    return max(0.0, fraction)


def allocate(total_w: float, free: dict[str, float]) -> dict[str, float]:
    """Split `total_w` over EVSEs in proportion to their free capacity (never above it)."""
    available = sum(free.values())
    if total_w <= 0 or available <= 0:
        return dict.fromkeys(free, 0.0)
    share = min(1.0, total_w / available)
    return {evse_id: capacity * share for evse_id, capacity in free.items()}


def scale_request(request: FlexibilityServiceRequest, fraction: float) -> FlexibilityServiceRequest:
    """The request with its firm power scaled by `fraction` (a partially accepted FS)."""
    p = request.parameters
    if isinstance(p, SetpointSchedule):
        periods = [period.model_copy(update={"p_w": period.p_w * fraction}) for period in p.periods]
        scaled: object = p.model_copy(update={"periods": periods})
    elif isinstance(p, ReserveOffer):
        scaled = p.model_copy(update={"up_w": p.up_w * fraction, "down_w": p.down_w * fraction})
    elif isinstance(p, FfrSettings):
        levels = [
            level.model_copy(update={"delta_p_w": level.delta_p_w * fraction})
            for level in p.trigger_levels
        ]
        scaled = p.model_copy(update={"trigger_levels": levels})
    else:
        return request
    return request.model_copy(update={"parameters": scaled})


_EPSILON_W = 1e-6
_Part = TypeVar("_Part", bound=BaseModel)


def evse_state(
    evse_id: str,
    site_id: str,
    session_doc: dict[str, Any] | None,
    import_w: float,
    export_w: float,
) -> EvseState:
    """Planner input for one EVSE at decision time: its free headroom and its EV user's limits.

    An EVSE without a connected EV is taken as one that an arriving EV may use up to its
    headroom, without any EV-user limit (the optimistic view the headroom check already takes);
    an EVSE with an EV carries that EV's minimum energy, departure and export allowance from the
    stored session document, the same numbers the execution planner gets from the station.
    """
    if session_doc is None:
        return EvseState(
            evse_id=evse_id,
            site_id=site_id,
            connected=True,
            max_import_w=import_w,
            max_export_w=export_w,
            v2g_allowed=export_w > 0,
        )
    request = _part(EnergyRequest, session_doc.get("energy_request"))
    limits = _part(EvuLimits, session_doc.get("evu_limits"))
    soc = _part(StateOfCharge, session_doc.get("soc"))
    departure = session_doc.get("departure_time")
    give = math.inf
    if request is not None and request.v2x_min_energy_wh is not None:
        give = max(0.0, -request.v2x_min_energy_wh)
    if limits is not None:
        give = min(give, limits.max_energy_to_grid_wh)
    return EvseState(
        evse_id=evse_id,
        site_id=site_id,
        connected=True,
        max_import_w=import_w,
        max_export_w=export_w,
        soc_pct=None if soc is None else float(soc.current_pct),
        departure=_instant(departure),
        energy_to_min_soc_wh=request.min_energy_wh if request is not None else 0.0,
        energy_to_target_wh=request.target_energy_wh if request is not None else None,
        v2g_allowed=export_w > 0,
        soc_floor_pct=limits.soc_floor_pct if limits is not None else 0.0,
        export_energy_left_wh=give,
    )


def _part(model: type[_Part], value: object) -> _Part | None:
    """One part of a stored session document; absent or unreadable parts are unknown."""
    if not isinstance(value, dict):
        return None
    try:
        return model.model_validate(value)
    except ValidationError:
        return None


def _instant(value: object) -> datetime | None:
    """A stored ISO 8601 time (UTC when it carries no offset); None when absent or unreadable."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class EvuBound:
    """What the EV users' limits leave of a request (see `evu_bound`).

    `fraction` is the deliverable share of the firm need (1: not bound). `import_w` /
    `export_w` are the import and export the FS really moves when that differs from the scaled
    need (a SETPOINT held up by a must-charge floor), per EVSE in `import_by_evse`.
    `up_room` is each EVSE's up-regulation room above its floor. `bound` names the EVSEs whose
    user limits bind, `notes` says why.
    """

    fraction: float = 1.0
    floor_w: float = 0.0
    committed_w: float | None = None
    import_w: float | None = None
    export_w: float | None = None
    up_room: dict[str, float] = field(default_factory=dict)
    bound: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()


def evu_bound(
    request: FlexibilityServiceRequest, need: Need, states: Sequence[EvseState], at: datetime
) -> EvuBound:
    """The share of `need` that can be delivered given the EV users' limits at `at` (the later
    of now and the window start).

    Each EVSE can move within [lo, hi] of `SplitBasis.for_setpoint`, the basis every planner
    uses: hi its free import headroom, lo the power it must charge by the latest-start rule
    (`EvseState.must_charge_w`) or, without such a floor, minus the export its user allows.
    SETPOINT: the share the setpoint planner itself commits (a setpoint below Σ lo is reached
    only as Σ lo). UP regulation (reserve up, FFR): Σ (hi - lo). DOWN / import: Σ hi. Export
    (droop below zero): Σ max(0, -lo). CONGESTION: the planner's EVU_LIMIT shortfalls. Demand
    response and dynamic prices carry no firm amount: they are bound only when no EVSE has room
    above its floor.
    """
    basis = SplitBasis.for_setpoint(states, at)
    free = _without_user_limits(states)
    basis_free = SplitBasis.for_setpoint(free, at)
    floors = dict(zip(basis.evse_ids, basis.anchor, strict=True))
    floor_w = basis.sum_anchor
    export_forbidden = [
        e.evse_id for e in states if e.max_export_w > _EPSILON_W and e.export_room_w <= 0
    ]
    up_room = {
        evse_id: high - low
        for evse_id, low, high in zip(basis.evse_ids, basis.lo, basis.hi, strict=True)
    }
    must = tuple(i for i, w in floors.items() if w > _EPSILON_W)
    fraction = 1.0
    committed: float | None = None
    imp: float | None = None
    exp: float | None = None
    notes: list[str] = []
    if isinstance(request.parameters, SetpointSchedule):
        feasibility = plan_fs(request, states, at).feasibility
        unbound = plan_fs(request, free, at).feasibility.share_pct
        reached = [p for *_, p in feasibility.committed_schedule]
        asked = max((p.p_w for p in request.parameters.periods), default=0.0)
        if reached and feasibility.share_pct < unbound - 1e-9:
            fraction = feasibility.share_pct / 100.0
            lifted = [r for r, a in _pairs(request, feasibility) if r > a + _EPSILON_W]
            if floor_w > _EPSILON_W and any(r > _EPSILON_W for r in lifted):
                committed = max(abs(r) for r in reached)
                imp, exp = max(0.0, max(reached)), max(0.0, -min(reached))
                notes.append(
                    f"EVs that must reach their users' minimum SoC take {basis.sum_lo:.0f} W "
                    f"whatever the setpoint ({asked:.0f} W asked)"
                )
            else:
                notes.append("EV users' limits (SoC floor, energy to grid) leave less export")
    else:
        if isinstance(request.parameters, ReserveOffer):
            fraction, leaving = _reserve_window(
                request,
                request.parameters,
                states,
                at,
                notes,
                basis_free.sum_hi - basis_free.sum_lo,
            )
            export_forbidden += leaving
        if need.up_w > 0:
            up = sum(up_room.values())
            if up < min(need.up_w, basis_free.sum_hi - basis_free.sum_lo) - _EPSILON_W:
                fraction = min(fraction, up / need.up_w)
                notes.append(
                    f"{floor_w:.0f} W must keep charging for EV users' minimums: "
                    f"{up:.0f} W of up-regulation left"
                )
        if need.export_w > 0:
            room = sum(max(0.0, -low) for low in basis.lo)
            room_free = sum(max(0.0, -low) for low in basis_free.lo)
            if room < min(need.export_w, room_free) - _EPSILON_W:
                fraction = min(fraction, room / need.export_w)
                notes.append(f"EV users' limits leave {room:.0f} W of export")
        if request.fs_type is FsType.CONGESTION:
            shortfalls = plan_fs(request, states, at).feasibility.shortfalls
            for short in shortfalls:
                if short.code is ReasonCode.EVU_LIMIT:
                    notes.append(f"{short.evse_id}: {short.detail}")
        elif not need.firm and must and basis.sum_hi - floor_w <= _EPSILON_W:
            notes.append("every EV must charge at full power for its user's minimum SoC")
    bound = must + tuple(e for e in export_forbidden if e not in must)
    return EvuBound(
        fraction=max(0.0, fraction),
        floor_w=floor_w,
        committed_w=committed,
        import_w=imp,
        export_w=exp,
        up_room=up_room,
        bound=bound if notes else (),
        notes=tuple(notes),
    )


def _reserve_window(
    request: FlexibilityServiceRequest,
    offer: ReserveOffer,
    states: Sequence[EvseState],
    at: datetime,
    notes: list[str],
    headroom_w: float,
) -> tuple[float, list[str]]:
    """RESERVE: the share of the offer the EVSEs can hold through the whole window (the
    planner's `window_rooms`: EVs leaving inside it hold nothing; the energy each EV must
    still take by its departure sets a floor over the window; a battery that fills up or
    empties within it bounds what it can hold), and the EVSEs whose EV leaves too early.

    The present power is not known here: each EVSE is taken at the top of its range, so up
    and down together must fit in Σ (hi - lo), down alone in Σ (hi - max(lo, 0)). The EVs are
    named as the cause (a note) only when they hold less than the free headroom (`headroom_w`,
    without the users' limits) would: when other FS already hold the EVSEs, the headroom is.
    """
    rooms = window_rooms(states, request.window.start, request.window.end, at)
    held = [r for r in rooms if r.excluded is None]
    leaving = [r.evse_id for r in rooms if r.excluded is not None]
    span = sum(r.hi_w - r.lo_w for r in held)
    down = sum(r.hi_w - max(r.lo_w, 0.0) for r in held)
    fraction = 1.0
    asked = offer.up_w + offer.down_w
    if asked > 0 and span < asked - _EPSILON_W:
        fraction = span / asked
    if offer.down_w > 0 and down < offer.down_w - _EPSILON_W:
        fraction = min(fraction, down / offer.down_w)
    if fraction < 1.0 and span < min(asked, headroom_w) - _EPSILON_W:
        why = f"{len(leaving)} EV(s) leave inside the window; " if leaving else ""
        notes.append(
            f"{why}over the whole window the EVs can hold {span:.0f} W of reserve "
            f"({asked:.0f} W offered)"
        )
    return max(0.0, fraction), leaving


def _without_user_limits(states: Sequence[EvseState]) -> list[EvseState]:
    """The same EVSEs as if their users set no minimum and allowed any export: what headroom
    alone would give, to tell the users' limits from the headroom as the cause of a shortfall."""
    return [
        replace(
            e,
            energy_to_min_soc_wh=0.0,
            export_energy_left_wh=math.inf,
            v2g_allowed=e.max_export_w > 0,
        )
        for e in states
    ]


def _pairs(
    request: FlexibilityServiceRequest, feasibility: Feasibility
) -> list[tuple[float, float]]:
    """(reached, asked) per committed setpoint period."""
    params = request.parameters
    if not isinstance(params, SetpointSchedule):
        return []
    asked = {p.start_offset_s: p.p_w for p in params.periods}
    return [(p, asked.get(offset, p)) for offset, _, p in feasibility.committed_schedule]
