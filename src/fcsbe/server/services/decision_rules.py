"""Pure rules of the FS decision: power needed per FS type, and splitting a commitment.

Separated from the step (services/decision.py) so the arithmetic is tested on its own.
"""

from __future__ import annotations

from dataclasses import dataclass

from fcsbe.model import (
    DroopSettings,
    FfrSettings,
    FlexibilityServiceRequest,
    FsType,
    ReserveOffer,
    SetpointSchedule,
)

__all__ = [
    "EXCLUSIVE_TYPES",
    "Need",
    "allocate",
    "committed_fraction",
    "power_need",
    "scale_request",
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


def committed_fraction(need: Need, free_import_w: float, free_export_w: float) -> float:
    """Share of the need (0..1) that the free capacity can carry in both directions."""
    fraction = 1.0
    if need.import_w > 0:
        fraction = min(fraction, free_import_w / need.import_w)
    if need.export_w > 0:
        fraction = min(fraction, free_export_w / need.export_w)
    if need.up_w > 0:
        fraction = min(fraction, (free_import_w + free_export_w) / need.up_w)
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
