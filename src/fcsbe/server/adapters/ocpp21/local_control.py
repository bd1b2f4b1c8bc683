"""DROOP and FFR as OCPP 2.1 messages: functions the station runs from its own measurements.

Two ways a station can run them, chosen per station by `EvseAddress.der_control`:

- A station with DER control (an AC_DER / AC_BPT_DER EV or a DC converter with grid functions)
  gets `SetDERControlRequest`s: `FreqDroop` (`overFreq` = f_ref + deadband, `underFreq` = f_ref -
  deadband, `overDroop` / `underDroop` per unit, `responseTime`) and the request's `VoltVar` /
  `VoltWatt` curves; each of its EVSEs gets a `CentralSetpoint` profile that holds the baseline
  and bounds the range the DER may droop in (`limit`, `dischargeLimit`).
- Any other station gets, per EVSE, a `LocalFrequency` profile: `v2xBaseline` plus the planned
  frequency-watt curve (`v2xFreqWattCurve`, W added to the baseline) within `limit` and
  `dischargeLimit`. Voltage curves have no such form: a volt-var / volt-watt droop on such a
  station is an `OcppMappingError`.

FFR always takes the `LocalFrequency` form (its staircase curve is the trigger levels). OCPP 2.1
has no field for FFR timing (full-activation time, support duration, deactivation ramp, re-arm,
evidence sampling) nor for a profile's response time: they travel as the period's `customData`
(vendor `org.fcsbe`), the OCPP extension point.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fcsbe.model import CurveUnit, DerCurve, DroopSettings, FlexibilityServiceRequest
from fcsbe.server.adapters.ocpp21.messages import (
    VENDOR_ID,
    EvseAddress,
    OcppCall,
    OcppMappingError,
    charging_profile,
    control_id,
    iso,
    profile_id,
)
from fcsbe.server.adapters.ocpp21.profiles import address_of
from fcsbe.server.planning import ArmedFunction, Plan

__all__ = [
    "MAX_DER_CURVE_POINTS",
    "der_curve",
    "droop_calls",
    "ffr_calls",
    "local_frequency_period",
]

MAX_DER_CURVE_POINTS = 10
"""OCPP 2.1 `DERCurveType.curveData` maxItems."""


def local_frequency_period(armed: ArmedFunction) -> dict[str, Any]:
    """A `LocalFrequency` period: baseline, frequency-watt curve and power bounds."""
    extra: dict[str, Any] = {"vendorId": VENDOR_ID, "responseTime": armed.response_time_s}
    if armed.triggers:
        extra |= {
            "fullActivationTimes": [t.full_activation_time_s for t in armed.triggers],
            "supportDuration": armed.support_duration_s,
            "deactivationRamp": armed.deactivation_ramp_s,
            "rearmTime": armed.rearm_time_s,
            "evidenceSamplingMs": armed.evidence_sampling_ms,
        }
    return {
        "startPeriod": 0,
        "operationMode": "LocalFrequency",
        "v2xBaseline": round(armed.baseline_w, 1),
        "v2xFreqWattCurve": [
            {"frequency": round(f, 4), "power": round(p, 1)} for f, p in armed.curve
        ],
        "limit": _magnitude(armed.p_max_w),
        "dischargeLimit": -_magnitude(-armed.p_min_w) or 0.0,
        "customData": extra,
    }


def ffr_calls(
    request: FlexibilityServiceRequest, plan: Plan, addresses: Mapping[str, EvseAddress]
) -> list[OcppCall]:
    """One `LocalFrequency` profile per armed EVSE."""
    return [
        _profile(request, armed, addresses, local_frequency_period(armed)) for armed in plan.armed
    ]


def droop_calls(
    request: FlexibilityServiceRequest, plan: Plan, addresses: Mapping[str, EvseAddress]
) -> list[OcppCall]:
    """DER controls per DER-capable station, profiles per EVSE (see the module docstring)."""
    params = request.parameters
    if not isinstance(params, DroopSettings):
        raise TypeError(f"droop_calls needs DroopSettings, not {params.fs_type}")
    calls: list[OcppCall] = []
    stations: dict[str, ArmedFunction] = {}
    for armed in plan.armed:
        address = address_of(addresses, armed.evse_id)
        if address.der_control:
            stations.setdefault(address.station_id, armed)
            limit, discharge = _magnitude(armed.p_max_w), -_magnitude(-armed.p_min_w) or 0.0
            period: dict[str, Any] = {
                "startPeriod": 0,
                "operationMode": "CentralSetpoint",
                "setpoint": min(max(round(armed.baseline_w, 1), discharge), limit),
                "limit": limit,
                "dischargeLimit": discharge,
            }
        elif params.volt_var or params.volt_watt:
            raise OcppMappingError(
                f"station {address.station_id} has no DER control for volt-var / volt-watt"
            )
        else:
            period = local_frequency_period(armed)
        calls.append(_profile(request, armed, addresses, period))
    for station, armed in stations.items():
        calls.extend(_der_controls(request, params, station, armed))
    return calls


def _der_controls(
    request: FlexibilityServiceRequest, params: DroopSettings, station: str, armed: ArmedFunction
) -> list[OcppCall]:
    timing = {
        "startTime": iso(armed.start),
        "duration": float(int((armed.end - armed.start).total_seconds())),
    }
    controls: list[tuple[str, str, dict[str, Any]]] = [
        (
            "FreqDroop",
            "freqDroop",
            {
                "priority": request.priority,
                "overFreq": params.f_ref_hz + params.deadband_over_hz,
                "underFreq": params.f_ref_hz - params.deadband_under_hz,
                "overDroop": (params.droop_over_pct or armed.droop_over_pct or 100.0) / 100.0,
                "underDroop": (params.droop_under_pct or armed.droop_under_pct or 100.0) / 100.0,
                "responseTime": params.response_time_s,
            }
            | timing,
        )
    ]
    for name, curve in (("VoltVar", params.volt_var), ("VoltWatt", params.volt_watt)):
        if curve is not None:
            body = der_curve(curve, request.priority, params.response_time_s) | timing
            controls.append((name, "curve", body))
    return [
        OcppCall(
            station,
            "SetDERControl",
            {
                "isDefault": False,
                "controlId": control_id(request, station, name),
                "controlType": name,
                field: body,
            },
        )
        for name, field, body in controls
    ]


def der_curve(curve: DerCurve, priority: int, response_time_s: float) -> dict[str, Any]:
    """An OCPP 2.1 `DERCurveType` from a voltage curve in per-cent units."""
    if curve.x_unit is not CurveUnit.PCT_EFFECTIVE_V:
        raise OcppMappingError(
            f"OCPP 2.1 voltage curves take x in PCT_EFFECTIVE_V, not {curve.x_unit}"
        )
    y_unit = curve.y_unit.ocpp_name
    if y_unit is None:
        raise OcppMappingError(f"OCPP 2.1 DER curves have no y unit {curve.y_unit}")
    if len(curve.points) > MAX_DER_CURVE_POINTS:
        raise OcppMappingError(
            f"OCPP 2.1 DER curves take at most {MAX_DER_CURVE_POINTS} points, "
            f"not {len(curve.points)}"
        )
    return {
        "priority": priority,
        "yUnit": y_unit,
        "curveData": [{"x": p.x, "y": p.y} for p in curve.points],
        "responseTime": response_time_s,
    }


def _profile(
    request: FlexibilityServiceRequest,
    armed: ArmedFunction,
    addresses: Mapping[str, EvseAddress],
    period: dict[str, Any],
) -> OcppCall:
    address = address_of(addresses, armed.evse_id)
    payload = charging_profile(
        profile=profile_id(request, f"{address.station_id}/{address.evse_number}"),
        request=request,
        address=address,
        start=armed.start,
        end=armed.end,
        periods=[period],
    )
    return OcppCall(address.station_id, "SetChargingProfile", payload)


def _magnitude(value: float) -> float:
    """A non-negative power for `limit` / minus `dischargeLimit`, rounded down to 0.1 W."""
    return max(0.0, int(value * 10) / 10)
