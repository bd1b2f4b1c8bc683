"""One station's OCPP-J connection: the `ocpp` library's charge-point object for its version,
with the handlers of what stations send, and the calls the server sends them.

The library validates every payload against the version's JSON schemas and routes by action;
this module adds what a server facing real chargers needs on top of it:

- a frame that cannot be read (not JSON, not an OCPP-J array, an unknown message type) is
  answered with a CALLERROR (`FormatViolation` / `FormationViolation` on 1.6, `ProtocolError`,
  ...) under the message's id or `-1`, and the connection carries on; so does a handler error
  (`InternalError`), never closing the socket or reaching the server;
- `send_call` sends a prepared camelCase payload as it is (the profile planner's output), with
  the server's timeout, and returns the station's camelCase answer;
- the handlers only parse: what the station reported goes to its `StationSink` (the adapter),
  which keeps the state the `StationAdapter` protocol hands to the rest of the server.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, cast

from ocpp import v16, v21, v201
from ocpp.exceptions import (
    FormationViolationError,
    FormatViolationError,
    InternalError,
    NotImplementedError,
    NotSupportedError,
    OCPPError,
)
from ocpp.messages import Call, CallError, MessageType, unpack, validate_payload
from ocpp.routing import on
from ocpp.v16.enums import Action as Action16
from ocpp.v21.enums import Action as Action21
from ocpp.v201.enums import Action as Action201

__all__ = [
    "LINK_CLASSES",
    "CallRefused",
    "Connection",
    "Link",
    "MeterValues",
    "StationSink",
    "make_link",
    "parse_meter_values",
]

log = logging.getLogger("fcsbe.stations.ocpp")

_F = TypeVar("_F", bound=Callable[..., Any])


def _on(action: str) -> Callable[[_F], _F]:
    """The library's `on` route decorator, typed."""
    return cast(Callable[[_F], _F], on(action))


class Connection(Protocol):
    """What the library needs of a WebSocket: text in, text out."""

    async def recv(self) -> str:
        """The next frame."""

    async def send(self, message: str) -> None:
        """Send a frame."""


class CallRefused(Exception):
    """A station answered a call with a CALLERROR, or not in time."""


MeterValues = dict[str, float]
"""One meter reading: keys `p_w`, `q_var`, `e_import_wh`, `e_export_wh`, `soc_pct`, `f_hz`,
`u_v` (only those the station sent)."""


class StationSink(Protocol):
    """Where a link hands what its station reports (the OCPP adapter)."""

    def booted(self, link: Link, vendor: str | None, model: str | None) -> str:
        """A BootNotification: the registration status to answer (`Accepted`/`Pending`)."""

    def seen(self, link: Link) -> None:
        """Any message: the station is alive."""

    def resumed(self, link: Link) -> None:
        """A station accepted on an earlier connection talks again without a boot."""

    def status(self, link: Link, number: int, status: str, at: datetime) -> None:
        """An EVSE (number 0: the whole station) changed status (`AVAILABLE`, ...)."""

    def transaction(
        self,
        link: Link,
        tx_id: str,
        number: int | None,
        id_token: str | None,
        at: datetime,
        ended: bool,
    ) -> None:
        """A transaction started, went on or ended."""

    def meter(self, link: Link, number: int, at: datetime, values: MeterValues) -> None:
        """A meter reading of an EVSE."""

    def charging_needs(self, link: Link, number: int, needs: dict[str, Any]) -> None:
        """NotifyEVChargingNeeds (snake_case keys, as the library passes them)."""

    def der_alarm(
        self, link: Link, code: str, at: datetime, ended: bool, detail: str | None
    ) -> None:
        """NotifyDERAlarm (2.1)."""


def _when(value: Any) -> datetime:
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return datetime.now(UTC)
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return datetime.now(UTC)


def _now_text() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


