"""One simulated charging station: what it tells its CSMS, and what the CSMS may tell it.

`SimulatedStation` is the OCPP behaviour of one station of a simulated fleet, independent of the
socket: it turns the simulator's events and meter readings into the messages a real station
would send (StatusNotification, TransactionEvent or Start/StopTransaction, MeterValues,
NotifyEVChargingNeeds, NotifyDERAlarm), answers the CSMS's requests (GetVariables /
GetConfiguration, SetChargingProfile, ClearChargingProfile, SetDERControl, Reset,
TriggerMessage), and turns the profiles in force into simulator controls. `link.py` carries its
messages over a WebSocket; this module sends nothing itself, so tests can drive it directly.

Messages are queued as `Outgoing` items whose payload is built when they are sent: an OCPP 1.6
transaction id only exists once the CSMS has answered StartTransaction, and a message queued
before that answer must carry it.

Payloads use the `ocpp` library's snake_case keys (it converts them to the wire's camelCase).
"""

from __future__ import annotations

import itertools
import logging
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from fcsbe.chargers.profiles import (
    EvseElectrics,
    EvseLimit,
    FrequencyResponse,
    OcppVersion,
    Profile,
    ProfileStore,
    StationCapabilities,
    Verdict,
    parse_datetime,
)
from fcsbe.sim import (
    ClearControl,
    Control,
    DroopControl,
    EvseSpec,
    FfrControl,
    LimitControl,
    MeterReading,
    SetpointControl,
    SimEvent,
    Simulator,
    StationSpec,
)

__all__ = [
    "GRID_EVENT_FAULTS",
    "Outgoing",
    "SimulatedStation",
    "Transaction",
    "iso",
]

log = logging.getLogger("fcsbe.chargers")

GRID_EVENT_FAULTS = frozenset(
    {
        "CurrentImbalance",
        "LocalEmergency",
        "LowInputPower",
        "OverCurrent",
        "OverFrequency",
        "OverVoltage",
        "PhaseRotation",
        "RemoteEmergency",
        "UnderFrequency",
        "UnderVoltage",
        "VoltageImbalance",
    }
)
"""OCPP 2.1 `GridEventFaultEnumType`: a simulator DER alarm code outside it is sent without one."""

OUTBOX_LIMIT = 2_000
"""Messages a station keeps while it cannot reach its CSMS; the oldest go first beyond it."""

Payload = dict[str, Any]


def iso(at: datetime) -> str:
    """An OCPP date-time: UTC, `Z`, milliseconds."""
    return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Outgoing(NamedTuple):
    """A message waiting to be sent: `payload` is a dict or builds one when it is sent;
    `transactional` messages survive a lost connection (OCPP's queued transaction messages)."""

    action: str
    payload: Payload | Callable[[], Payload]
    transactional: bool = False

    def build(self) -> Payload:
        """The payload to send now."""
        return self.payload() if callable(self.payload) else self.payload


@dataclass(slots=True)
class Transaction:
    """A running transaction on one EVSE (1.6: `id` is None until the CSMS assigned one)."""

    session_key: str
    id: str | None
    started_at: datetime
    seq_no: int = 0


Curve = tuple[tuple[float, float], ...]

CURVE_UNITS = {"FreqWatt": "PctMaxW", "VoltVar": "PctMaxVar", "VoltWatt": "PctMaxW"}
"""The y unit the simulated station takes per DER curve it runs (others are refused)."""


@dataclass(slots=True)
class _DerControl:
    control_type: str
    droop: DroopControl | None = None
    curve: Curve = ()
    """A `FreqWatt` / `VoltVar` / `VoltWatt` curve as sent: (Hz or % of nominal voltage, y in
    its unit)."""
    response_time_s: float = 0.0
    until: datetime | None = None
    """startTime + duration: the station drops the control then (None: no end)."""


