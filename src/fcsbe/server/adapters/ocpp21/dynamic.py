"""Dynamic setpoints (UC 2.1, aFRR-like) as OCPP 2.1 `Dynamic` profiles and their updates.

When a SETPOINT FS receives dynamic updates, each EVSE gets one `Dynamic` `TxProfile` (one
`CentralSetpoint` period) once, and every update is then an `UpdateDynamicScheduleRequest` per
EVSE with its share of the new aggregate (`planning.split_setpoint`). The schedule's `duration`
is the dead-man time: a station that hears no update within it drops the profile and falls back
to the profiles below it, so a lost backend cannot freeze a setpoint.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from fcsbe.model import FlexibilityServiceRequest
from fcsbe.server.adapters.ocpp21.messages import (
    EvseAddress,
    OcppCall,
    charging_profile,
    iso,
    profile_id,
)
from fcsbe.server.adapters.ocpp21.profiles import address_of
from fcsbe.server.planning import SplitBasis

__all__ = ["DYNAMIC_PART", "dynamic_profile_calls", "dynamic_update_calls"]

DYNAMIC_PART = 1_000_000
"""Profile-id part of the dynamic profile, apart from the scheduled profiles' parts."""


def _bounds(basis: SplitBasis, i: int) -> dict[str, float]:
    return {
        "limit": max(0.0, int(basis.hi[i] * 10) / 10),
        "dischargeLimit": min(0.0, -int(-basis.lo[i] * 10) / 10) if basis.lo[i] < 0 else 0.0,
    }


def _setpoint(share: float, bounds: dict[str, float]) -> float:
    return min(max(round(share, 1), bounds["dischargeLimit"]), bounds["limit"])


def dynamic_profile_calls(
    request: FlexibilityServiceRequest,
    basis: SplitBasis,
    shares: Sequence[float],
    addresses: Mapping[str, EvseAddress],
    now: datetime,
    dead_man_s: int = 60,
) -> list[OcppCall]:
    """The `Dynamic` profile of each EVSE of `basis`, starting at its share in `shares`."""
    end = min(request.window.end, now + timedelta(days=1))
    calls: list[OcppCall] = []
    for i, evse_id in enumerate(basis.evse_ids):
        address = address_of(addresses, evse_id)
        bounds = _bounds(basis, i)
        period: dict[str, Any] = {
            "startPeriod": 0,
            "operationMode": "CentralSetpoint",
            "setpoint": _setpoint(shares[i], bounds),
        } | bounds
        payload = charging_profile(
            profile=_dynamic_id(request, address),
            request=request,
            address=address,
            start=now,
            end=end,
            periods=[period],
            kind="Dynamic",
        )
        payload["chargingProfile"]["chargingSchedule"][0]["duration"] = dead_man_s
        payload["chargingProfile"]["dynUpdateTime"] = iso(now)
        calls.append(OcppCall(address.station_id, "SetChargingProfile", payload))
    return calls


def dynamic_update_calls(
    request: FlexibilityServiceRequest,
    basis: SplitBasis,
    shares: Sequence[float],
    addresses: Mapping[str, EvseAddress],
) -> list[OcppCall]:
    """One `UpdateDynamicScheduleRequest` per EVSE of `basis` with its new share."""
    calls: list[OcppCall] = []
    for i, evse_id in enumerate(basis.evse_ids):
        address = address_of(addresses, evse_id)
        bounds = _bounds(basis, i)
        calls.append(
            OcppCall(
                address.station_id,
                "UpdateDynamicSchedule",
                {
                    "chargingProfileId": _dynamic_id(request, address),
                    "scheduleUpdate": {"setpoint": _setpoint(shares[i], bounds)} | bounds,
                },
            )
        )
    return calls


def _dynamic_id(request: FlexibilityServiceRequest, address: EvseAddress) -> int:
    return profile_id(request, f"{address.station_id}/{address.evse_number}", DYNAMIC_PART)