_SCALE = {"W": 1.0, "kW": 1000.0, "Wh": 1.0, "kWh": 1000.0, "var": 1.0, "kvar": 1000.0}
_MEASURANDS = {
    "Energy.Active.Import.Register": "e_import_wh",
    "Energy.Active.Export.Register": "e_export_wh",
    "Power.Active.Import": "p_w",
    "Power.Active.Export": "p_export_w",
    "Power.Reactive.Import": "q_var",
    "SoC": "soc_pct",
    "Frequency": "f_hz",
    "Voltage": "u_v",
}


def parse_meter_values(meter_value: Any) -> list[tuple[datetime, MeterValues]]:
    """Readings of OCPP `meterValue` entries (1.6 or 2.x, snake_case keys), per timestamp.
    Per-phase values are ignored when a total is present; units are scaled to W / Wh."""
    readings: list[tuple[datetime, MeterValues]] = []
    for entry in meter_value or []:
        if not isinstance(entry, dict):
            continue
        values: MeterValues = {}
        for sample in entry.get("sampled_value") or []:
            if not isinstance(sample, dict) or sample.get("phase"):
                continue
            key = _MEASURANDS.get(
                str(sample.get("measurand") or "Energy.Active.Import.Register"), ""
            )
            if not key:
                continue
            unit_field = sample.get("unit_of_measure")
            unit = (
                unit_field.get("unit") if isinstance(unit_field, dict) else sample.get("unit")
            ) or ""
            multiplier = unit_field.get("multiplier", 0) if isinstance(unit_field, dict) else 0
            try:
                value = float(sample.get("value"))  # type: ignore[arg-type]
            except (TypeError, ValueError):
                continue
            values[key] = value * _SCALE.get(str(unit), 1.0) * 10.0 ** int(multiplier or 0)
        if "p_export_w" in values:
            values["p_w"] = values.get("p_w", 0.0) - values.pop("p_export_w")
        if values:
            readings.append((_when(entry.get("timestamp")), values))
    return readings


class _LinkBase:
    """What every version's link shares: routing with CALLERRORs, calls, the sink."""

    _ocpp_version: str
    _response_queue: asyncio.Queue[Any]
    _call_lock: asyncio.Lock
    route_map: dict[str, Any]
    id: str

    sink: StationSink
    version: str
    accepted: bool

    if TYPE_CHECKING:  # provided by the library's ChargePoint, which comes later in the MRO

        async def _send(self, message: str) -> None: ...

        async def _handle_call(self, msg: Call) -> Any: ...

        async def _get_specific_response(self, unique_id: str, timeout: float) -> Any: ...  # noqa: ASYNC109

    async def _send_error(self, unique_id: str, error: OCPPError) -> None:
        code = error.code
        if self.version == "1.6" and isinstance(error, FormatViolationError):
            code = FormationViolationError.code
        cause = error.details.get("cause") if isinstance(error.details, dict) else None
        details = {"cause": str(cause)[:500]} if cause else {}
        message = CallError(unique_id, code, str(error.description or "")[:255], details)
        await self._send(message.to_json())

    async def route_message(self, raw_msg: str) -> None:
        """Route one frame; nothing a station sends ends the connection."""
        self.sink.seen(self)  # type: ignore[arg-type]
        try:
            msg = unpack(raw_msg)
        except OCPPError as unpacked:
            kind = _message_type_of(raw_msg)
            if self.version == "2.1" and kind in _UNANSWERED_21:
                return  # 2.1 SEND and CALLRESULTERROR are never answered
            refusal = unpacked
            if self.version != "1.6" and kind is not None and kind not in _ANSWERABLE:
                refusal = _MessageTypeNotSupported(f"message type {kind} is not supported")
            await self._send_error(_unique_id_of(raw_msg), refusal)
            return
        if msg.message_type_id == MessageType.Call:
            if not self.accepted and msg.action != "BootNotification":
                # A station that talks without booting first was accepted on an earlier
                # connection: it reconnected, and gets what is in force again.
                self.accepted = True
                self.sink.resumed(self)  # type: ignore[arg-type]
            if not isinstance(msg.payload, dict) or not isinstance(msg.action, str):
                await self._send_error(
                    str(msg.unique_id), FormatViolationError(description="payload not an object")
                )
                return
            if msg.action not in self.route_map:
                # The library names these the other way round from OCPP-J (and answers nothing
                # on 2.1): NotImplemented is an action the receiver does not know,
                # NotSupported one it knows but does not serve.
                known = msg.action in _ACTIONS[self.version]
                unserved: OCPPError = (
                    NotSupportedError(description=f"{msg.action} is not served")
                    if known
                    else NotImplementedError(description=f"unknown action {msg.action}")
                )
                await self._send_error(str(msg.unique_id), unserved)
                return
            try:
                await self._handle_call(msg)
            except OCPPError as error:
                await self._send_error(str(msg.unique_id), error)
            except ConnectionError:  # the station is gone: nothing left to answer
                raise
            except Exception:
                log.exception("station %s: handling %s failed", self.id, msg.action)
                await self._send_error(str(msg.unique_id), InternalError())
        elif msg.message_type_id in (MessageType.CallResult, MessageType.CallError):
            self._response_queue.put_nowait(msg)

    async def send_call(self, action: str, payload: dict[str, Any], timeout_s: float) -> Any:
        """Send `action` with `payload` (camelCase, schema-checked first) and return the
        station's answer; CallRefused on a CALLERROR or no answer within `timeout_s`."""
        call = Call(unique_id=_new_id(), action=action, payload=payload)
        await validate_payload(call, self._ocpp_version)
        async with self._call_lock:
            while not self._response_queue.empty():  # late answers of timed-out calls
                self._response_queue.get_nowait()
            await self._send(call.to_json())
            try:
                response = await self._get_specific_response(call.unique_id, timeout_s)
            except TimeoutError:
                raise CallRefused(f"no answer to {action} within {timeout_s:g} s") from None
        if response.message_type_id == MessageType.CallError:
            raise CallRefused(f"{action}: {response.error_code} {response.error_description}")
        return response.payload