@dataclass
class SimulatedStation:
    """A simulated station's OCPP behaviour (see the module docstring)."""

    spec: StationSpec
    evses: tuple[EvseSpec, ...]
    version: OcppVersion
    sim: Simulator
    meter_values: bool = True
    outbox: deque[Outgoing] = field(default_factory=deque)
    transactions: dict[int, Transaction] = field(default_factory=dict)
    booted: bool = False
    heartbeat_interval_s: float = 300.0
    sent: int = 0
    """Messages the CSMS answered (for the bench and the tests)."""
    refusals: list[tuple[int, Verdict]] = field(default_factory=list)
    """Profiles the station refused: (profile id, verdict)."""
    _numbers: dict[str, int] = field(default_factory=dict)
    _ids: dict[int, str] = field(default_factory=dict)
    _applied: dict[int, tuple[EvseLimit, DroopControl | None, tuple[Curve, Curve]]] = field(
        default_factory=dict
    )
    _der: dict[str, _DerControl] = field(default_factory=dict)
    _status: dict[int, str] = field(default_factory=dict)
    store: ProfileStore = field(init=False)
    capabilities: StationCapabilities = field(init=False)
    on_queue: Callable[[], None] | None = None

    def __post_init__(self) -> None:
        self._numbers = {e.evse_id: n for n, e in enumerate(self.evses, start=1)}
        self._ids = {n: e for e, n in self._numbers.items()}
        ac = all(e.current_type == "AC" for e in self.evses)
        v2x = self.version == "2.1" and any(e.max_discharge_w > 0 for e in self.evses)
        # DER control (droop, frequency-watt) runs on the station's own converter: a DC one,
        # or any that can discharge; on AC without discharge the EV's charger is the converter.
        der = self.version == "2.1" and (v2x or not ac)
        self.capabilities = StationCapabilities(
            version=self.version,
            rate_units=("W", "A") if ac else ("W",),
            v2x=v2x,
            der=der,
        )
        site = self.sim.site_spec(self.spec.site_id)
        self.store = ProfileStore(
            self.capabilities,
            {
                n: EvseElectrics(e.phases if e.current_type == "AC" else 1, site.nominal_voltage_v)
                for n, e in enumerate(self.evses, start=1)
            },
        )

    @property
    def station_id(self) -> str:
        """The OCPP identity: the last path segment of the CSMS URL, and the Basic auth user."""
        return self.spec.cs_id

    def number_of(self, evse_id: str) -> int:
        """The OCPP evse id (2.x) / connector id (1.6) of an EVSE of this station."""
        return self._numbers[evse_id]

    def evse_of(self, number: int) -> str | None:
        """The eMI3 EVSE id of an OCPP evse / connector number."""
        return self._ids.get(number)

    @property
    def is_2x(self) -> bool:
        """OCPP 2.0.1 or 2.1 (the device model, TransactionEvent)."""
        return self.version != "1.6"

    # -- queueing --------------------------------------------------------------------------------

    def queue(
        self, action: str, payload: Payload | Callable[[], Payload], tx: bool = False
    ) -> None:
        """Queue a message for the CSMS (kept across a lost connection when `tx`; others are
        not queued while the station is offline: it sends its state again when it boots)."""
        if not tx and not self.booted:
            return
        if len(self.outbox) >= OUTBOX_LIMIT:
            self.outbox.popleft()
        self.outbox.append(Outgoing(action, payload, tx))
        if self.on_queue is not None:
            self.on_queue()

    def disconnected(self) -> None:
        """The connection dropped: keep only what a station queues for later (transactions)."""
        kept = [m for m in self.outbox if m.transactional]
        self.outbox.clear()
        self.outbox.extend(kept)
        self.booted = False

    # -- boot ------------------------------------------------------------------------------------

    def boot_payload(self, reason: str) -> Payload:
        """BootNotification of this station."""
        if self.is_2x:
            return {
                "charging_station": {
                    "model": self.spec.model,
                    "vendor_name": self.spec.vendor,
                    "firmware_version": "sim",
                    "serial_number": self.spec.cs_id[:25],
                },
                "reason": reason,
            }
        return {
            "charge_point_vendor": self.spec.vendor[:20],
            "charge_point_model": self.spec.model[:20],
            "charge_point_serial_number": self.spec.cs_id[:25],
            "firmware_version": "sim",
        }

    def after_boot(self) -> list[Outgoing]:
        """What a station sends once the CSMS accepted it: the status of every EVSE, and a
        transaction for every EV plugged in without one (messages go before the queued ones)."""
        self.booted = True
        first: list[Outgoing] = []
        for spec in self.evses:
            first.append(Outgoing("StatusNotification", self._status_payload(spec.evse_id)))
        held = list(self.outbox)
        self.outbox.clear()
        for session in self.sim.sessions(self.spec.site_id):
            number = self._numbers.get(session.evse_id)
            if number is None:
                continue
            if number not in self.transactions:
                self._start_transaction(number, session.session_key, session.connected_at)
            elif self.is_2x:
                # started while offline: its charging needs were not queued (they are state,
                # sent again on every boot, after the transaction's own messages)
                self._queue_needs(number, session.session_key)
        started = list(self.outbox)
        self.outbox.clear()
        self.outbox.extend(first + held + started)
        return first

    # -- from the simulator ----------------------------------------------------------------------

    def on_event(self, event: SimEvent) -> None:
        """A simulator event at one of this station's EVSEs (or its site)."""
        number = None if event.evse_id is None else self._numbers.get(event.evse_id)
        if event.kind == "EV_CONNECTED" and number is not None and event.session_key:
            running = self.transactions.get(number)
            if running is not None and running.session_key == event.session_key:
                return  # already started at boot (an EV plugged in before the first step)
            self._status[number] = "Occupied"
            self.queue("StatusNotification", self._status_payload(event.evse_id or ""))
            self._start_transaction(number, event.session_key, event.at)
        elif event.kind == "EV_DISCONNECTED" and number is not None:
            self._end_transaction(number, event.at, "EVDisconnected")
            self._status.pop(number, None)
            self.queue("StatusNotification", self._status_payload(event.evse_id or ""))
        elif event.kind == "EVSE_STATUS_CHANGED" and number is not None:
            self.queue("StatusNotification", self._status_payload(event.evse_id or ""))
        elif event.kind in ("CONSENT_CHANGED", "LIMITS_CHANGED") and number is not None:
            if self.is_2x and event.session_key:
                self._queue_needs(number, event.session_key)
        elif event.kind == "DER_ALARM" and self.version == "2.1":
            self._queue_der_alarm(event)

    def on_readings(self, readings: Iterable[MeterReading]) -> None:
        """Meter readings of this station's EVSEs: one MeterValues per EVSE and instant."""
        if not self.meter_values:
            return
        for reading in readings:
            number = self._numbers.get(reading.meter_id)
            if number is None:
                continue
            tx = self.transactions.get(number)
            if self.is_2x:
                payload: Payload = {
                    "evse_id": number,
                    "meter_value": [_meter_value_2x(reading, "Sample.Periodic")],
                }
                self.queue("MeterValues", payload, tx=True)
            else:
                self.queue("MeterValues", self._meter_values_16(number, reading, tx), tx=True)

    def _meter_values_16(
        self, number: int, reading: MeterReading, tx: Transaction | None
    ) -> Callable[[], Payload]:
        def build() -> Payload:
            payload: Payload = {
                "connector_id": number,
                "meter_value": [_meter_value_16(reading, "Sample.Periodic")],
            }
            if tx is not None and tx.id is not None:
                payload["transaction_id"] = int(tx.id)
            return payload

        return build

    # -- transactions ----------------------------------------------------------------------------

    def _start_transaction(self, number: int, session_key: str, at: datetime) -> None:
        session = self.sim.session(session_key)
        tx = Transaction(session_key, uuid.uuid4().hex if self.is_2x else None, at)
        self.transactions[number] = tx
        self._status[number] = "Occupied"
        energy = self.sim.evse_state(session.evse_id).e_import_wh
        token = session.id_token or session_key
        if self.is_2x:
            assert tx.id is not None
            self.store.transaction_started(tx.id, at)

            def started() -> Payload:
                tx.seq_no += 1
                return {
                    "event_type": "Started",
                    "timestamp": iso(at),
                    "trigger_reason": "CablePluggedIn",
                    "seq_no": tx.seq_no - 1,
                    "transaction_info": {"transaction_id": tx.id, "charging_state": "EVConnected"},
                    "evse": {"id": number, "connector_id": 1},
                    "id_token": {"id_token": token[:36], "type": _token_type(token)},
                    "meter_value": [_energy_value_2x(at, energy, "Transaction.Begin")],
                }

            self.queue("TransactionEvent", started, tx=True)
            self._queue_needs(number, session_key)
        else:
            self.queue(
                "StartTransaction",
                {
                    "connector_id": number,
                    "id_tag": token[:20],
                    "meter_start": round(energy),
                    "timestamp": iso(at),
                },
                tx=True,
            )

    def transaction_assigned(self, number: int, transaction_id: int) -> None:
        """OCPP 1.6: the CSMS answered StartTransaction with the transaction's id."""
        tx = self.transactions.get(number)
        if tx is not None and tx.id is None:
            tx.id = str(transaction_id)
            self.store.transaction_started(tx.id, tx.started_at)

    def _end_transaction(self, number: int, at: datetime, reason: str) -> None:
        tx = self.transactions.pop(number, None)
        if tx is None:
            return
        evse_id = self._ids[number]
        state = self.sim.evse_state(evse_id)
        energy = state.e_import_wh
        if self.is_2x:
            assert tx.id is not None
            self.store.transaction_ended(tx.id)
            trigger = {"EVDisconnected": "EVDeparted", "PowerLoss": "AbnormalCondition"}.get(
                reason, "ResetCommand"
            )

            def ended() -> Payload:
                tx.seq_no += 1
                return {
                    "event_type": "Ended",
                    "timestamp": iso(at),
                    "trigger_reason": trigger,
                    "seq_no": tx.seq_no - 1,
                    "transaction_info": {
                        "transaction_id": tx.id,
                        "charging_state": "Idle",
                        "stopped_reason": reason,
                    },
                    "evse": {"id": number, "connector_id": 1},
                    "meter_value": [_energy_value_2x(at, energy, "Transaction.End")],
                }

            self.queue("TransactionEvent", ended, tx=True)
        else:

            def stopped() -> Payload:
                if tx.id is not None:
                    self.store.transaction_ended(tx.id)
                return {
                    "meter_stop": round(energy),
                    "timestamp": iso(at),
                    "transaction_id": int(tx.id) if tx.id is not None else 0,
                    "reason": {"EVDisconnected": "EVDisconnected", "PowerLoss": "PowerLoss"}.get(
                        reason, "HardReset"
                    ),
                }

            self.queue("StopTransaction", stopped, tx=True)

    def running_transactions(self) -> dict[int, str | None]:
        """The running transaction id per EVSE number (None while a 1.6 id is unknown)."""
        return {n: tx.id for n, tx in self.transactions.items()}

    # -- EV charging needs (2.x) -----------------------------------------------------------------

    def _queue_needs(self, number: int, session_key: str) -> None:
        try:
            session = self.sim.session(session_key)
        except KeyError:
            return
        spec = self.evses[number - 1]
        request = session.energy_request
        ac = spec.current_type == "AC"
        bidi = self.version == "2.1" and session.v2g_capable and session.consent.v2g
        if ac:
            mode = "AC_three_phase" if spec.phases == 3 else "AC_single_phase"
            if bidi:  # on AC the EV's own inverter discharges: it is the DER (UC 1.7)
                mode = "AC_BPT_DER" if session.ev.onboard_bidirectional else "AC_BPT"
        else:
            mode = "DC_BPT" if bidi else "DC"
        volts = 230 if ac else 400
        amps = request.max_charge_power_w / (volts * (spec.phases if ac else 1))
        energy = max(0.0, request.target_energy_wh)
        needs: Payload = {
            "requested_energy_transfer": mode,
            "departure_time": iso(session.departure_time),
        }
        integer = self.version == "2.0.1"
        if ac:
            needs["ac_charging_parameters"] = {
                "energy_amount": _num(energy, integer),
                "ev_min_current": _num(6, integer),
                "ev_max_current": _num(max(6.0, amps), integer),
                "ev_max_voltage": _num(volts, integer),
            }
        else:
            needs["dc_charging_parameters"] = {
                "ev_max_current": _num(amps, integer),
                "ev_max_voltage": _num(volts, integer),
                "ev_max_power": _num(request.max_charge_power_w, integer),
                "ev_energy_capacity": _num(session.ev.battery_capacity_wh, integer),
                "energy_amount": _num(energy, integer),
                "state_of_charge": round(session.soc_pct),
            }
        if mode == "AC_BPT_DER":
            # ISO 15118-20 names the EV's inverter: the registry's EV model of that name holds
            # its grid-code evidence, without which the CSMS may not use it as a DER.
            needs["der_charging_parameters"] = {"ev_inverter_model": session.ev.model[:50]}
        if self.version == "2.1":
            needs["v2x_charging_parameters"] = {
                "max_charge_power": round(request.max_charge_power_w, 1),
                "max_discharge_power": round(request.max_discharge_power_w, 1),
                "ev_target_energy_request": round(request.target_energy_wh, 1),
                "ev_min_energy_request": round(request.min_energy_wh, 1),
                "ev_max_energy_request": round(request.max_energy_wh, 1),
                "ev_min_v2x_energy_request": round(request.v2x_min_energy_wh, 1),
                "ev_max_v2x_energy_request": round(request.v2x_max_energy_wh, 1),
                "target_soc": round(session.target_soc_pct),
            }
        self.queue("NotifyEVChargingNeeds", {"evse_id": number, "charging_needs": needs})

    # -- DER (2.1) -------------------------------------------------------------------------------

    def _queue_der_alarm(self, event: SimEvent) -> None:
        code = str(event.data.get("code") or "")
        payload: Payload = {"control_type": "FreqDroop", "timestamp": iso(event.at)}
        if code in GRID_EVENT_FAULTS:
            payload["grid_event_fault"] = code
        payload["alarm_ended"] = event.data.get("alarm_ended") == "true"
        detail = event.data.get("detail") or (code if code not in GRID_EVENT_FAULTS else None)
        if detail:
            payload["extra_info"] = str(detail)[:200]
        self.queue("NotifyDERAlarm", payload)

    def set_der_control(self, control_id: str, control_type: str, params: Mapping[str, Any]) -> str:
        """SetDERControl: droop, frequency-watt, volt-var and volt-watt run on the simulated
        EVSEs (against the site's frequency and voltage); other controls are kept (Accepted)."""
        control = _DerControl(control_type)
        body = next(
            (v for k, v in params.items() if isinstance(v, Mapping) and k != "custom_data"), {}
        )
        try:
            start, duration = parse_datetime(body.get("start_time")), body.get("duration")
        except (TypeError, ValueError):
            return "Rejected"
        if start is not None and duration is not None:
            # It ends on its own, as a profile at its validTo: a lost CSMS leaves nothing
            # behind. (A start in the future is not waited for.)
            control.until = start + timedelta(seconds=float(duration))
        if control_type == "FreqDroop":
            control.droop = self._droop(params.get("freq_droop") or {})
            if control.droop is None:
                return "Rejected"
        elif control_type in CURVE_UNITS:
            curve = _der_curve(body, CURVE_UNITS[control_type])
            if curve is None:
                return "Rejected"
            control.curve = curve
            control.response_time_s = float(body.get("response_time") or 0.0)
        self._der[control_id] = control
        self.apply_controls(self.sim.now)
        return "Accepted"

    def clear_der_control(self, control_id: str | None, control_type: str | None) -> bool:
        """ClearDERControl by id, by type, or all; True when something was removed."""
        doomed = [
            k
            for k, c in self._der.items()
            if (control_id is None or k == control_id)
            and (control_type is None or c.control_type == control_type)
        ]
        for k in doomed:
            del self._der[k]
        self.apply_controls(self.sim.now)
        return bool(doomed)

    def _droop(self, freq: Mapping[str, Any]) -> DroopControl | None:
        """A `FreqDroop`'s droop around the site's nominal frequency: `overFreq` / `underFreq`
        start each side, `overDroop` / `underDroop` are per unit (0.05: a 5 % droop)."""
        site = self.sim.site_spec(self.spec.site_id)
        nominal = site.nominal_frequency_hz
        try:
            over, under = float(freq["over_freq"]), float(freq["under_freq"])
            return DroopControl(
                f_ref_hz=nominal,
                deadband_hz=max(0.0, over - nominal),
                droop_pct=float(freq["over_droop"]) * 100.0,
                p_min_w=-max(e.max_discharge_w for e in self.evses),
                p_max_w=max(e.max_charge_w for e in self.evses),
                response_time_s=float(freq.get("response_time") or 0.0),
                deadband_under_hz=max(0.0, nominal - under),
                droop_under_pct=float(freq["under_droop"]) * 100.0,
            )
        except (KeyError, ValueError, TypeError):
            return None

    @property
    def der_controls(self) -> dict[str, str]:
        """DER controls in force: id -> type."""
        return {k: c.control_type for k, c in self._der.items()}

    @property
    def der_curves(self) -> dict[str, Curve]:
        """The DER curves in force, as sent: type (`FreqWatt`, `VoltVar`, `VoltWatt`) ->
        points."""
        return {c.control_type: c.curve for c in self._der.values() if c.curve}

    # -- profiles --------------------------------------------------------------------------------

    def set_profile(self, profile: Profile, now: datetime) -> Verdict:
        """SetChargingProfile: install it if the station's rules allow (see `profiles.py`)."""
        verdict = self.store.install(profile, now, self.running_transactions())
        if verdict.accepted:
            self.apply_controls(now)
        else:
            self.refusals.append((profile.id, verdict))
            log.info("%s refused profile %s: %s", self.station_id, profile.id, verdict.detail)
        return verdict

    def clear_profiles(
        self,
        profile_id: int | None,
        evse: int | None,
        purpose: str | None,
        stack_level: int | None,
        now: datetime,
    ) -> bool:
        """ClearChargingProfile; True when a profile was removed."""
        removed = self.store.clear(profile_id, evse=evse, purpose=purpose, stack_level=stack_level)
        self.apply_controls(now)
        return removed

    def apply_controls(self, now: datetime) -> int:
        """Put the profiles (and DER controls) in force on the simulated EVSEs; returns how many
        EVSEs changed. Cheap when nothing is installed and nothing was applied."""
        if not len(self.store) and not self._applied and not self._der:
            return 0
        self.store.purge(now)
        for control_id in [k for k, c in self._der.items() if c.until and c.until <= now]:
            del self._der[control_id]
        limits = self.store.limits(now, list(self.transactions))
        freq_droop = next((c.droop for c in self._der.values() if c.droop is not None), None)
        freq_watt = next((c for c in self._der.values() if c.control_type == "FreqWatt"), None)
        var, watt = (
            next((c.curve for c in self._der.values() if c.control_type == kind), ())
            for kind in ("VoltVar", "VoltWatt")
        )
        site = self.sim.site_spec(self.spec.site_id)
        changed = 0
        for number, limit in limits.items():
            spec = self.evses[number - 1]
            droop = freq_droop
            if freq_watt is not None:
                # FreqWatt (it wins over FreqDroop): PctMaxW of the EVSE's maximum charge
                # power, + = more output, as VoltWatt below.
                droop = DroopControl(
                    f_ref_hz=site.nominal_frequency_hz,
                    deadband_hz=0.0,
                    droop_pct=100.0,
                    p_min_w=-spec.max_discharge_w,
                    p_max_w=spec.max_charge_w,
                    response_time_s=freq_watt.response_time_s,
                    curve=tuple(
                        (f, -y / 100.0 * spec.max_charge_w + 0.0) for f, y in freq_watt.curve
                    ),
                )
            # VoltVar y is PctMaxVar, + inject, as the simulator's volt-var takes it; VoltWatt
            # y is PctMaxW of the EVSE's maximum charge power in the DER's generator reference
            # (+ = more output), i.e. minus the W added to the import.
            volts = (var, tuple((x, -y / 100.0 * spec.max_charge_w + 0.0) for x, y in watt))
            applied = (limit, droop, volts)
            if self._applied.get(number) == applied:
                continue
            self._applied[number] = applied
            evse_id = self._ids[number]
            bounds = (-spec.max_discharge_w, spec.max_charge_w)
            for control in _controls(limit, droop, volts, site.nominal_frequency_hz, bounds):
                self.sim.apply(evse_id, control)
            changed += 1
        if not len(self.store) and not self._der:
            self._applied.clear()
        return changed

    def reboot(self, at: datetime, reason: str = "ImmediateReset") -> None:
        """A reset or a power cut (`reason` `PowerLoss`): transactions end, the profiles and
        DER controls are gone (the simulated station keeps none across a reboot, the case a
        CSMS must recover from)."""
        for number in list(self.transactions):
            self._end_transaction(number, at, reason)
        self.store.clear_all()
        self._der.clear()
        self.apply_controls(at)
        for evse in self.evses:
            self.sim.apply(evse.evse_id, ClearControl())
        self._applied.clear()

    # -- status ----------------------------------------------------------------------------------

    def _status_payload(self, evse_id: str) -> Callable[[], Payload]:
        number = self._numbers[evse_id]

        def build() -> Payload:
            status = self.sim.evse_status(evse_id)
            occupied = self.sim.evse_state(evse_id).connected
            at = iso(self.sim.now)
            if self.is_2x:
                connector = {"AVAILABLE": "Occupied" if occupied else "Available"}.get(
                    status, status.title()
                )
                return {
                    "timestamp": at,
                    "connector_status": connector,
                    "evse_id": number,
                    "connector_id": 1,
                }
            point = {"AVAILABLE": "Charging" if occupied else "Available"}.get(
                status, status.title()
            )
            return {
                "connector_id": number,
                "error_code": "OtherError" if status == "FAULTED" else "NoError",
                "status": point,
                "timestamp": at,
            }

        return build

    def triggered(self, message: str, evse: int | None) -> bool:
        """TriggerMessage: queue the requested message; False when it is not one we send."""
        numbers = [evse] if evse else list(self._ids)
        if message == "StatusNotification":
            for n in numbers:
                if n in self._ids:
                    self.queue("StatusNotification", self._status_payload(self._ids[n]))
            return True
        if message == "Heartbeat":
            self.queue("Heartbeat", {})
            return True
        if message == "BootNotification":
            self.queue("BootNotification", self.boot_payload("Triggered"))
            return True
        if message == "MeterValues":
            for n in numbers:
                if n in self._ids:
                    self.on_readings([_reading_now(self.sim, self._ids[n])])
            return True
        return False


