"""The profile ledger: what one station holds of ours, so that concurrent controls never collide.

OCPP lets a station hold one charging profile per (stackLevel, purpose, EVSE) at a time and
replaces a profile by id. The planner therefore never installs two profiles of its own on the
same (EVSE, purpose): every control in force on an EVSE (a limit, a setpoint, an armed droop or
FFR, from whichever FS) is composed into one profile whose id is stable for that (EVSE, purpose)
and whose stack level is allocated once, away from the levels of profiles the station reported
as not ours. Station-wide limits of every site on the station share the one
ChargingStationMaxProfile on EVSE 0 the same way.

The ledger records, per profile, the controls it carries (`Held`): the next plan recomposes from
them, and a reconnect re-sends them. It changes only by `confirm(call)` for a call the station
accepted, so a rejected or lost call never makes the ledger claim what the station does not
have. It round-trips through JSON (`to_json` / `from_json`) so the server persists it per
station.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fcsbe.server.adapters.ocpp.profiles import OcppCall

__all__ = [
    "DerRecord",
    "ExternalProfile",
    "Held",
    "LedgerChange",
    "ProfileLedger",
    "ProfileRecord",
]

_FORMAT = 1
"""Version of the JSON form, for a later reader."""


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _parse(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def _curve(points: Any) -> tuple[tuple[float, float], ...]:
    return tuple((float(x), float(y)) for x, y in points or ())


@dataclass(frozen=True, slots=True)
class Held:
    """One control in force on a profile: its kind (`limit`, `setpoint`, `droop`, `ffr`), the
    target it came from (`EVSE:<id>` / `SITE:<id>`), the command's fields, its FS and its end."""

    origin: str
    kind: str
    values: tuple[tuple[str, float | None], ...]
    fs_id: str | None = None
    valid_until: datetime | None = None
    points: tuple[tuple[float, float], ...] = ()
    """The frequency-watt curve (Hz, W added to the baseline) the command states itself: a
    droop's ordered curve, or the staircase of every FFR trigger level (empty: computed from
    `values`)."""
    volt_var: tuple[tuple[float, float], ...] = ()
    """A droop's volt-var curve (% of nominal voltage, % of the reactive rating, + inject)."""
    volt_watt: tuple[tuple[float, float], ...] = ()
    """A droop's volt-watt curve (% of nominal voltage, W added to the power otherwise in
    force)."""

    def in_force(self, now: datetime) -> bool:
        """True while the control is to be applied at `now`."""
        return self.valid_until is None or self.valid_until > now

    @property
    def slot(self) -> tuple[str, str]:
        """What a newer command replaces: the same origin and kind (droop and FFR share one
        slot: an EVSE runs one local frequency function at a time)."""
        return (self.origin, "armed" if self.kind in ("droop", "ffr") else self.kind)

    def get(self, name: str) -> float | None:
        """One field of the command (None when absent)."""
        return dict(self.values).get(name)

    def to_dict(self) -> dict[str, Any]:
        """JSON form (curves only when there are some, so older ledgers read the same)."""
        curves = {
            name: [list(p) for p in getattr(self, name)]
            for name in ("points", "volt_var", "volt_watt")
            if getattr(self, name)
        }
        return {
            "origin": self.origin,
            "kind": self.kind,
            "values": [list(pair) for pair in self.values],
            "fs_id": self.fs_id,
            "valid_until": _time(self.valid_until),
        } | curves

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Held:
        """From `to_dict`."""
        return cls(
            origin=data["origin"],
            kind=data["kind"],
            values=tuple((str(k), v) for k, v in data["values"]),
            fs_id=data.get("fs_id"),
            valid_until=_parse(data.get("valid_until")),
            points=_curve(data.get("points")),
            volt_var=_curve(data.get("volt_var")),
            volt_watt=_curve(data.get("volt_watt")),
        )