_ACTIONS: dict[str, frozenset[str]] = {
    "1.6": frozenset(a.value for a in Action16),
    "2.0.1": frozenset(a.value for a in Action201),
    "2.1": frozenset(a.value for a in Action21),
}


class _MessageTypeNotSupported(OCPPError):  # type: ignore[misc]
    """OCPP-J 2.x's answer to a MessageTypeId it does not know (the library has no class)."""

    code = "MessageTypeNotSupported"


_ANSWERABLE = frozenset({2, 3, 4})
_UNANSWERED_21 = frozenset({5, 6})  # CALLRESULTERROR, SEND


def _message_type_of(raw: str) -> int | None:
    """The MessageTypeId of a frame that failed to unpack, if it is an integer."""
    try:
        parsed = json.loads(raw)
    except (ValueError, TypeError):
        return None
    if isinstance(parsed, list) and parsed and type(parsed[0]) is int:
        return parsed[0]
    return None


def _unique_id_of(raw: str) -> str:
    """The message id of a frame that failed to unpack, if it can be read, else `-1`."""
    try:
        parsed = json.loads(raw)
    except (ValueError, TypeError):
        return "-1"
    if isinstance(parsed, list) and len(parsed) > 1 and isinstance(parsed[1], str):
        return parsed[1][:36]
    return "-1"


_ids = 0


def _new_id() -> str:
    global _ids
    _ids += 1
    return f"fcsbe-{_ids}"


_STATUS_2X = {
    "Available": "AVAILABLE",
    "Occupied": "AVAILABLE",
    "Reserved": "AVAILABLE",
    "Unavailable": "UNAVAILABLE",
    "Faulted": "FAULTED",
}
_STATUS_16 = {
    "Available": "AVAILABLE",
    "Preparing": "AVAILABLE",
    "Charging": "AVAILABLE",
    "SuspendedEV": "AVAILABLE",
    "SuspendedEVSE": "AVAILABLE",
    "Finishing": "AVAILABLE",
    "Reserved": "AVAILABLE",
    "Unavailable": "UNAVAILABLE",
    "Faulted": "FAULTED",
}