def _der_curve(curve: Mapping[str, Any], unit: str) -> Curve | None:
    """The (x, y) points of a `FreqWatt` / `VoltVar` / `VoltWatt` curve (snake_case keys, as
    the `ocpp` library hands them over), or None when the station cannot run it: another y
    unit, fewer than two points, x (Hz or % of nominal voltage) not rising."""
    try:
        points = tuple((float(p["x"]), float(p["y"])) for p in curve.get("curve_data") or ())
    except (KeyError, TypeError, ValueError):
        return None
    if curve.get("y_unit") != unit or len(points) < 2:
        return None
    if points[0][0] <= 0 or any(b[0] <= a[0] for a, b in itertools.pairwise(points)):
        return None
    return points


def _controls(
    limit: EvseLimit,
    droop: DroopControl | None,
    volts: tuple[Curve, Curve] = ((), ()),
    f_ref_hz: float = 50.0,
    bounds: tuple[float, float] = (0.0, 0.0),
) -> list[Control]:
    """The simulator controls of one EVSE: the limits and setpoint of its profile, its local
    frequency function (a `LocalFrequency` period, else the station's FreqDroop / FreqWatt
    droop `droop`), and the
    volt-var / volt-watt curves (`volts`: % of nominal V -> % of the reactive rating, + inject;
    % of nominal V -> W added) riding on the droop. `bounds` is the EVSE's own power range
    (W), for curves without a droop to ride on."""
    controls: list[Control] = [ClearControl()]
    if limit.max_import_w is not None or limit.max_export_w is not None:
        controls.append(LimitControl(limit.max_import_w, limit.max_export_w))
    if limit.setpoint_w is not None:
        controls.append(SetpointControl(limit.setpoint_w))
    volt_var, volt_watt = volts
    local = None
    if limit.frequency is not None:
        local = local_response(limit.frequency, limit, volt_var, volt_watt)
    if local is None and droop is not None:
        local = replace(droop, volt_var=volt_var, volt_watt=volt_watt)
    if local is not None:
        controls.append(local)
    if (volt_var or volt_watt) and not isinstance(local, DroopControl):
        # No frequency droop to carry the curves (none, or FFR): a droop that leaves the
        # frequency alone (a flat 0 W curve) and runs them.
        low = -limit.max_export_w if limit.max_export_w is not None else bounds[0]
        high = limit.max_import_w if limit.max_import_w is not None else bounds[1]
        controls.append(
            DroopControl(
                f_ref_hz=f_ref_hz,
                deadband_hz=0.0,
                droop_pct=100.0,
                p_min_w=min(low, high),
                p_max_w=high,
                curve=((f_ref_hz - 1.0, 0.0), (f_ref_hz + 1.0, 0.0)),
                volt_var=volt_var,
                volt_watt=volt_watt,
            )
        )
    return controls


