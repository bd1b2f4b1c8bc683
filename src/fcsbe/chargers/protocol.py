"""The simulated station's OCPP endpoints: one `ocpp` library ChargePoint class per version.

The library validates every message against the version's JSON schemas, routes the CSMS's
requests to the `@on` handlers below and matches answers to calls. The handlers only translate:
the behaviour is `SimulatedStation`'s. They never await a call to the CSMS themselves (that would
wait for an answer that the same receive loop has to deliver); what they want sent is queued.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar, cast

from ocpp.routing import on
from ocpp.v16 import ChargePoint as ChargePoint16
from ocpp.v16 import call_result as result16
from ocpp.v21 import ChargePoint as ChargePoint21
from ocpp.v21 import call_result as result21
from ocpp.v201 import ChargePoint as ChargePoint201
from ocpp.v201 import call_result as result201

from fcsbe.chargers.profiles import OcppVersion, Verdict, profile_from_2x, profile_from_16

if TYPE_CHECKING:
    from fcsbe.chargers.station import SimulatedStation

__all__ = ["SUBPROTOCOLS", "StationEndpoint", "endpoint_class"]

F = TypeVar("F", bound=Callable[..., Any])

SUBPROTOCOLS: Mapping[OcppVersion, str] = {"2.1": "ocpp2.1", "2.0.1": "ocpp2.0.1", "1.6": "ocpp1.6"}
"""The WebSocket subprotocol of each OCPP version (OCPP-J)."""

_16_PURPOSES = {"ChargePointMaxProfile": "ChargingStationMaxProfile"}


def _on(action: str) -> Callable[[F], F]:
    """`ocpp.routing.on`, typed."""
    return cast(Callable[[F], F], on(action))


class StationEndpoint:
    """What every version's endpoint knows: its station, the clock, and a reset request."""

    station: SimulatedStation
    now: Callable[[], datetime]
    reset_requested: bool = False

    def bind(self, station: SimulatedStation, now: Callable[[], datetime]) -> None:
        """Attach the station this connection speaks for."""
        self.station = station
        self.now = now
        self.reset_requested = False

    def request_reset(self) -> None:
        """A Reset was accepted: the link flushes what is queued, closes, and boots again."""
        self.reset_requested = True
        if self.station.on_queue is not None:
            self.station.on_queue()


def _status_info(verdict: Verdict) -> dict[str, str] | None:
    if verdict.accepted or verdict.reason is None:
        return None
    info = {"reason_code": verdict.reason[:20]}
    if verdict.detail:
        info["additional_info"] = verdict.detail[:500]
    return info


class _Ocpp2(StationEndpoint):
    """Handlers shared by OCPP 2.0.1 and 2.1 (their payloads are the same for these)."""

    _result: Any

    @_on("GetVariables")
    def on_get_variables(self, get_variable_data: list[dict[str, Any]], **_: Any) -> Any:
        results = []
        variables = device_model(self.station)
        for item in get_variable_data:
            component, variable = item["component"], item["variable"]
            known = variables.get(component["name"])
            answer: dict[str, Any] = {"component": component, "variable": variable}
            if known is None:
                answer["attribute_status"] = "UnknownComponent"
            elif variable["name"] not in known:
                answer["attribute_status"] = "UnknownVariable"
            else:
                answer["attribute_status"] = "Accepted"
                answer["attribute_value"] = known[variable["name"]]
            if "attribute_type" in item:
                answer["attribute_type"] = item["attribute_type"]
            results.append(answer)
        return self._result.GetVariables(get_variable_result=results)

    @_on("SetChargingProfile")
    def on_set_charging_profile(
        self, evse_id: int, charging_profile: dict[str, Any], **_: Any
    ) -> Any:
        try:
            profile = profile_from_2x(evse_id, charging_profile)
        except (KeyError, TypeError, ValueError) as exc:
            verdict = Verdict(False, "InvalidProfile", str(exc))
        else:
            verdict = self.station.set_profile(profile, self.now())
        return self._result.SetChargingProfile(
            status="Accepted" if verdict.accepted else "Rejected",
            status_info=_status_info(verdict),
        )

    @_on("ClearChargingProfile")
    def on_clear_charging_profile(
        self,
        charging_profile_id: int | None = None,
        charging_profile_criteria: dict[str, Any] | None = None,
        **_: Any,
    ) -> Any:
        criteria = charging_profile_criteria or {}
        removed = self.station.clear_profiles(
            charging_profile_id,
            criteria.get("evse_id"),
            criteria.get("charging_profile_purpose"),
            criteria.get("stack_level"),
            self.now(),
        )
        return self._result.ClearChargingProfile(status="Accepted" if removed else "Unknown")

    @_on("Reset")
    def on_reset(self, type: str, evse_id: int | None = None, **_: Any) -> Any:
        if evse_id:
            return self._result.Reset(status="Rejected")
        self.request_reset()
        return self._result.Reset(status="Accepted")

    @_on("TriggerMessage")
    def on_trigger_message(
        self, requested_message: str, evse: dict[str, Any] | None = None, **_: Any
    ) -> Any:
        ok = self.station.triggered(requested_message, (evse or {}).get("id"))
        return self._result.TriggerMessage(status="Accepted" if ok else "NotImplemented")