class _Handlers2x(_LinkBase):
    """Handlers shared by OCPP 2.0.1 and 2.1."""

    _call_result: Any

    @_on("BootNotification")
    def on_boot_notification(self, charging_station: dict[str, Any], **_: Any) -> Any:
        status = self.sink.booted(
            self,  # type: ignore[arg-type]
            charging_station.get("vendor_name"),
            charging_station.get("model"),
        )
        self.accepted = status == "Accepted"
        return self._call_result.BootNotification(
            current_time=_now_text(), interval=self.heartbeat_s, status=status
        )

    heartbeat_s: int = 300

    @_on("Heartbeat")
    def on_heartbeat(self, **_: Any) -> Any:
        return self._call_result.Heartbeat(current_time=_now_text())

    @_on("StatusNotification")
    def on_status_notification(
        self, timestamp: str, connector_status: str, evse_id: int, **_: Any
    ) -> Any:
        status = _STATUS_2X.get(connector_status, "UNAVAILABLE")
        self.sink.status(self, evse_id, status, _when(timestamp))  # type: ignore[arg-type]
        return self._call_result.StatusNotification()

    @_on("TransactionEvent")
    def on_transaction_event(
        self,
        event_type: str,
        timestamp: str,
        transaction_info: dict[str, Any],
        evse: dict[str, Any] | None = None,
        id_token: dict[str, Any] | None = None,
        meter_value: list[Any] | None = None,
        **_: Any,
    ) -> Any:
        at = _when(timestamp)
        number = int(evse["id"]) if evse and "id" in evse else None
        token = id_token.get("id_token") if id_token else None
        link: Link = self  # type: ignore[assignment]
        self.sink.transaction(
            link, str(transaction_info["transaction_id"]), number, token, at, event_type == "Ended"
        )
        if number is not None:
            for when, values in parse_meter_values(meter_value):
                self.sink.meter(link, number, when, values)
        return self._call_result.TransactionEvent()

    @_on("MeterValues")
    def on_meter_values(self, evse_id: int, meter_value: list[Any], **_: Any) -> Any:
        for when, values in parse_meter_values(meter_value):
            self.sink.meter(self, evse_id, when, values)  # type: ignore[arg-type]
        return self._call_result.MeterValues()

    @_on("NotifyEVChargingNeeds")
    def on_notify_ev_charging_needs(
        self, evse_id: int, charging_needs: dict[str, Any], **_: Any
    ) -> Any:
        self.sink.charging_needs(self, evse_id, charging_needs)  # type: ignore[arg-type]
        return self._call_result.NotifyEVChargingNeeds(status="Accepted")

    @_on("Authorize")
    def on_authorize(self, id_token: dict[str, Any], **_: Any) -> Any:
        # Authorisation of EV users is the CSO's own business; the flexibility port accepts.
        return self._call_result.Authorize(id_token_info={"status": "Accepted"})

    @_on("NotifyEvent")
    def on_notify_event(self, **_: Any) -> Any:
        return self._call_result.NotifyEvent()

    @_on("NotifyReport")
    def on_notify_report(self, **_: Any) -> Any:
        return self._call_result.NotifyReport()

    @_on("SecurityEventNotification")
    def on_security_event_notification(self, **_: Any) -> Any:
        return self._call_result.SecurityEventNotification()

    @_on("FirmwareStatusNotification")
    def on_firmware_status_notification(self, **_: Any) -> Any:
        return self._call_result.FirmwareStatusNotification()


class Link201(_Handlers2x, v201.ChargePoint):  # type: ignore[misc]
    """An OCPP 2.0.1 station."""

    version = "2.0.1"


class Link21(_Handlers2x, v21.ChargePoint):  # type: ignore[misc]
    """An OCPP 2.1 station: 2.0.1's handlers, plus DER alarms."""

    version = "2.1"

    @_on("NotifyDERAlarm")
    def on_notify_der_alarm(
        self,
        control_type: str,
        timestamp: str,
        grid_event_fault: str | None = None,
        alarm_ended: bool | None = None,
        extra_info: str | None = None,
        **_: Any,
    ) -> Any:
        self.sink.der_alarm(
            self,
            grid_event_fault or control_type,
            _when(timestamp),
            bool(alarm_ended),
            extra_info,
        )
        return self._call_result.NotifyDERAlarm()


