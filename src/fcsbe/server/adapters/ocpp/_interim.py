"""A minimal charging-profile planner used until the full one (`profiles.py`) is in place.

It keeps the planner's interface (`StationLimits`, `ProfileLedger`, `OcppCall`, `plan_calls`,
`resend_calls`) so the endpoint does not change when the full planner replaces it. What it does:
one absolute TxDefaultProfile per EVSE command (a limit in W, or A on a 1.6 station that
reported no W), ClearChargingProfile for a clear, refusal of what needs discharge or local
frequency control on a station without V2X.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal

from fcsbe.server.adapters.base import (
    ClearCommand,
    Command,
    ControlLevel,
    DroopCommand,
    FfrCommand,
    LimitCommand,
    SetpointCommand,
)

__all__ = [
    "OcppCall",
    "OcppVersion",
    "ProfileLedger",
    "Refusal",
    "StationLimits",
    "plan_calls",
    "resend_calls",
]

OcppVersion = Literal["1.6", "2.0.1", "2.1"]

_PROFILE_BASE = 1000
"""Profile ids of EVSE commands: this base plus the OCPP EVSE number."""
_STACK_LEVEL = 1


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
        """A JSON document of the limits."""
        document = asdict(self)
        document["rate_units"] = list(self.rate_units)
        return document

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> StationLimits:
        """The limits of `to_json`."""
        values = dict(document)
        values["rate_units"] = tuple(values.get("rate_units", ("W", "A")))
        return cls(**values)


@dataclass(frozen=True)
class OcppCall:
    """One call to a station: action, OCPP-J payload (camelCase) and the eMI3 EVSE it is for."""

    action: str
    payload: dict[str, Any]
    evse_id: str | None


@dataclass(frozen=True)
class Refusal:
    """Why a station cannot do what was asked."""

    reason: str


@dataclass
class ProfileLedger:
    """The profiles installed on one station: `SetChargingProfile` payloads by EVSE id, with
    their validity, confirmed when the station accepted them."""

    installed: dict[str, dict[str, Any]] = field(default_factory=dict)

    def confirm(self, call: OcppCall) -> None:
        """Record an accepted call."""
        if call.evse_id is None:
            return
        if call.action == "SetChargingProfile":
            self.installed[call.evse_id] = {"action": call.action, "payload": call.payload}
        elif call.action == "ClearChargingProfile":
            self.installed.pop(call.evse_id, None)

    def to_json(self) -> str:
        """The ledger as JSON text."""
        return json.dumps({"installed": self.installed}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ProfileLedger:
        """The ledger of `to_json`."""
        return cls(dict(json.loads(text).get("installed", {})))


def _limit_w(command: Command) -> float | None:
    control = command.control
    if isinstance(control, SetpointCommand):
        return control.p_w if control.p_w > 0 else 0.0
    if isinstance(control, LimitCommand):
        return control.max_import_w
    return None


def _profile(
    command: Command, number: int, limit_w: float, limits: StationLimits, now: datetime
) -> dict[str, Any]:
    unit = "W" if "W" in limits.rate_units else "A"
    value = limit_w if unit == "W" else limit_w / (limits.phases * limits.voltage_v)
    period: dict[str, Any] = {"startPeriod": 0, "limit": round(value, 1)}
    if unit == "A":
        period["numberPhases"] = limits.phases
    if limits.version == "1.6":
        profile: dict[str, Any] = {
            "chargingProfileId": _PROFILE_BASE + number,
            "stackLevel": _STACK_LEVEL,
            "chargingProfilePurpose": "TxDefaultProfile",
            "chargingProfileKind": "Absolute",
            "validFrom": now.isoformat(),
            "chargingSchedule": {
                "chargingRateUnit": unit,
                "startSchedule": now.isoformat(),
                "chargingSchedulePeriod": [period],
            },
        }
        if command.valid_until is not None:
            profile["validTo"] = command.valid_until.isoformat()
        return {"connectorId": number, "csChargingProfiles": profile}
    profile = {
        "id": _PROFILE_BASE + number,
        "stackLevel": _STACK_LEVEL,
        "chargingProfilePurpose": "TxDefaultProfile",
        "chargingProfileKind": "Absolute",
        "validFrom": now.isoformat(),
        "chargingSchedule": [
            {
                "id": _PROFILE_BASE + number,
                "chargingRateUnit": unit,
                "startSchedule": now.isoformat(),
                "chargingSchedulePeriod": [period],
            }
        ],
    }
    if command.valid_until is not None:
        profile["validTo"] = command.valid_until.isoformat()
    return {"evseId": number, "chargingProfile": profile}


def plan_calls(
    ledger: ProfileLedger,
    commands: Sequence[Command],
    evses: Mapping[str, int],
    limits: StationLimits,
    now: datetime,
) -> list[OcppCall] | Refusal:
    """The calls that put `commands` in force on one station (see the module doc)."""
    calls: list[OcppCall] = []
    for command in commands:
        evse_id = command.target.id
        if command.target.level is not ControlLevel.EVSE or evse_id not in evses:
            return Refusal(f"NOT_CAPABLE: {evse_id} is not an EVSE of this station")
        number = evses[evse_id]
        control = command.control
        if isinstance(control, ClearCommand):
            payload: dict[str, Any] = (
                {"id": _PROFILE_BASE + number}
                if limits.version == "1.6"
                else {"chargingProfileId": _PROFILE_BASE + number}
            )
            calls.append(OcppCall("ClearChargingProfile", payload, evse_id))
            continue
        needs_v2x = isinstance(control, DroopCommand | FfrCommand) or (
            isinstance(control, SetpointCommand) and control.p_w < 0
        )
        if needs_v2x and not limits.v2x:
            return Refusal(
                f"NOT_CAPABLE: OCPP {limits.version} station without V2X cannot take "
                f"{type(control).__name__}"
            )
        limit_w = _limit_w(command)
        if limit_w is None:
            continue
        calls.append(
            OcppCall("SetChargingProfile", _profile(command, number, limit_w, limits, now), evse_id)
        )
    return calls


def resend_calls(ledger: ProfileLedger, limits: StationLimits, now: datetime) -> list[OcppCall]:
    """Every installed profile still valid at `now`."""
    calls = []
    for evse_id, entry in ledger.installed.items():
        payload = entry["payload"]
        profile = payload.get("chargingProfile") or payload.get("csChargingProfiles") or {}
        valid_to = profile.get("validTo")
        if valid_to is not None and datetime.fromisoformat(valid_to) <= now:
            continue
        calls.append(OcppCall(entry["action"], payload, evse_id))
    return calls
