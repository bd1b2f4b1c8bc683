"""Adapter commands as OCPP calls: SetChargingProfile / ClearChargingProfile (1.6J, 2.0.1, 2.1)
and SetDERControl / ClearDERControl (2.1).

Pure: the station's ledger, the commands, the station's EVSE numbering and what it reported
(`StationLimits`) in; the calls that put the commands in force out, or a `Refusal` when the
station cannot do what a command asks. Sending the calls and persisting the ledger is the
station adapter's job; the ledger changes only by `ProfileLedger.confirm(call)` for each call
the station accepted.

How commands become profiles (docs/ocpp-mapping.md has the table per version):

- Every control in force on an EVSE (a limit, a setpoint, an armed droop or FFR, each from its
  own FS) is composed into ONE `TxDefaultProfile` on that EVSE, with a stable id and a stack
  level of its own; station-wide (SITE) limits of every site on the station are composed into
  one `ChargingStationMaxProfile` (`ChargePointMaxProfile` on 1.6) on EVSE 0. So concurrent FS
  never collide (one profile of ours per EVSE and purpose), and a newer command of one kind
  replaces the older one of that kind on its target, as the `StationAdapter` contract says.
  `TxDefaultProfile` rather than `TxProfile`: it applies to the running transaction and to the
  next one, whereas a `TxProfile` dies with its transaction while an FS outlives sessions.
- Controls end at their own `valid_until`: the profile's periods change where one ends, and its
  `validTo` is the latest end, so a station that loses the backend drops everything in time.
- Limits only, on 1.6 and 2.0.1 (and on a 2.1 station without V2X): an import setpoint is sent
  as a cap (`limit` = min(setpoint, limits)); discharge, reactive power, droop and FFR are
  refused (`NOT_CAPABLE`). A 2.1 station with V2X gets `CentralSetpoint` periods (`setpoint`,
  `limit`, `dischargeLimit`, `setpointReactive`) and `LocalFrequency` periods for FFR (and for
  droop without DER control); a 2.1 station with DER control gets droop as `SetDERControl`
  `FreqDroop` (an ordered frequency-watt curve, without V2X, as `FreqWatt`), station-wide,
  with the EVSE's power range in its profile, and the droop's
  volt-var / volt-watt curves as `VoltVar` / `VoltWatt` (which no other station can run: they
  are refused there rather than dropped).
- Units: W when the station takes W; otherwise A per phase, W / (phases x voltage). Caps are
  rounded down to 0.1 (never above what was asked), setpoints to the nearest 0.1 within them.
- Never `ChargingStationExternalConstraints` (a CSMS may not send it).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any, Literal

from fcsbe.server.adapters.base import (
    ClearCommand,
    Command,
    Control,
    ControlLevel,
    DroopCommand,
    FfrCommand,
    LimitCommand,
    SetpointCommand,
)
from fcsbe.server.adapters.ocpp.ledger import (
    DerRecord,
    Held,
    LedgerChange,
    ProfileLedger,
    ProfileRecord,
)
from fcsbe.server.adapters.ocpp.schedules import VENDOR_ID, Schedule, schedule_of, staircase

__all__ = [
    "EVSE_PURPOSE",
    "VENDOR_ID",
    "OcppCall",
    "OcppVersion",
    "Refusal",
    "StationLimits",
    "iso",
    "plan_calls",
    "refusal_of",
    "resend_calls",
    "station_purpose",
]

OcppVersion = Literal["1.6", "2.0.1", "2.1"]

EVSE_PURPOSE = "TxDefaultProfile"
"""The purpose of every EVSE profile of ours (see the module docstring)."""

DER_PRIORITY = 1
"""Priority of our DER controls (0 is the highest; left to the CSO's own safety settings)."""

MAX_CURVE_POINTS = 10
"""Points an OCPP 2.1 DER curve holds (`DERCurveType.curveData` maxItems)."""

_DER_NAMESPACE = uuid.UUID("3b0c7a52-9d41-4c5e-8f0a-6d2e1b7c9a35")
_KINDS: Mapping[type, str] = {
    LimitCommand: "limit",
    SetpointCommand: "setpoint",
    DroopCommand: "droop",
    FfrCommand: "ffr",
}
_ONE_SECOND = timedelta(seconds=1)


def station_purpose(version: OcppVersion) -> str:
    """The purpose of a station-wide maximum in `version`."""
    return "ChargePointMaxProfile" if version == "1.6" else "ChargingStationMaxProfile"


@dataclass(frozen=True)
class StationLimits:
    """What one station reported (GetVariables / GetConfiguration) or the version's defaults."""

    version: OcppVersion
    rate_units: tuple[str, ...] = ("W", "A")
    max_stack_level: int = 8
    periods_per_schedule: int = 24
    max_profiles: int = 20
    phases: int = 3
    voltage_v: float = 230.0
    v2x: bool = False
    der: bool = False

    def to_json(self) -> dict[str, Any]:
        """A JSON document of the limits (the server persists it per station)."""
        document = asdict(self)
        document["rate_units"] = list(self.rate_units)
        return document

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> StationLimits:
        """The limits of `to_json` (unknown keys of a newer writer are ignored)."""
        names = {f.name for f in fields(cls)}
        values = {k: v for k, v in document.items() if k in names}
        values["rate_units"] = tuple(values.get("rate_units", ("W", "A")))
        return cls(**values)

    @property
    def bidirectional(self) -> bool:
        """True when the station takes setpoints, discharge limits and operation modes."""
        return self.version == "2.1" and self.v2x

    @property
    def unit(self) -> str:
        """The charging rate unit the planner uses: W when the station takes it, else A."""
        return "W" if "W" in self.rate_units else "A"


@dataclass(frozen=True)
class OcppCall:
    """One OCPP request to send: the action, its OCPP-J payload in the station's version, and
    the eMI3 EVSE it is for (None: station-wide). `change` is what `ProfileLedger.confirm`
    records once the station accepts it (not part of the message)."""

    action: str
    payload: dict[str, Any]
    evse_id: str | None
    change: LedgerChange | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Refusal:
    """The station cannot do what the commands ask; `reason` starts with a code
    (`NOT_CAPABLE`, `UNKNOWN_EVSE`, `INVALID_COMMAND`) and says why."""

    reason: str


def iso(instant: datetime) -> str:
    """RFC 3339 UTC with `Z`, whole seconds (stations schedule in seconds)."""
    return instant.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- what a command asks, and whether the station can ---------------------------------------


def _capable(command: Command, limits: StationLimits) -> str | None:
    """None when the station can execute `command`, else the refusal reason."""
    control, level = command.control, command.target.level
    version = limits.version
    if level is ControlLevel.GRID_NODE:
        return "NOT_CAPABLE: a grid-node command is split over sites and EVSEs before a station"
    if isinstance(control, ClearCommand | LimitCommand):
        return None
    if level is ControlLevel.SITE:
        return (
            f"NOT_CAPABLE: a site takes limits only (ChargingStationMaxProfile), "
            f"not a {_KINDS[type(control)]}"
        )
    if isinstance(control, SetpointCommand):
        if control.p_w < 0 and not limits.bidirectional:
            return f"NOT_CAPABLE: a discharge setpoint needs OCPP 2.1 with V2X (station: {version})"
        if control.q_var and not limits.bidirectional:
            return f"NOT_CAPABLE: reactive power needs OCPP 2.1 with V2X (station: {version})"
        return None
    if isinstance(control, DroopCommand):
        if (
            not ((control.droop_pct > 0 or control.curve) and control.f_ref_hz > 0)
            or min(control.deadband_hz, control.response_time_s) < 0
            or (control.droop_under_pct is not None and control.droop_under_pct <= 0)
            or (control.deadband_under_hz is not None and control.deadband_under_hz < 0)
        ):
            return "INVALID_COMMAND: droop needs droop_pct, f_ref_hz > 0, deadband, response >= 0"
        if version != "2.1" or not (limits.der or limits.v2x):
            return f"NOT_CAPABLE: droop needs OCPP 2.1 with DER control or V2X ({version})"
        if control.curve and not limits.v2x and len(control.curve) > MAX_CURVE_POINTS:
            return (
                f"NOT_CAPABLE: an OCPP 2.1 DER curve holds at most {MAX_CURVE_POINTS} points; "
                f"the frequency-watt curve has {len(control.curve)}"
            )
        return _volt_capable(control, limits)
    if version != "2.1" or not limits.v2x:
        return f"NOT_CAPABLE: fast frequency response needs OCPP 2.1 with V2X ({version})"
    return None


def _volt_capable(control: DroopCommand, limits: StationLimits) -> str | None:
    """None when the station can run the droop's volt-var and volt-watt curves (or it has
    none), else the refusal reason: they are OCPP 2.1 `SetDERControl` curves, so a station
    without DER control cannot take them (a V2X profile has no voltage curve)."""
    for name, curve in (("volt-var", control.volt_var), ("volt-watt", control.volt_watt)):
        if not curve:
            continue
        xs = [float(x) for x, _ in curve]
        if len(xs) < 2 or any(b <= a for a, b in pairwise(xs)) or xs[0] <= 0:
            return f"INVALID_COMMAND: a {name} curve needs >= 2 points, voltages > 0 increasing"
        if limits.version != "2.1" or not limits.der:
            station = limits.version + (" without DER control" if limits.version == "2.1" else "")
            return f"NOT_CAPABLE: {name} needs OCPP 2.1 with DER control (station: {station})"
        if len(curve) > MAX_CURVE_POINTS:
            return (
                f"NOT_CAPABLE: an OCPP 2.1 DER curve holds at most {MAX_CURVE_POINTS} points; "
                f"the {name} curve has {len(curve)}"
            )
    return None


def _held(origin: str, command: Command) -> Held:
    control: Control = command.control
    values = tuple(
        (k, None if v is None else float(v))
        for k, v in control._asdict().items()
        if not isinstance(v, tuple)  # curves and FFR levels are held as `points`
    )
    points: tuple[tuple[float, float], ...] = ()
    if isinstance(control, DroopCommand) and control.curve:
        points = tuple((float(f), float(w)) for f, w in control.curve)
    elif isinstance(control, FfrCommand) and len(control.levels) > 1:
        points = staircase(control.levels)
    volt_var: tuple[tuple[float, float], ...] = ()
    volt_watt: tuple[tuple[float, float], ...] = ()
    if isinstance(control, DroopCommand):
        volt_var = tuple((float(x), float(y)) for x, y in control.volt_var)
        volt_watt = tuple((float(x), float(y)) for x, y in control.volt_watt)
    kind = _KINDS[type(control)]
    return Held(
        origin, kind, values, command.fs_id, command.valid_until, points, volt_var, volt_watt
    )


# --- payloads --------------------------------------------------------------------------------


def _set_profile(record: ProfileRecord, schedule: Schedule, limits: StationLimits) -> OcppCall:
    start = record.valid_from
    timing: dict[str, Any] = {"startSchedule": iso(start)}
    validity: dict[str, Any] = {"validFrom": iso(start)}
    if schedule.valid_to is not None:
        timing["duration"] = int((schedule.valid_to - start).total_seconds())
        validity["validTo"] = iso(schedule.valid_to)
    base = {
        "stackLevel": record.stack_level,
        "chargingProfilePurpose": record.purpose,
        "chargingProfileKind": "Absolute",
    } | validity
    sched = timing | {"chargingRateUnit": limits.unit, "chargingSchedulePeriod": schedule.periods}
    payload: dict[str, Any]
    if limits.version == "1.6":
        profile = {"chargingProfileId": record.profile_id} | base | {"chargingSchedule": sched}
        payload = {"connectorId": record.evse, "csChargingProfiles": profile}
    else:
        body = {"id": record.profile_id} | base
        body["chargingSchedule"] = [{"id": record.profile_id} | sched]
        payload = {"evseId": record.evse, "chargingProfile": body}
    return OcppCall("SetChargingProfile", payload, record.evse_id, LedgerChange(profile=record))


def _clear_profile(record: ProfileRecord, limits: StationLimits) -> OcppCall:
    key = "id" if limits.version == "1.6" else "chargingProfileId"
    return OcppCall(
        "ClearChargingProfile",
        {key: record.profile_id},
        record.evse_id,
        LedgerChange(cleared_profile=record.profile_id),
    )


def _profile_id(evse: int, purpose: str, taken: set[int]) -> int:
    """A positive 31-bit id, stable for (EVSE, purpose) whatever the ledger (a lost ledger then
    still replaces, rather than duplicates, what the station holds); probes past ids taken."""
    key = f"fcsbe|{evse}|{purpose}".encode()
    pid = int.from_bytes(hashlib.blake2b(key, digest_size=4).digest(), "big") & 0x7FFFFFFF or 1
    while pid in taken:
        pid = pid % 0x7FFFFFFF + 1
    return pid


def _stack_level(
    evse: int,
    purpose: str,
    current: ProfileRecord | None,
    held: Iterable[tuple[int, str, int]],
    limits: StationLimits,
) -> int | None:
    """Our level on (EVSE, purpose): the one we hold, else the highest level no other valid
    profile uses in its scope (ours win over the CSO's defaults); None when all are taken.

    `held` are (EVSE, purpose, level) of the station's other valid profiles, ours included.
    The scope is the EVSE on 2.x (K01.FR.06) and the whole station on 1.6, where a profile
    with the same stackLevel and purpose replaces the existing one whatever its connector."""
    station_wide = limits.version == "1.6"
    used = {
        level
        for other_evse, other_purpose, level in held
        if other_purpose == purpose and (station_wide or other_evse == evse)
    }
    if current is not None and current.stack_level not in used:
        return current.stack_level
    return next((lv for lv in range(limits.max_stack_level, -1, -1) if lv not in used), None)


# --- DER controls (2.1) ----------------------------------------------------------------------


def _under(held: Held) -> tuple[float | None, float | None]:
    """(deadband, droop %) below f_ref: the asymmetric settings, or the same as above."""
    band, droop = held.get("deadband_under_hz"), held.get("droop_under_pct")
    return (
        held.get("deadband_hz") if band is None else band,
        held.get("droop_pct") if droop is None else droop,
    )


def _freq_droop(held: Held, _rating: float | None) -> dict[str, Any] | str:
    """The `freqDroop` settings of one EVSE's droop."""
    f_ref, band, droop, response = (
        held.get(n) or 0.0 for n in ("f_ref_hz", "deadband_hz", "droop_pct", "response_time_s")
    )
    band_under, droop_under = (v or 0.0 for v in _under(held))
    return {
        "priority": DER_PRIORITY,
        "overFreq": round(f_ref + band, 4),
        "underFreq": round(f_ref - band_under, 4),
        "overDroop": droop / 100.0,
        "underDroop": droop_under / 100.0,
        "responseTime": response,
    }


def _volt_var(held: Held, _rating: float | None) -> dict[str, Any] | str:
    """The `VoltVar` curve of one EVSE's droop: x in % of nominal voltage, y in `PctMaxVar`.

    Sign: OCPP 2.1 takes its DER curves from IEEE 1547-2018 / IEC 61850-7-420, which state a
    DER's output in the generator reference (its `FixedVar` schema: "a negative value refers
    to charging, a positive one to discharging"): a positive var is reactive power the EVSE
    injects (over-excited, capacitive), as in IEEE 1547's default curve (+44 % at 92 % V).
    Our `volt_var` is stated the same way (+ inject), so y is sent as ordered; note that this
    is the opposite of the sign of the q_var the stations meter and the API reports
    (+ absorbed, inductive)."""
    return {
        "priority": DER_PRIORITY,
        "yUnit": "PctMaxVar",
        "curveData": [{"x": round(x, 2), "y": round(y, 2)} for x, y in held.volt_var],
        "responseTime": held.get("response_time_s") or 0.0,
    }


def _volt_watt(held: Held, rating: float | None) -> dict[str, Any] | str:
    """The `VoltWatt` curve of one EVSE's droop: x in % of nominal voltage, y in `PctMaxW`.

    Basis: y is in % of the EVSE's rated active power (the registry's maximum charge power,
    which the station knows as its EVSE's maximum): the station applies the percentages to
    each of its EVSEs, so EVSEs of different ratings share one curve. Sign: in the DER's
    generator reference, as for `VoltVar` (positive = more output: less import or more
    export), so our W added to the import become y = -W / rating x 100. What it means: the
    change of active power from the power otherwise in force (our droop's volt-watt), not
    IEEE 1547's absolute output limit; `customData` (`org.fcsbe`, `addedToBaseline`) says
    so on the wire."""
    if rating is None or not rating > 0:
        return "NOT_CAPABLE: volt-watt is sent in % of the EVSE's rated power, which is unknown"
    return {
        "priority": DER_PRIORITY,
        "yUnit": "PctMaxW",
        "curveData": [
            {"x": round(x, 2), "y": round(-w / rating * 100.0, 2) + 0.0} for x, w in held.volt_watt
        ],
        "responseTime": held.get("response_time_s") or 0.0,
        "customData": {"vendorId": VENDOR_ID, "addedToBaseline": True},
    }


def _freq_watt(held: Held, rating: float | None) -> dict[str, Any] | str:
    """The `FreqWatt` curve of one EVSE's droop that orders its own frequency-watt curve, on a
    station without V2X (with V2X it is a `LocalFrequency` period): x in Hz, y in `PctMaxW`
    on the same basis and sign as `VoltWatt` (% of the EVSE's rated power, + = more output,
    the change from the power otherwise in force)."""
    if rating is None or not rating > 0:
        return (
            "NOT_CAPABLE: a frequency-watt curve is sent in % of the EVSE's rated power, "
            "which is unknown"
        )
    return {
        "priority": DER_PRIORITY,
        "yUnit": "PctMaxW",
        "curveData": [
            {"x": round(f, 4), "y": round(-w / rating * 100.0, 2) + 0.0} for f, w in held.points
        ],
        "responseTime": held.get("response_time_s") or 0.0,
        "customData": {"vendorId": VENDOR_ID, "addedToBaseline": True},
    }


_DER_TYPES: tuple[tuple[str, str, str], ...] = (
    ("FreqDroop", "freqDroop", "frequency droop"),
    ("FreqWatt", "curve", "frequency-watt curve"),
    ("VoltVar", "curve", "volt-var curve"),
    ("VoltWatt", "curve", "volt-watt curve"),
)
"""The DER controls our droops become: (controlType, payload field, what it is in a refusal)."""

_DER_SETTINGS = {
    "FreqDroop": _freq_droop,
    "FreqWatt": _freq_watt,
    "VoltVar": _volt_var,
    "VoltWatt": _volt_watt,
}


def _serves(control_type: str, held: Held, limits: StationLimits) -> bool:
    """Whether an armed droop takes part in the station's DER control of `control_type`."""
    if control_type == "FreqDroop":
        # FreqDroop has no curve: only the plain droops share the station's FreqDroop.
        return not held.points
    if control_type == "FreqWatt":
        # A droop that orders its own frequency-watt curve runs as a LocalFrequency profile
        # where the station has V2X, else as the station's FreqWatt DER curve.
        return bool(held.points) and not limits.v2x
    return bool(held.volt_var if control_type == "VoltVar" else held.volt_watt)


def _der_calls(
    ledger: ProfileLedger,
    droops: list[tuple[int, Held]],
    limits: StationLimits,
    now: datetime,
    rated_w: Mapping[int, float],
) -> list[OcppCall] | Refusal:
    """The station's DER controls for the droops in force on its EVSEs ((EVSE, droop)):
    `FreqDroop`, `FreqWatt`, `VoltVar` and `VoltWatt`, one of each per station (DER controls
    have no EVSE), each with a stable id; a control no droop needs any more is cleared."""
    calls: list[OcppCall] = []
    for control_type, field_name, what in _DER_TYPES:
        control_id = str(uuid.uuid5(_DER_NAMESPACE, control_type))
        current = ledger.der_controls.get(control_id)
        serving = [(evse, h) for evse, h in droops if _serves(control_type, h, limits)]
        if not serving:
            if current is not None and current.valid(now):
                change = LedgerChange(cleared_der=control_id)
                payload = {"isDefault": False, "controlId": control_id}
                calls.append(OcppCall("ClearDERControl", payload, None, change))
            continue
        settings: dict[str, dict[str, Any]] = {}
        for evse, held in serving:
            body = _DER_SETTINGS[control_type](held, rated_w.get(evse))
            if isinstance(body, str):
                return Refusal(f"{body} (EVSE {evse})")
            settings[json.dumps(body, sort_keys=True)] = body
        if len(settings) > 1:
            return Refusal(
                f"NOT_CAPABLE: one station runs one {what}; its EVSEs were asked different "
                + ("droop settings" if control_type == "FreqDroop" else f"{what}s")
            )
        ends = [h.valid_until for _, h in serving]
        valid_to = None if any(e is None for e in ends) else max(e for e in ends if e is not None)
        body = next(iter(settings.values())) | {"startTime": iso(now)}
        if valid_to is not None:
            body["duration"] = float(int((valid_to - now).total_seconds()))
        payload = {
            "isDefault": False,
            "controlId": control_id,
            "controlType": control_type,
            field_name: body,
        }
        record = DerRecord(control_id, control_type, valid_to, tuple(h for _, h in serving))
        calls.append(OcppCall("SetDERControl", payload, None, LedgerChange(der=record)))
    return calls


# --- planning --------------------------------------------------------------------------------


def _plan(
    ledger: ProfileLedger,
    changes: Iterable[tuple[int, str | None, Command | None, str]],
    limits: StationLimits,
    now: datetime,
    everything: bool,
    rated_w: Mapping[int, float] | None,
) -> list[OcppCall] | Refusal:
    """The calls for `changes` ((EVSE number, eMI3 id, command or None, origin) in order),
    re-sending every profile still in force when `everything`."""
    if "W" not in limits.rate_units and "A" not in limits.rate_units:
        return Refusal(
            f"NOT_CAPABLE: the station takes no charging rate unit we know: {limits.rate_units}"
        )
    ours: dict[int, ProfileRecord] = {}
    for record in ledger.profiles.values():
        if record.valid(now):
            ours[record.evse] = record
    slots: dict[int, dict[tuple[str, str], Held]] = {
        evse: {h.slot: h for h in r.held if h.in_force(now + _ONE_SECOND)}
        for evse, r in ours.items()
    }
    names: dict[int, str | None] = {evse: r.evse_id for evse, r in ours.items()}
    touched: set[int] = set(ours) if everything else set()
    for evse, evse_id, command, origin in changes:
        slot = slots.setdefault(evse, {})
        names.setdefault(evse, evse_id)
        touched.add(evse)
        if command is None or isinstance(command.control, ClearCommand):
            for key in [k for k in slot if k[0] == origin]:
                del slot[key]
            continue
        held = _held(origin, command)
        slot.pop(held.slot, None)
        if held.in_force(now + _ONE_SECOND):
            slot[held.slot] = held
    clears: list[OcppCall] = []
    sets: list[OcppCall] = []
    taken = {r.profile_id for r in ours.values()} | set(ledger.external)
    kept = sum(1 for e in ledger.external.values() if e.valid(now))
    assigned: list[tuple[int, str, int]] = []
    for evse in sorted(set(slots) | set(ours)):
        current = ours.get(evse)
        in_slot = sorted(slots.get(evse, {}).values(), key=lambda h: h.slot)
        if evse not in touched:
            kept += current is not None
            continue
        purpose = station_purpose(limits.version) if evse == 0 else EVSE_PURPOSE
        schedule = schedule_of(in_slot, evse, limits, now) if in_slot else Schedule([], None)
        if not schedule.periods:
            if current is not None and not everything:
                clears.append(_clear_profile(current, limits))
            continue
        if current is not None and current.purpose == purpose:
            pid = current.profile_id
        else:
            pid = _profile_id(evse, purpose, taken)
            taken.add(pid)
        others = [
            (e.evse, e.purpose, e.stack_level) for e in ledger.external.values() if e.valid(now)
        ]
        others += [(r.evse, r.purpose, r.stack_level) for e, r in ours.items() if e != evse]
        others += [(e, p, lv) for e, p, lv in assigned if e != evse]
        level = _stack_level(evse, purpose, current, others, limits)
        if level is None:
            return Refusal(
                f"NOT_CAPABLE: every stack level 0..{limits.max_stack_level} of {purpose} on "
                f"EVSE {evse} is held by other profiles of the station (on 1.6, of any connector)"
            )
        assigned.append((evse, purpose, level))
        record = ProfileRecord(
            pid, evse, purpose, level, now, schedule.valid_to, tuple(in_slot), names.get(evse)
        )
        sets.append(_set_profile(record, schedule, limits))
        kept += 1
    if kept > limits.max_profiles:
        return Refusal(
            f"NOT_CAPABLE: the station holds at most {limits.max_profiles} charging profiles; "
            f"these commands need {kept}"
        )
    calls = clears + sets
    if limits.version == "2.1" and limits.der:
        droops = [
            (evse, h) for evse in sorted(slots) for h in slots[evse].values() if h.kind == "droop"
        ]
        had = {e for e, r in ours.items() if any(h.kind == "droop" for h in r.held)}
        has = {e for e, held in slots.items() if any(h.kind == "droop" for h in held.values())}
        if everything or touched & (had | has):
            der = _der_calls(ledger, droops, limits, now, rated_w or {})
            if isinstance(der, Refusal):
                return der
            calls.extend(der)
    return calls


def refusal_of(command: Command, evses: Mapping[str, int], limits: StationLimits) -> Refusal | None:
    """Why the station cannot take `command` on its own (None: it can), so that an adapter can
    answer each command of a batch and plan only those the station can do."""
    reason = _capable(command, limits)
    if reason is not None:
        return Refusal(f"{reason} [{command.target.level} {command.target.id}]")
    if command.target.level is ControlLevel.EVSE and evses.get(command.target.id, 0) < 1:
        return Refusal(f"UNKNOWN_EVSE: EVSE {command.target.id} is not on this station")
    return None


def plan_calls(
    ledger: ProfileLedger,
    commands: Sequence[Command],
    evses: Mapping[str, int],
    limits: StationLimits,
    now: datetime,
    rated_w: Mapping[int, float] | None = None,
) -> list[OcppCall] | Refusal:
    """Calls that put `commands` in force on one station; updates the ledger only through the
    returned calls' acknowledgement: call `ledger.confirm(call)` for each Accepted call.

    All or nothing: when the station cannot do one of the commands, the answer is a `Refusal`
    naming it and no call is made (`refusal_of` answers per command). EVSE commands
    address `evses[target.id]` (the OCPP evseId / 1.6 connectorId); SITE commands address the
    whole station (EVSE 0). `rated_w` is each EVSE's rated power (W, by EVSE number), the
    basis of a volt-watt curve's `PctMaxW` (without it volt-watt is refused).
    """
    now = now.astimezone(UTC).replace(microsecond=0)
    changes: list[tuple[int, str | None, Command | None, str]] = []
    for command in commands:
        refusal = refusal_of(command, evses, limits)
        if refusal is not None:
            return refusal
        origin = f"{command.target.level}:{command.target.id}"
        if command.target.level is ControlLevel.SITE:
            changes.append((0, None, command, origin))
        else:
            changes.append((evses[command.target.id], command.target.id, command, origin))
    return _plan(ledger, changes, limits, now, everything=False, rated_w=rated_w)


def resend_calls(
    ledger: ProfileLedger,
    limits: StationLimits,
    now: datetime,
    rated_w: Mapping[int, float] | None = None,
) -> list[OcppCall]:
    """Everything still in force (valid_until in the future), after a reconnect or a reboot:
    each profile recomposed from `now` with its id and stack level, and the DER controls
    (`rated_w` as for `plan_calls`)."""
    now = now.astimezone(UTC).replace(microsecond=0)
    calls = _plan(ledger, [], limits, now, everything=True, rated_w=rated_w)
    return [] if isinstance(calls, Refusal) else calls