@dataclass(frozen=True, slots=True)
class ProfileRecord:
    """One charging profile of ours on the station, with the controls it carries."""

    profile_id: int
    evse: int
    purpose: str
    stack_level: int
    valid_from: datetime
    valid_to: datetime | None
    held: tuple[Held, ...] = ()
    evse_id: str | None = None
    transaction_id: str | None = None

    def valid(self, now: datetime) -> bool:
        """True while the station applies it (OCPP drops a profile past its validTo)."""
        return self.valid_to is None or self.valid_to > now

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "profile_id": self.profile_id,
            "evse": self.evse,
            "purpose": self.purpose,
            "stack_level": self.stack_level,
            "valid_from": _time(self.valid_from),
            "valid_to": _time(self.valid_to),
            "held": [h.to_dict() for h in self.held],
            "evse_id": self.evse_id,
            "transaction_id": self.transaction_id,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ProfileRecord:
        """From `to_dict`."""
        valid_from = _parse(data["valid_from"])
        assert valid_from is not None
        return cls(
            profile_id=int(data["profile_id"]),
            evse=int(data["evse"]),
            purpose=data["purpose"],
            stack_level=int(data["stack_level"]),
            valid_from=valid_from,
            valid_to=_parse(data.get("valid_to")),
            held=tuple(Held.from_dict(h) for h in data.get("held", [])),
            evse_id=data.get("evse_id"),
            transaction_id=data.get("transaction_id"),
        )


@dataclass(frozen=True, slots=True)
class DerRecord:
    """One OCPP 2.1 DER control of ours on the station (station-wide: DER controls have no
    EVSE): `FreqDroop`, `VoltVar` or `VoltWatt`, with the droop controls of the EVSEs it
    serves."""

    control_id: str
    control_type: str
    valid_to: datetime | None
    held: tuple[Held, ...] = ()

    def valid(self, now: datetime) -> bool:
        """True while the station applies it."""
        return self.valid_to is None or self.valid_to > now

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "control_id": self.control_id,
            "control_type": self.control_type,
            "valid_to": _time(self.valid_to),
            "held": [h.to_dict() for h in self.held],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DerRecord:
        """From `to_dict`."""
        return cls(
            control_id=data["control_id"],
            control_type=data["control_type"],
            valid_to=_parse(data.get("valid_to")),
            held=tuple(Held.from_dict(h) for h in data.get("held", [])),
        )


@dataclass(frozen=True, slots=True)
class ExternalProfile:
    """A profile on the station that is not ours (installed by the CSO, a local controller or an
    earlier backend, as GetChargingProfiles reports it): its id and stack level are avoided."""

    profile_id: int
    evse: int
    purpose: str
    stack_level: int
    valid_to: datetime | None = None

    def valid(self, now: datetime) -> bool:
        """True while the station applies it."""
        return self.valid_to is None or self.valid_to > now


@dataclass(frozen=True, slots=True)
class LedgerChange:
    """What confirming a call changes: a profile or DER control installed (`profile` /
    `der`) or removed (`cleared_profile` / `cleared_der`)."""

    profile: ProfileRecord | None = None
    cleared_profile: int | None = None
    der: DerRecord | None = None
    cleared_der: str | None = None


def _change_of(call: OcppCall) -> LedgerChange:
    """What a call changes, read from its payload alone (a call rebuilt from action and
    payload): ids, levels and validity, without the controls (which only the planner's own
    call carries, so such a profile is not recomposed or re-sent)."""
    payload = call.payload
    if call.action == "SetChargingProfile":
        body = payload.get("chargingProfile") or payload.get("csChargingProfiles") or {}
        pid = body.get("id", body.get("chargingProfileId", 0))
        valid_from = _parse_ocpp(body.get("validFrom")) or datetime.min.replace(tzinfo=UTC)
        record = ProfileRecord(
            int(pid),
            int(payload.get("evseId", payload.get("connectorId", 0))),
            str(body.get("chargingProfilePurpose")),
            int(body.get("stackLevel", 0)),
            valid_from,
            _parse_ocpp(body.get("validTo")),
            evse_id=call.evse_id,
        )
        return LedgerChange(profile=record)
    if call.action == "ClearChargingProfile":
        pid = payload.get("chargingProfileId", payload.get("id"))
        return LedgerChange(cleared_profile=None if pid is None else int(pid))
    if call.action == "SetDERControl":
        control_type = str(payload.get("controlType"))
        body = next(
            (v for k, v in payload.items() if isinstance(v, dict) and k != "customData"), {}
        )
        start, duration = _parse_ocpp(body.get("startTime")), body.get("duration")
        valid_to = (
            None if start is None or duration is None else start + timedelta(seconds=duration)
        )
        der = DerRecord(str(payload.get("controlId")), control_type, valid_to)
        return LedgerChange(der=der)
    if call.action == "ClearDERControl" and payload.get("controlId") is not None:
        return LedgerChange(cleared_der=str(payload["controlId"]))
    return LedgerChange()