def local_response(
    response: FrequencyResponse,
    limit: EvseLimit,
    volt_var: Curve = (),
    volt_watt: Curve = (),
) -> DroopControl | FfrControl | None:
    """The simulator's local control for an OCPP 2.1 `LocalFrequency` curve: a step (two points,
    one at 0 W) with FFR timing in `customData` (snake_case keys, as the `ocpp` library hands
    them over) is pre-armed FFR; otherwise the curve is read as a droop (0 W between the middle
    points, linear to the outer ones), which also runs the station's volt-var and volt-watt
    curves (`volt_var`, `volt_watt` as `DroopControl` takes them)."""
    points, custom = response.points, response.custom
    if "full_activation_time" in custom or "support_duration" in custom:
        steps = [(f, p) for f, p in points if p != 0]
        if len(points) != 2 or len(steps) != 1:
            return None
        trigger, delta = steps[0]
        return FfrControl(
            trigger_hz=trigger,
            delta_p_w=delta,
            full_activation_time_s=float(custom.get("full_activation_time") or 0.0),
            support_duration_s=float(custom.get("support_duration") or 0.0),
            rearm_s=float(custom.get("rearm_time") or 0.0),
        )
    zero = [f for f, p in points if p == 0]
    if not zero or len(points) < 2:
        return None
    low, high = min(zero), max(zero)
    f_ref, band = (low + high) / 2, (high - low) / 2
    f_top, p_top = points[-1]
    if f_top <= high or p_top == 0:
        return None
    droop_pct = (f_top - high) / f_ref * 100
    return DroopControl(
        f_ref_hz=f_ref,
        deadband_hz=band,
        droop_pct=droop_pct,
        p_min_w=-(limit.max_export_w if limit.max_export_w is not None else abs(p_top)),
        p_max_w=limit.max_import_w if limit.max_import_w is not None else abs(p_top),
        p_ref_w=abs(p_top),
        response_time_s=float(custom.get("response_time") or 0.0),
        volt_var=volt_var,
        volt_watt=volt_watt,
    )