class Link16(_LinkBase, v16.ChargePoint):  # type: ignore[misc]
    """An OCPP 1.6J station (connector ids are the EVSE numbers)."""

    version = "1.6"
    heartbeat_s: int = 300
    _call_result: Any

    @_on("BootNotification")
    def on_boot_notification(
        self, charge_point_vendor: str, charge_point_model: str, **_: Any
    ) -> Any:
        status = self.sink.booted(self, charge_point_vendor, charge_point_model)
        self.accepted = status == "Accepted"
        return self._call_result.BootNotification(
            current_time=_now_text(), interval=self.heartbeat_s, status=status
        )

    @_on("Heartbeat")
    def on_heartbeat(self, **_: Any) -> Any:
        return self._call_result.Heartbeat(current_time=_now_text())

    @_on("StatusNotification")
    def on_status_notification(
        self, connector_id: int, status: str, timestamp: str | None = None, **_: Any
    ) -> Any:
        mapped = _STATUS_16.get(status, "UNAVAILABLE")
        self.sink.status(self, connector_id, mapped, _when(timestamp))
        return self._call_result.StatusNotification()

    @_on("Authorize")
    def on_authorize(self, id_tag: str, **_: Any) -> Any:
        return self._call_result.Authorize(id_tag_info={"status": "Accepted"})

    @_on("StartTransaction")
    def on_start_transaction(
        self, connector_id: int, id_tag: str, meter_start: int, timestamp: str, **_: Any
    ) -> Any:
        global _ids
        _ids += 1
        tx_id = (int(datetime.now(UTC).timestamp()) % 100_000_000) * 10 + _ids % 10
        link: Link = self
        self.sink.transaction(link, str(tx_id), connector_id, id_tag, _when(timestamp), False)
        self.sink.meter(link, connector_id, _when(timestamp), {"e_import_wh": float(meter_start)})
        return self._call_result.StartTransaction(
            transaction_id=tx_id, id_tag_info={"status": "Accepted"}
        )

    @_on("StopTransaction")
    def on_stop_transaction(
        self,
        meter_stop: int,
        timestamp: str,
        transaction_id: int,
        transaction_data: list[Any] | None = None,
        **_: Any,
    ) -> Any:
        self.sink.transaction(
            self,
            str(transaction_id),
            None,
            None,
            _when(timestamp),
            True,
        )
        return self._call_result.StopTransaction()

    @_on("MeterValues")
    def on_meter_values(self, connector_id: int, meter_value: list[Any], **_: Any) -> Any:
        for when, values in parse_meter_values(meter_value):
            self.sink.meter(self, connector_id, when, values)
        return self._call_result.MeterValues()

    @_on("DiagnosticsStatusNotification")
    def on_diagnostics_status_notification(self, **_: Any) -> Any:
        return self._call_result.DiagnosticsStatusNotification()

    @_on("FirmwareStatusNotification")
    def on_firmware_status_notification(self, **_: Any) -> Any:
        return self._call_result.FirmwareStatusNotification()


Link = Link16 | Link201 | Link21

LINK_CLASSES: dict[str, type[Link16] | type[Link201] | type[Link21]] = {
    "ocpp2.1": Link21,
    "ocpp2.0.1": Link201,
    "ocpp1.6": Link16,
}
"""The link class of each WebSocket subprotocol, best first."""


def make_link(
    subprotocol: str,
    cs_id: str,
    connection: Connection,
    sink: StationSink,
    *,
    timeout_s: float,
    heartbeat_s: int,
) -> Link:
    """The link of a station that connected with `subprotocol`."""
    link = LINK_CLASSES[subprotocol](cs_id, connection, response_timeout=timeout_s)
    link.sink = sink
    link.accepted = False
    link.heartbeat_s = heartbeat_s
    return link