def _parse_ocpp(value: Any) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if isinstance(value, str) else None


@dataclass(slots=True)
class ProfileLedger:
    """Per station: our installed profiles (by id) and DER controls (by control id), plus the
    profiles the station reported that are not ours."""

    profiles: dict[int, ProfileRecord] = field(default_factory=dict)
    der_controls: dict[str, DerRecord] = field(default_factory=dict)
    external: dict[int, ExternalProfile] = field(default_factory=dict)

    def confirm(self, call: OcppCall) -> None:
        """Record a call the station answered `Accepted` (any other answer: do not call this).

        Confirming the same call twice leaves the same ledger (calls are idempotent). Pass the
        call `plan_calls` returned: it carries the controls the next plan recomposes from."""
        change = call.change if call.change is not None else _change_of(call)
        if change.profile is not None:
            new = change.profile
            for pid, old in list(self.profiles.items()):
                if pid != new.profile_id and (old.evse, old.purpose) == (new.evse, new.purpose):
                    # Impossible through plan_calls; kept so that the ledger never holds two of
                    # ours on one (EVSE, purpose) whatever the order of confirmations.
                    del self.profiles[pid]
            self.profiles[new.profile_id] = new
            self.external.pop(new.profile_id, None)
        if change.cleared_profile is not None:
            self.profiles.pop(change.cleared_profile, None)
        if change.der is not None:
            self.der_controls[change.der.control_id] = change.der
        if change.cleared_der is not None:
            self.der_controls.pop(change.cleared_der, None)

    def note_external(self, profile: ExternalProfile) -> None:
        """Remember a profile the station holds that is not ours (its stack level is avoided)."""
        if profile.profile_id not in self.profiles:
            self.external[profile.profile_id] = profile

    def prune(self, now: datetime) -> None:
        """Forget what the station has dropped on its own (past validTo)."""
        self.profiles = {k: v for k, v in self.profiles.items() if v.valid(now)}
        self.der_controls = {k: v for k, v in self.der_controls.items() if v.valid(now)}
        self.external = {k: v for k, v in self.external.items() if v.valid(now)}

    def to_json(self) -> str:
        """JSON text (stable key order) for the server to persist per station."""
        return json.dumps(
            {
                "format": _FORMAT,
                "profiles": [p.to_dict() for _, p in sorted(self.profiles.items())],
                "der_controls": [d.to_dict() for _, d in sorted(self.der_controls.items())],
                "external": [
                    {
                        "profile_id": e.profile_id,
                        "evse": e.evse,
                        "purpose": e.purpose,
                        "stack_level": e.stack_level,
                        "valid_to": _time(e.valid_to),
                    }
                    for _, e in sorted(self.external.items())
                ],
            },
            sort_keys=True,
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str) -> ProfileLedger:
        """From `to_json` (an empty text gives an empty ledger)."""
        if not text.strip():
            return cls()
        data = json.loads(text)
        ledger = cls()
        for p in data.get("profiles", []):
            record = ProfileRecord.from_dict(p)
            ledger.profiles[record.profile_id] = record
        for d in data.get("der_controls", []):
            der = DerRecord.from_dict(d)
            ledger.der_controls[der.control_id] = der
        for e in data.get("external", []):
            ext = ExternalProfile(
                int(e["profile_id"]),
                int(e["evse"]),
                e["purpose"],
                int(e["stack_level"]),
                _parse(e.get("valid_to")),
            )
            ledger.external[ext.profile_id] = ext
        return ledger