def _reading_now(sim: Simulator, evse_id: str) -> MeterReading:
    state = sim.evse_state(evse_id)
    site = sim.site_state(state.site_id)
    return MeterReading(
        evse_id,
        "EVSE",
        sim.now,
        state.p_w,
        state.q_var,
        state.e_import_wh,
        state.e_export_wh,
        state.soc_pct,
        site.f_hz,
        site.u_v,
    )


def _num(value: float, integer: bool) -> float | int:
    return round(value) if integer else round(value, 1)


def _token_type(token: str) -> str:
    return "eMAID" if token.count("-") >= 2 else "ISO14443"


def _sample(value: float, measurand: str, unit: str, context: str) -> Payload:
    return {
        "value": round(value, 3),
        "measurand": measurand,
        "context": context,
        "unit_of_measure": {"unit": unit},
    }


def _energy_value_2x(at: datetime, energy_wh: float, context: str) -> Payload:
    return {
        "timestamp": iso(at),
        "sampled_value": [_sample(energy_wh, "Energy.Active.Import.Register", "Wh", context)],
    }


def _meter_value_2x(r: MeterReading, context: str) -> Payload:
    values = [
        _sample(r.e_import_wh, "Energy.Active.Import.Register", "Wh", context),
        _sample(r.e_export_wh, "Energy.Active.Export.Register", "Wh", context),
        _sample(max(r.p_w, 0.0), "Power.Active.Import", "W", context),
        _sample(max(-r.p_w, 0.0), "Power.Active.Export", "W", context),
    ]
    if r.soc_pct is not None:
        values.append(_sample(r.soc_pct, "SoC", "Percent", context))
    if r.f_hz is not None:
        values.append(_sample(r.f_hz, "Frequency", "Hz", context))
    if r.u_v is not None:
        values.append(_sample(r.u_v, "Voltage", "V", context))
    return {"timestamp": iso(r.at), "sampled_value": values}


def _meter_value_16(r: MeterReading, context: str) -> Payload:
    def sample(value: float, measurand: str, unit: str) -> Payload:
        return {
            "value": f"{value:.3f}",
            "measurand": measurand,
            "context": context,
            "unit": unit,
        }

    values = [
        sample(r.e_import_wh, "Energy.Active.Import.Register", "Wh"),
        sample(r.e_export_wh, "Energy.Active.Export.Register", "Wh"),
        sample(max(r.p_w, 0.0), "Power.Active.Import", "W"),
        sample(max(-r.p_w, 0.0), "Power.Active.Export", "W"),
    ]
    if r.soc_pct is not None:
        values.append(sample(r.soc_pct, "SoC", "Percent"))
    if r.f_hz is not None:
        values.append(sample(r.f_hz, "Frequency", "Hertz"))
    if r.u_v is not None:
        values.append(sample(r.u_v, "Voltage", "V"))
    return {"timestamp": iso(r.at), "sampled_value": values}
