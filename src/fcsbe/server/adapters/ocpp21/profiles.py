"""Schedule-based FS types as OCPP 2.1 `SetChargingProfileRequest`s.

A step with a setpoint becomes a `CentralSetpoint` period (`setpoint`, `limit`, `dischargeLimit`
<= 0, `setpointReactive`), or `Idle` when it is 0 with no headroom either way; a step with only
a limit becomes a `ChargingOnly` period; congestion caps, summed per station, become the periods
of a `ChargingStationMaxProfile` on EVSE 0 (`limit`, `dischargeLimit`).

Per-EVSE profiles are `TxProfile`s bound to the running transaction (`TxDefaultProfile` on the
EVSE when none runs yet). Congestion goes in the station's maximum profile, which caps the
station whatever other profiles say, so the node limit holds under every other FS too.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

from fcsbe.model import FlexibilityServiceRequest
from fcsbe.server.adapters.ocpp21.messages import (
    EvseAddress,
    OcppCall,
    OcppMappingError,
    charging_profile,
    offsets,
    profile_id,
    runs,
)
from fcsbe.server.planning import Plan, PlanStep

__all__ = [
    "address_of",
    "limit_period",
    "schedule_calls",
    "setpoint_period",
    "station_limit_calls",
]


def address_of(addresses: Mapping[str, EvseAddress], evse_id: str) -> EvseAddress:
    """The OCPP address of an EVSE, or a mapping error naming it."""
    try:
        return addresses[evse_id]
    except KeyError:
        raise OcppMappingError(f"no OCPP address for EVSE {evse_id}") from None


def setpoint_period(offset: int, step: PlanStep) -> dict[str, Any]:
    """A `CentralSetpoint` period (or `Idle` when the EVSE is to do nothing at all)."""
    setpoint = step.setpoint_w if step.setpoint_w is not None else 0.0
    limit = None if step.max_import_w is None else _watts(step.max_import_w)
    discharge = None if step.max_export_w is None else -_watts(step.max_export_w)
    if setpoint == 0 and not limit and not discharge:
        return {"startPeriod": offset, "operationMode": "Idle"}
    low = discharge if discharge is not None else -float("inf")
    high = limit if limit is not None else float("inf")
    period: dict[str, Any] = {
        "startPeriod": offset,
        "operationMode": "CentralSetpoint",
        "setpoint": min(max(round(setpoint, 1), low), high),
    }
    if limit is not None:
        period["limit"] = limit
    if discharge is not None:
        period["dischargeLimit"] = discharge or 0.0
    if step.setpoint_var is not None:
        period["setpointReactive"] = round(step.setpoint_var, 1)
    return period


def limit_period(offset: int, step: PlanStep) -> dict[str, Any]:
    """A `ChargingOnly` period with the step's import limit."""
    if step.max_import_w is None:
        raise OcppMappingError("a charging-only period needs an import limit")
    return {
        "startPeriod": offset,
        "operationMode": "ChargingOnly",
        "limit": _watts(step.max_import_w),
    }


def schedule_calls(
    request: FlexibilityServiceRequest, plan: Plan, addresses: Mapping[str, EvseAddress]
) -> list[OcppCall]:
    """One `SetChargingProfile` per EVSE and contiguous run of its plan.

    A step with a setpoint becomes a `CentralSetpoint` period, one without a `ChargingOnly` one.
    """
    calls: list[OcppCall] = []
    for evse_plan in plan.evse_plans:
        address = address_of(addresses, evse_plan.evse_id)
        addressee = f"{address.station_id}/{address.evse_number}"
        for part, run in enumerate(runs(evse_plan.steps)):
            periods = [
                setpoint_period(offset, step)
                if step.setpoint_w is not None
                else limit_period(offset, step)
                for offset, step in offsets(run)
            ]
            payload = charging_profile(
                profile=profile_id(request, addressee, part),
                request=request,
                address=address,
                start=run[0].start,
                end=run[-1].end,
                periods=periods,
            )
            calls.append(OcppCall(address.station_id, "SetChargingProfile", payload))
    return calls


def station_limit_calls(
    request: FlexibilityServiceRequest, plan: Plan, addresses: Mapping[str, EvseAddress]
) -> list[OcppCall]:
    """Congestion caps summed per station into `ChargingStationMaxProfile`s on EVSE 0."""
    by_station: dict[str, list[PlanStep]] = {}
    for evse_plan in plan.evse_plans:
        station = address_of(addresses, evse_plan.evse_id).station_id
        by_station.setdefault(station, []).extend(evse_plan.steps)
    calls: list[OcppCall] = []
    for station, steps in by_station.items():
        summed = _summed(steps)
        for part, run in enumerate(runs(summed)):
            periods: list[dict[str, Any]] = []
            for offset, step in offsets(run):
                period: dict[str, Any] = {
                    "startPeriod": offset,
                    "limit": _watts(step.max_import_w or 0.0),
                }
                if step.max_export_w is not None:
                    period["dischargeLimit"] = -_watts(step.max_export_w) or 0.0
                periods.append(period)
            payload = charging_profile(
                profile=profile_id(request, station, part),
                request=request,
                address=EvseAddress(station, 0),
                start=run[0].start,
                end=run[-1].end,
                periods=periods,
                purpose="ChargingStationMaxProfile",
            )
            payload["evseId"] = 0
            calls.append(OcppCall(station, "SetChargingProfile", payload))
    return calls


def _summed(steps: list[PlanStep]) -> list[PlanStep]:
    """The station's caps over time: per interval between step edges, the sum of the EVSEs'
    caps (export unbounded when any EVSE's export is unbounded); no step where none is."""
    edges = sorted({s.start for s in steps} | {s.end for s in steps})
    out: list[PlanStep] = []
    for start, end in itertools.pairwise(edges):
        covering = [s for s in steps if s.start <= start and s.end >= end]
        if not covering:
            continue
        exports = [s.max_export_w for s in covering]
        out.append(
            PlanStep(
                start,
                end,
                None,
                sum(s.max_import_w or 0.0 for s in covering),
                None if any(x is None for x in exports) else sum(x or 0.0 for x in exports),
            )
        )
    return out


def _watts(value: float) -> float:
    """A power for the wire: non-negative magnitude rounded down to 0.1 W (never above a cap)."""
    return max(0.0, int(value * 10) / 10)