class Endpoint21(_Ocpp2, ChargePoint21):  # type: ignore[misc]
    """OCPP 2.1: adds DER control."""

    _result = result21

    @_on("SetDERControl")
    def on_set_der_control(
        self, is_default: bool, control_id: str, control_type: str, **params: Any
    ) -> Any:
        if not self.station.capabilities.der:
            return result21.SetDERControl(status="NotSupported")
        status = self.station.set_der_control(control_id, control_type, params)
        return result21.SetDERControl(status=status)

    @_on("ClearDERControl")
    def on_clear_der_control(
        self,
        is_default: bool,
        control_type: str | None = None,
        control_id: str | None = None,
        **_: Any,
    ) -> Any:
        removed = self.station.clear_der_control(control_id, control_type)
        return result21.ClearDERControl(status="Accepted" if removed else "NotFound")


class Endpoint201(_Ocpp2, ChargePoint201):  # type: ignore[misc]
    """OCPP 2.0.1."""

    _result = result201


class Endpoint16(StationEndpoint, ChargePoint16):  # type: ignore[misc]
    """OCPP 1.6J (Core and Smart Charging profiles)."""

    @_on("GetConfiguration")
    def on_get_configuration(self, key: list[str] | None = None, **_: Any) -> Any:
        values = configuration_16(self.station)
        wanted = key or list(values)
        known = [{"key": k, "readonly": True, "value": values[k]} for k in wanted if k in values]
        unknown = [k for k in wanted if k not in values]
        return result16.GetConfiguration(
            configuration_key=known or None, unknown_key=unknown or None
        )

    @_on("SetChargingProfile")
    def on_set_charging_profile(
        self, connector_id: int, cs_charging_profiles: dict[str, Any], **_: Any
    ) -> Any:
        try:
            profile = profile_from_16(connector_id, cs_charging_profiles)
        except (KeyError, TypeError, ValueError) as exc:
            verdict = Verdict(False, "InvalidProfile", str(exc))
        else:
            verdict = self.station.set_profile(profile, self.now())
        return result16.SetChargingProfile(status="Accepted" if verdict.accepted else "Rejected")

    @_on("ClearChargingProfile")
    def on_clear_charging_profile(
        self,
        id: int | None = None,
        connector_id: int | None = None,
        charging_profile_purpose: str | None = None,
        stack_level: int | None = None,
        **_: Any,
    ) -> Any:
        purpose = None
        if charging_profile_purpose is not None:
            purpose = _16_PURPOSES.get(charging_profile_purpose, charging_profile_purpose)
        removed = self.station.clear_profiles(id, connector_id, purpose, stack_level, self.now())
        return result16.ClearChargingProfile(status="Accepted" if removed else "Unknown")

    @_on("Reset")
    def on_reset(self, type: str, **_: Any) -> Any:
        self.request_reset()
        return result16.Reset(status="Accepted")

    @_on("TriggerMessage")
    def on_trigger_message(
        self, requested_message: str, connector_id: int | None = None, **_: Any
    ) -> Any:
        ok = self.station.triggered(requested_message, connector_id)
        return result16.TriggerMessage(status="Accepted" if ok else "NotImplemented")


def endpoint_class(version: OcppVersion) -> type[StationEndpoint]:
    """The ChargePoint class of a version."""
    return {"2.1": Endpoint21, "2.0.1": Endpoint201, "1.6": Endpoint16}[version]


def device_model(station: SimulatedStation) -> dict[str, dict[str, str]]:
    """The 2.x device-model variables the station reports (component -> variable -> value).

    Both the 2.0.1 names (`ProfileStackLevel`, `RateUnit`) and their 1.6-style aliases
    (`ChargingProfileMaxStackLevel`, `ChargingScheduleChargingRateUnit`) are answered.
    """
    caps = station.capabilities
    units = ",".join(sorted(caps.rate_units))
    model: dict[str, dict[str, str]] = {
        "SmartChargingCtrlr": {
            "Enabled": "true",
            "Available": "true",
            "Entries": str(caps.max_profiles),
            "PeriodsPerSchedule": str(caps.periods_per_schedule),
            "ProfileStackLevel": str(caps.max_stack_level),
            "ChargingProfileMaxStackLevel": str(caps.max_stack_level),
            "RateUnit": units,
            "ChargingScheduleChargingRateUnit": units,
        },
        "OCPPCommCtrlr": {"HeartbeatInterval": str(round(station.heartbeat_interval_s))},
        "SampledDataCtrlr": {
            "TxUpdatedInterval": str(round(station.sim.options.meter_resolution_s)),
        },
    }
    if station.version == "2.1":
        model["V2XChargingCtrlr"] = {
            "Enabled": str(caps.v2x).lower(),
            "SupportedOperationModes": "ChargingOnly,CentralSetpoint,Idle,ExternalLimits",
        }
        model["DERCtrlr"] = {"Enabled": str(caps.der).lower()}
    return model


def configuration_16(station: SimulatedStation) -> dict[str, str]:
    """The 1.6 configuration keys the station reports."""
    caps = station.capabilities
    units = ",".join("Power" if u == "W" else "Current" for u in sorted(caps.rate_units))
    return {
        "ChargeProfileMaxStackLevel": str(caps.max_stack_level),
        "ChargingScheduleAllowedChargingRateUnit": units,
        "ChargingScheduleMaxPeriods": str(caps.periods_per_schedule),
        "MaxChargingProfilesInstalled": str(caps.max_profiles),
        "HeartbeatInterval": str(round(station.heartbeat_interval_s)),
        "MeterValueSampleInterval": str(round(station.sim.options.meter_resolution_s)),
        "NumberOfConnectors": str(len(station.evses)),
        "SupportedFeatureProfiles": "Core,SmartCharging,RemoteTrigger",
    }
