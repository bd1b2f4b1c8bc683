"""A semantic checker of OCPP smart-charging rules, for the calls a CSMS sends one station.

The JSON schemas say what a message may look like; they cannot say that two profiles collide,
that a CSMS may not send a purpose, or that periods run backwards. This checker replays calls
over what the station holds (a `ProfileLedger`: ours and the station's own) and reports every
broken rule of the OCPP smart-charging functional block (K01 `SetChargingProfile`, K10
`ClearChargingProfile` in 2.0.1 / 2.1; 1.6J's Smart Charging profile; R DER controls in 2.1):

- actions and purposes a CSMS may send (never `ChargingStationExternalConstraints`), the
  station-wide maximum only on EVSE 0, a `TxProfile` only on an EVSE and, on 2.x, with its
  transaction;
- one valid profile per (stackLevel, purpose, EVSE) at a time (K01.FR.06; on 1.6 per
  (stackLevel, purpose) on the whole station, which replaces the older one); stack levels within
  `ChargingProfileMaxStackLevel`; at most `max_profiles` installed; an id names one (EVSE,
  purpose) only;
- schedules: 1..`periods_per_schedule` periods, the first at 0, strictly increasing
  `startPeriod`, a unit the station takes, phases within 1..3, `startSchedule` for an absolute
  profile, coherent `validFrom` / `validTo` / `duration`;
- values: limits non-negative, discharge limits non-positive, setpoints within them,
  operation modes, setpoints and discharge only on a 2.1 station with V2X and never in a
  station maximum, a `LocalFrequency` curve with increasing frequencies;
- clearing by profile id (never by criteria, which would wipe other parties' profiles), of a
  profile that is there; DER controls only on a 2.1 station with DER control, one setting per
  control, coherent droops, volt-var / volt-watt curves in their units with rising voltages.

Pure and deterministic; it is run over the planner's output in the tests (random commands of
every type, docs/ocpp-mapping.md) and can check any call sequence a deployment records.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fcsbe.server.adapters.ocpp.ledger import ProfileLedger
from fcsbe.server.adapters.ocpp.profiles import OcppCall, StationLimits

__all__ = ["CSMS_PURPOSES", "check_calls"]

CSMS_PURPOSES: dict[str, frozenset[str]] = {
    "1.6": frozenset({"ChargePointMaxProfile", "TxDefaultProfile", "TxProfile"}),
    "2.0.1": frozenset({"ChargingStationMaxProfile", "TxDefaultProfile", "TxProfile"}),
    "2.1": frozenset(
        {
            "ChargingStationMaxProfile",
            "TxDefaultProfile",
            "TxProfile",
            "PriorityCharging",
            "LocalGeneration",
        }
    ),
}
"""The purposes a CSMS may send, per version (`ChargingStationExternalConstraints` is set by
the station's external actors only)."""

_ACTIONS: dict[str, frozenset[str]] = {
    "1.6": frozenset({"SetChargingProfile", "ClearChargingProfile"}),
    "2.0.1": frozenset({"SetChargingProfile", "ClearChargingProfile"}),
    "2.1": frozenset(
        {"SetChargingProfile", "ClearChargingProfile", "SetDERControl", "ClearDERControl"}
    ),
}
_FIRST = datetime.min.replace(tzinfo=UTC)
_LAST = datetime.max.replace(tzinfo=UTC)
_V2X_FIELDS = ("operationMode", "setpoint", "dischargeLimit", "setpointReactive", "v2xBaseline")


@dataclass(frozen=True, slots=True)
class _Installed:
    profile_id: int
    evse: int
    purpose: str
    stack_level: int
    valid_from: datetime | None
    valid_to: datetime | None

    def valid(self, now: datetime | None) -> bool:
        return now is None or self.valid_to is None or self.valid_to > now

    def overlaps(self, other: _Installed) -> bool:
        """True when the two validity windows share an instant (open ends are unbounded)."""
        return (self.valid_from or _FIRST) < (other.valid_to or _LAST) and (
            other.valid_from or _FIRST
        ) < (self.valid_to or _LAST)


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


class _Checker:
    def __init__(self, ledger: ProfileLedger | None, limits: StationLimits, now: datetime | None):
        self.limits = limits
        self.now = now
        self.problems: list[str] = []
        self.profiles: dict[int, _Installed] = {}
        self.der: dict[str, str] = {}
        if ledger is not None:
            for r in ledger.profiles.values():
                self.profiles[r.profile_id] = _Installed(
                    r.profile_id, r.evse, r.purpose, r.stack_level, r.valid_from, r.valid_to
                )
            for e in ledger.external.values():
                self.profiles[e.profile_id] = _Installed(
                    e.profile_id, e.evse, e.purpose, e.stack_level, None, e.valid_to
                )
            self.der = {d.control_id: d.control_type for d in ledger.der_controls.values()}
        self.where = ""

    def fail(self, rule: str) -> None:
        self.problems.append(f"{self.where}: {rule}")

    def call(self, index: int, call: OcppCall) -> None:
        self.where = f"call {index} {call.action}"
        version = self.limits.version
        if call.action not in _ACTIONS[version]:
            self.fail(f"a CSMS does not send {call.action} for smart charging on OCPP {version}")
            return
        if call.action == "SetChargingProfile":
            self.set_profile(call.payload)
        elif call.action == "ClearChargingProfile":
            self.clear_profile(call.payload)
        elif call.action == "SetDERControl":
            self.set_der(call.payload)
        else:
            self.clear_der(call.payload)

    # --- SetChargingProfile ----------------------------------------------------------------

    def set_profile(self, payload: dict[str, Any]) -> None:
        limits = self.limits
        if limits.version == "1.6":
            evse = payload.get("connectorId")
            body = payload.get("csChargingProfiles") or {}
            pid = body.get("chargingProfileId")
            schedules = [body.get("chargingSchedule") or {}]
        else:
            evse = payload.get("evseId")
            body = payload.get("chargingProfile") or {}
            pid = body.get("id")
            schedules = list(body.get("chargingSchedule") or [])
        self.where += f" profile {pid}"
        if not isinstance(evse, int) or evse < 0 or not isinstance(pid, int):
            self.fail("needs an EVSE (connector) id >= 0 and an integer profile id")
            return
        purpose = str(body.get("chargingProfilePurpose"))
        level = body.get("stackLevel")
        self.purpose_rules(purpose, evse, body)
        if not isinstance(level, int) or not 0 <= level <= limits.max_stack_level:
            self.fail(f"stackLevel {level} outside 0..{limits.max_stack_level}")
            level = -1
        valid_from, valid_to = _time(body.get("validFrom")), _time(body.get("validTo"))
        if valid_from is not None and valid_to is not None and valid_from >= valid_to:
            self.fail(f"validFrom {body.get('validFrom')} is not before validTo")
        if not schedules:
            self.fail("has no charging schedule")
        if limits.version != "2.1" and len(schedules) > 1:
            self.fail("more than one charging schedule before OCPP 2.1")
        for schedule in schedules:
            self.schedule_rules(schedule, body, purpose, evse, valid_to)
        new = _Installed(pid, evse, purpose, level, valid_from, valid_to)
        old = self.profiles.get(pid)
        if old is not None and (old.evse, old.purpose) != (evse, purpose):
            self.fail(
                f"profile id {pid} already names a {old.purpose} on EVSE {old.evse}: ids must be "
                "unique on the station"
            )
        station_wide = limits.version == "1.6"
        for other in self.profiles.values():
            if (
                other.profile_id != pid
                and (other.purpose, other.stack_level) == (purpose, level)
                and (station_wide or other.evse == evse)
                and other.valid(self.now or valid_from)
                and other.overlaps(new)
            ):
                self.fail(
                    f"stackLevel {level} of {purpose} on EVSE {evse} is already held by valid "
                    f"profile {other.profile_id} (on EVSE {other.evse})"
                )
        self.profiles[pid] = new
        count = sum(1 for p in self.profiles.values() if p.valid(self.now or valid_from))
        if count > limits.max_profiles:
            self.fail(
                f"{count} profiles installed, the station holds at most {limits.max_profiles}"
            )

    def purpose_rules(self, purpose: str, evse: int, body: dict[str, Any]) -> None:
        version = self.limits.version
        if purpose not in CSMS_PURPOSES[version]:
            self.fail(f"purpose {purpose} may not be sent by a CSMS on OCPP {version}")
        if purpose.endswith("MaxProfile") and evse != 0:
            self.fail(f"{purpose} on EVSE {evse}: a station maximum goes on EVSE 0")
        if purpose.endswith("MaxProfile") and body.get("chargingProfileKind") == "Relative":
            self.fail(f"a Relative {purpose} (K01.FR.38)")
        if purpose == "TxProfile":
            if evse == 0:
                self.fail("TxProfile on EVSE 0: a transaction profile needs its EVSE")
            if version != "1.6" and not body.get("transactionId"):
                self.fail("TxProfile without transactionId (K01.FR.03)")
        elif body.get("transactionId") is not None:
            self.fail(f"transactionId on a {purpose}")
        kind = body.get("chargingProfileKind")
        if kind == "Recurring" and not body.get("recurrencyKind"):
            self.fail("a Recurring profile needs recurrencyKind")

    def schedule_rules(
        self,
        schedule: dict[str, Any],
        body: dict[str, Any],
        purpose: str,
        evse: int,
        valid_to: datetime | None,
    ) -> None:
        limits = self.limits
        kind = body.get("chargingProfileKind")
        start = _time(schedule.get("startSchedule"))
        if kind in ("Absolute", "Recurring") and start is None:
            self.fail(f"an {kind} profile needs startSchedule (K01.FR.40)")
        if kind == "Relative" and start is not None:
            self.fail("a Relative profile has no startSchedule (K01.FR.41)")
        unit = schedule.get("chargingRateUnit")
        if unit not in limits.rate_units:
            self.fail(f"rate unit {unit} is not one the station takes ({limits.rate_units})")
        duration = schedule.get("duration")
        if duration is not None and (not isinstance(duration, int) or duration <= 0):
            self.fail(f"schedule duration {duration} is not a positive number of seconds")
            duration = None
        runs_past = (
            start and duration and valid_to and (valid_to - start).total_seconds() < duration
        )
        if runs_past:
            self.fail("the schedule runs past the profile's validTo")
        periods = list(schedule.get("chargingSchedulePeriod") or [])
        if not 1 <= len(periods) <= limits.periods_per_schedule:
            self.fail(f"{len(periods)} periods, the station takes 1..{limits.periods_per_schedule}")
        previous = -1
        for i, period in enumerate(periods):
            begin = period.get("startPeriod")
            if not isinstance(begin, int):
                self.fail(f"period {i} has no integer startPeriod")
                continue
            if i == 0 and begin != 0:
                self.fail(f"the first period starts at {begin}, not 0")
            if begin <= previous:
                self.fail(f"startPeriod {begin} does not increase (after {previous})")
            if duration is not None and begin >= duration:
                self.fail(f"period at {begin} s starts after the schedule's {duration} s")
            previous = begin
            self.period_rules(i, period, purpose, evse)

    def period_rules(self, i: int, period: dict[str, Any], purpose: str, evse: int) -> None:
        limits = self.limits
        where = f"period {i}"
        phases = period.get("numberPhases")
        if phases is not None and not 1 <= phases <= 3:
            self.fail(f"{where}: numberPhases {phases} outside 1..3")
        if period.get("phaseToUse") is not None and phases != 1:
            self.fail(f"{where}: phaseToUse needs numberPhases 1")
        limit = period.get("limit")
        if limit is not None and limit < 0:
            self.fail(f"{where}: negative limit {limit}")
        if limit is None and period.get("operationMode") in (None, "ChargingOnly"):
            self.fail(f"{where}: no limit (a ChargingOnly period needs one)")
        used = [k for k in _V2X_FIELDS if k in period]
        if used and limits.version != "2.1":
            self.fail(f"{where}: {used} exist in OCPP 2.1 only")
            return
        mode = period.get("operationMode")
        two_way = [k for k in used if k != "operationMode"] or mode not in (None, "ChargingOnly")
        if two_way and not limits.bidirectional:
            self.fail(f"{where}: {used} need a station with V2X")
        if purpose.endswith("MaxProfile") and (
            mode is not None or "setpoint" in period or "v2xBaseline" in period
        ):
            self.fail(f"{where}: a station maximum takes limits only, not {used}")
        discharge = period.get("dischargeLimit")
        if discharge is not None and discharge > 0:
            self.fail(f"{where}: positive dischargeLimit {discharge}")
        setpoint = period.get("setpoint")
        if setpoint is not None:
            if limit is not None and setpoint > limit:
                self.fail(f"{where}: setpoint {setpoint} above limit {limit}")
            if discharge is not None and setpoint < discharge:
                self.fail(f"{where}: setpoint {setpoint} below dischargeLimit {discharge}")
        if mode == "CentralSetpoint" and setpoint is None:
            self.fail(f"{where}: CentralSetpoint without setpoint")
        if mode != "CentralSetpoint" and setpoint is not None:
            self.fail(f"{where}: a setpoint needs operationMode CentralSetpoint")
        curve = period.get("v2xFreqWattCurve")
        if mode == "LocalFrequency":
            points = [p.get("frequency") for p in curve or []]
            if len(points) < 2:
                self.fail(f"{where}: LocalFrequency needs a frequency-watt curve of >= 2 points")
            elif any(b <= a for a, b in itertools.pairwise(points)):
                self.fail(f"{where}: frequency-watt curve frequencies do not increase")
        elif curve is not None:
            self.fail(f"{where}: a frequency-watt curve needs operationMode LocalFrequency")
        if mode is not None and evse == 0:
            self.fail(f"{where}: an operation mode on EVSE 0")

    # --- ClearChargingProfile --------------------------------------------------------------

    def clear_profile(self, payload: dict[str, Any]) -> None:
        key = "id" if self.limits.version == "1.6" else "chargingProfileId"
        pid = payload.get(key)
        criteria = set(payload) - {key, "customData"}
        if pid is None or criteria:
            self.fail("clears by criteria, not by profile id (would clear others' profiles)")
        if pid is None:
            return
        self.where += f" profile {pid}"
        if pid not in self.profiles:
            self.fail(f"clears profile {pid}, which the station does not hold")
        self.profiles.pop(pid, None)

    # --- DER controls (2.1) ----------------------------------------------------------------

    def set_der(self, payload: dict[str, Any]) -> None:
        if not self.limits.der:
            self.fail("DER control on a station without DER control")
        control_id = str(payload.get("controlId"))
        control_type = str(payload.get("controlType"))
        self.where += f" control {control_id}"
        if len(control_id) > 36:
            self.fail("controlId longer than 36 characters")
        if payload.get("isDefault") is not False:
            self.fail("a scheduled DER control must not be a default (isDefault false)")
        known = self.der.get(control_id)
        if known is not None and known != control_type:
            self.fail(f"controlId already names a {known} control")
        if control_type == "FreqDroop":
            droop = payload.get("freqDroop") or {}
            needed = ("overFreq", "underFreq", "overDroop", "underDroop", "responseTime")
            if any(not isinstance(droop.get(k), int | float) for k in needed):
                self.fail(f"FreqDroop needs numeric {', '.join(needed)}")
            elif droop["overFreq"] < droop["underFreq"]:
                self.fail("FreqDroop overFreq below underFreq")
            elif droop["overDroop"] <= 0 or droop["underDroop"] <= 0:
                self.fail("FreqDroop droops must be positive")
            elif droop["responseTime"] < 0 or droop.get("duration", 1) <= 0:
                self.fail("FreqDroop responseTime negative or duration not positive")
        elif control_type in _CURVE_UNITS:
            self.curve_rules(control_type, payload.get("curve"))
        fields = [k for k in payload if k not in ("isDefault", "controlId", "controlType")]
        if len([k for k in fields if k != "customData"]) != 1:
            self.fail(f"a DER control carries one setting, not {fields} (R04.FR.17)")
        self.der[control_id] = control_type

    def curve_rules(self, control_type: str, curve: Any) -> None:
        if not isinstance(curve, dict):
            self.fail(f"{control_type} needs a curve")
            return
        points = curve.get("curveData") or []
        xs: list[Any] = [p.get("x") for p in points if isinstance(p, dict)]
        ys: list[Any] = [p.get("y") for p in points if isinstance(p, dict)]
        if curve.get("yUnit") not in _CURVE_UNITS[control_type]:
            units = " or ".join(sorted(_CURVE_UNITS[control_type]))
            self.fail(f"{control_type} yUnit {curve.get('yUnit')} (R04.FR.50-53: {units})")
        if not all(isinstance(v, int | float) for v in xs + ys) or not 2 <= len(xs) <= 10:
            self.fail(f"{control_type} needs 2..10 numeric curve points")
        elif xs[0] <= 0 or any(b <= a for a, b in itertools.pairwise(xs)):
            self.fail(f"{control_type} curve x (V or Hz) must be positive and increasing")
        if curve.get("responseTime", 0) < 0 or curve.get("duration", 1) <= 0:
            self.fail(f"{control_type} responseTime negative or duration not positive")
        if not curve.get("startTime"):
            self.fail(f"a scheduled {control_type} needs a startTime")

    def clear_der(self, payload: dict[str, Any]) -> None:
        control_id = payload.get("controlId")
        if control_id is None:
            self.fail("clears DER controls by type, not by control id")
            return
        if control_id not in self.der:
            self.fail(f"clears DER control {control_id}, which the station does not hold")
        self.der.pop(control_id, None)


_CURVE_UNITS: dict[str, frozenset[str]] = {
    "FreqWatt": frozenset({"PctMaxW", "PctWAvail"}),
    "VoltVar": frozenset({"PctMaxVar", "PctVarAvail"}),
    "VoltWatt": frozenset({"PctMaxW", "PctWAvail"}),
}
"""The y units of the DER curves the planner sends (OCPP 2.1 R04.FR.50, .52 and .53)."""


def check_calls(
    installed: ProfileLedger | None,
    calls: Sequence[OcppCall],
    limits: StationLimits,
    now: datetime | None = None,
) -> list[str]:
    """The semantic checker of OCPP smart-charging rules (K01 etc.): violations, empty if none.

    `installed` is what the station holds before the calls (None: nothing); `now` decides
    which installed profiles are still valid (None: each call's validFrom, else all are)."""
    checker = _Checker(installed, limits, now)
    for index, call in enumerate(calls):
        checker.call(index, call)
    return checker.problems
