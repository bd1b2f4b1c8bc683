"""Execution planning of flexibility services: what each EVSE does for an FS, and how much of
the FS can be committed.

Pure functions over plain values (`EvseState` in, `Plan` out): no SQL, no I/O, no clock. The FS
decision calls `plan_fs` to learn the committed share (`Plan.feasibility`); the lifecycle calls it
again at start (and on changes) and hands the per-EVSE plans and armed functions to the station
adapter; dynamic setpoints use `SplitBasis.for_setpoint` once and `split_setpoint` per update;
reserve activations use `plan_reserve_activation`. One module per FS type says its rule.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from fcsbe.model import FlexibilityServiceRequest, FsType
from fcsbe.server.planning.allocation import SplitBasis, split_setpoint, split_total
from fcsbe.server.planning.congestion import behind_node, plan_congestion
from fcsbe.server.planning.demand_response import plan_demand_response
from fcsbe.server.planning.droop import droop_curve, plan_droop
from fcsbe.server.planning.dynamic_price import ROUND_TRIP_EFFICIENCY, plan_dynamic_price
from fcsbe.server.planning.ffr import ffr_curve, plan_ffr
from fcsbe.server.planning.reserve import plan_reserve, plan_reserve_activation
from fcsbe.server.planning.setpoint import plan_setpoint
from fcsbe.server.planning.types import (
    ArmedFunction,
    EvsePlan,
    EvseState,
    Feasibility,
    FfrStep,
    Plan,
    PlanStep,
    Reservation,
    Shortfall,
)

__all__ = [
    "ROUND_TRIP_EFFICIENCY",
    "ArmedFunction",
    "EvsePlan",
    "EvseState",
    "Feasibility",
    "FfrStep",
    "Plan",
    "PlanStep",
    "Reservation",
    "Shortfall",
    "SplitBasis",
    "behind_node",
    "droop_curve",
    "ffr_curve",
    "plan_congestion",
    "plan_demand_response",
    "plan_droop",
    "plan_dynamic_price",
    "plan_ffr",
    "plan_fs",
    "plan_reserve",
    "plan_reserve_activation",
    "plan_setpoint",
    "split_setpoint",
    "split_total",
]

Planner = Callable[[FlexibilityServiceRequest, Sequence[EvseState], datetime], Plan]

PLANNERS: dict[FsType, Planner] = {
    FsType.SETPOINT: plan_setpoint,
    FsType.DEMAND_RESPONSE: plan_demand_response,
    FsType.DROOP: plan_droop,
    FsType.FFR: plan_ffr,
    FsType.RESERVE: plan_reserve,
    FsType.DYNAMIC_PRICE: plan_dynamic_price,
    FsType.CONGESTION: plan_congestion,
}
"""The planner of each FS type."""


def plan_fs(request: FlexibilityServiceRequest, evses: Sequence[EvseState], now: datetime) -> Plan:
    """Plan an FS of any type over `evses` (the EVSEs of its resolved targets) as of `now`."""
    return PLANNERS[request.fs_type](request, evses, now)
