"""A simulated charging station's smart-charging memory: installed profiles and what they allow.

The station side of OCPP smart charging (2.x use case K01, 1.6 "Smart Charging"), written as a
pure store so that its rules can be tested without a socket: which profile a
`SetChargingProfile` may install (and why not, as the `statusInfo` a station answers), which one
a `ClearChargingProfile` removes, and the limit that results on an EVSE at an instant:

- within one purpose the valid profile with the highest `stackLevel` whose schedule covers the
  instant wins (an EVSE's own `TxDefaultProfile` before the station-wide one of the same level);
- a `TxProfile` of the running transaction replaces the `TxDefaultProfile`;
- the `ChargingStationMaxProfile` caps the whole station: it is shared equally over the EVSEs
  that have an EV (all of them when none has), and the smaller of the two limits applies.

Everything the CSMS may get wrong is refused here rather than silently applied, so that a
simulated station exposes a faulty CSMS the way a strict real one would: a purpose a CSMS may
not send, a stack level above the station's maximum, two valid profiles with the same stack
level, purpose and EVSE (2.x; OCPP 1.6 replaces the older one instead), more periods than the
station takes, a rate unit it does not support, a `TxProfile` without its transaction.

Sign convention of the project: positive power is import. OCPP's `dischargeLimit` and a
negative `setpoint` are export.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, NamedTuple

__all__ = [
    "SUPPORTED_MODES",
    "EvseElectrics",
    "EvseLimit",
    "FrequencyResponse",
    "OcppVersion",
    "Period",
    "Profile",
    "ProfileStore",
    "StationCapabilities",
    "Verdict",
    "parse_datetime",
    "profile_from_2x",
    "profile_from_16",
]

OcppVersion = Literal["2.1", "2.0.1", "1.6"]

TX = "TxProfile"
TX_DEFAULT = "TxDefaultProfile"
STATION_MAX = "ChargingStationMaxProfile"
EXTERNAL = "ChargingStationExternalConstraints"
PURPOSES_FROM_CSMS = (STATION_MAX, TX_DEFAULT, TX)

SUPPORTED_MODES = ("ChargingOnly", "CentralSetpoint", "Idle", "ExternalLimits", "LocalFrequency")
"""OCPP 2.1 operation modes the simulated EVSEs execute; a period with another is refused."""

_16_PURPOSES = {"ChargePointMaxProfile": STATION_MAX, TX_DEFAULT: TX_DEFAULT, TX: TX}
_16_UNITS = {"W": "W", "A": "A"}


@dataclass(frozen=True, slots=True)
class StationCapabilities:
    """What a station reports about its smart charging (GetVariables / GetConfiguration)."""

    version: OcppVersion
    rate_units: tuple[str, ...] = ("W", "A")
    max_stack_level: int = 8
    periods_per_schedule: int = 24
    max_profiles: int = 20
    v2x: bool = False
    der: bool = False


@dataclass(frozen=True, slots=True)
class EvseElectrics:
    """What converting amperes to watts needs for one EVSE."""

    phases: int = 3
    voltage_v: float = 230.0


class Period(NamedTuple):
    """One period of a schedule, in the schedule's unit (W or A per phase)."""

    start_s: int
    limit: float | None = None
    discharge_limit: float | None = None
    """<= 0 (export), OCPP 2.1 only."""
    setpoint: float | None = None
    number_phases: int | None = None
    operation_mode: str | None = None
    v2x_baseline: float | None = None
    """`LocalFrequency`: the power the frequency-watt curve is added to."""
    freq_watt: tuple[tuple[float, float], ...] = ()
    """`LocalFrequency`: (Hz, W added to the baseline) points, frequency increasing."""
    custom: tuple[tuple[str, Any], ...] = ()
    """`customData` of the period (e.g. FFR timing under a vendor id)."""


class FrequencyResponse(NamedTuple):
    """A `LocalFrequency` period's local response, in W: the station executes it itself."""

    points: tuple[tuple[float, float], ...]
    custom: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Profile:
    """An installed charging profile, the same shape for every OCPP version (2.x names)."""

    id: int
    evse: int
    """0: the station as a whole."""
    stack_level: int
    purpose: str
    kind: str
    unit: str
    periods: tuple[Period, ...]
    start_schedule: datetime | None = None
    duration_s: int | None = None
    valid_from: datetime | None = None
    valid_to: datetime | None = None
    transaction_id: str | None = None
    recurrency: str | None = None

    def valid_at(self, at: datetime) -> bool:
        """Within validFrom / validTo (a profile past validTo is void)."""
        return (self.valid_from is None or self.valid_from <= at) and (
            self.valid_to is None or at < self.valid_to
        )

    def overlaps(self, other: Profile) -> bool:
        """Whether the two validity intervals share an instant."""
        lo = max(_or(self.valid_from, datetime.min), _or(other.valid_from, datetime.min))
        hi = min(_or(self.valid_to, datetime.max), _or(other.valid_to, datetime.max))
        return lo < hi


def _or(value: datetime | None, default: datetime) -> datetime:
    if value is None:
        return default
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value


class Verdict(NamedTuple):
    """The station's answer to a `SetChargingProfile`: `reason` is the `statusInfo` code."""

    accepted: bool
    reason: str | None = None
    detail: str | None = None


class EvseLimit(NamedTuple):
    """What the profiles in force allow on one EVSE now (W; None: unconstrained)."""

    max_import_w: float | None = None
    max_export_w: float | None = None
    setpoint_w: float | None = None
    frequency: FrequencyResponse | None = None

    @property
    def free(self) -> bool:
        """No profile constrains the EVSE."""
        return (
            self.max_import_w is None
            and self.max_export_w is None
            and self.setpoint_w is None
            and self.frequency is None
        )


FREE = EvseLimit()


def parse_datetime(text: str | None) -> datetime | None:
    """An OCPP date-time (RFC 3339, `Z` or an offset) as an aware datetime."""
    if text is None:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _periods(raw: Iterable[Mapping[str, Any]]) -> tuple[Period, ...]:
    return tuple(
        Period(
            start_s=int(p["start_period"]),
            limit=_float(p.get("limit")),
            discharge_limit=_float(p.get("discharge_limit")),
            setpoint=_float(p.get("setpoint")),
            number_phases=None if p.get("number_phases") is None else int(p["number_phases"]),
            operation_mode=p.get("operation_mode"),
            v2x_baseline=_float(p.get("v2x_baseline")),
            freq_watt=tuple(
                (float(q["frequency"]), float(q["power"]))
                for q in p.get("v2x_freq_watt_curve") or ()
            ),
            custom=tuple(sorted((p.get("custom_data") or {}).items())),
        )
        for p in raw
    )


def _float(value: Any) -> float | None:
    """A number of the payload as a float (the `ocpp` library hands 1.6 schedules over as
    `Decimal`s)."""
    return None if value is None else float(value)


def profile_from_2x(evse_id: int, profile: Mapping[str, Any]) -> Profile:
    """A 2.0.1 / 2.1 `chargingProfile` (as the `ocpp` library hands it over: snake_case keys).

    Only the first of the (up to three) schedules is executed: the others are alternatives an
    EV may choose in ISO 15118, which no simulated EV does.
    """
    schedules = profile["charging_schedule"]
    schedule = schedules[0] if isinstance(schedules, list) else schedules
    duration = schedule.get("duration")
    return Profile(
        id=int(profile["id"]),
        evse=evse_id,
        stack_level=int(profile["stack_level"]),
        purpose=str(profile["charging_profile_purpose"]),
        kind=str(profile["charging_profile_kind"]),
        unit=str(schedule["charging_rate_unit"]),
        periods=_periods(schedule["charging_schedule_period"]),
        start_schedule=parse_datetime(schedule.get("start_schedule")),
        duration_s=None if duration is None else int(duration),
        valid_from=parse_datetime(profile.get("valid_from")),
        valid_to=parse_datetime(profile.get("valid_to")),
        transaction_id=profile.get("transaction_id"),
        recurrency=profile.get("recurrency_kind"),
    )


def profile_from_16(connector_id: int, profile: Mapping[str, Any]) -> Profile:
    """A 1.6 `csChargingProfiles` (snake_case keys), in the 2.x shape of `Profile`."""
    schedule = profile["charging_schedule"]
    duration = schedule.get("duration")
    tx = profile.get("transaction_id")
    purpose = str(profile["charging_profile_purpose"])
    return Profile(
        id=int(profile["charging_profile_id"]),
        evse=connector_id,
        stack_level=int(profile["stack_level"]),
        purpose=_16_PURPOSES.get(purpose, purpose),
        kind=str(profile["charging_profile_kind"]),
        unit=_16_UNITS.get(str(schedule["charging_rate_unit"]), "?"),
        periods=_periods(schedule["charging_schedule_period"]),
        start_schedule=parse_datetime(schedule.get("start_schedule")),
        duration_s=None if duration is None else int(duration),
        valid_from=parse_datetime(profile.get("valid_from")),
        valid_to=parse_datetime(profile.get("valid_to")),
        transaction_id=None if tx is None else str(tx),
        recurrency=profile.get("recurrency_kind"),
    )


_RECURRENCE = {"Daily": timedelta(days=1), "Weekly": timedelta(days=7)}


@dataclass(slots=True)
class _Installed:
    profile: Profile
    installed_at: datetime


@dataclass(slots=True)
class ProfileStore:
    """The profiles installed on one station, and the limits they put on its EVSEs."""

    capabilities: StationCapabilities
    evses: Mapping[int, EvseElectrics]
    """OCPP evse id (2.x) / connector id (1.6) -> electrics; 0 is never in it."""
    _installed: dict[int, _Installed] = field(default_factory=dict)
    _tx_started: dict[str, datetime] = field(default_factory=dict)

    # -- install / clear -------------------------------------------------------------------------

    def install(
        self, profile: Profile, now: datetime, transactions: Mapping[int, str | None]
    ) -> Verdict:
        """Check a profile against the station's rules and install it if they hold.

        `transactions`: the running transaction per EVSE (for `TxProfile`s).
        """
        verdict = self._check(profile, transactions)
        if not verdict.accepted:
            return verdict
        if profile.purpose == TX and profile.transaction_id is None:
            profile = _with_tx(profile, transactions.get(profile.evse))
        self.purge(now)
        replaced = self._installed.pop(profile.id, None)
        for other in self._same_slot(profile):
            if self.capabilities.version != "1.6":
                if replaced is not None:
                    self._installed[profile.id] = replaced
                return Verdict(
                    False,
                    "DuplicateProfile",
                    f"profile {other.id} has stackLevel {profile.stack_level} "
                    f"{profile.purpose} on EVSE {profile.evse}",
                )
            del self._installed[other.id]  # 1.6: the new profile replaces the older one
        if profile.id not in self._installed and len(self._installed) >= (
            self.capabilities.max_profiles
        ):
            if replaced is not None:
                self._installed[profile.id] = replaced
            return Verdict(False, "MaxProfiles", f"{self.capabilities.max_profiles} installed")
        self._installed[profile.id] = _Installed(profile, now)
        return Verdict(True)

    def _check(self, p: Profile, transactions: Mapping[int, str | None]) -> Verdict:
        caps = self.capabilities
        if p.purpose not in PURPOSES_FROM_CSMS:
            return Verdict(False, "InvalidProfile", f"a CSMS may not set {p.purpose}")
        if p.evse != 0 and p.evse not in self.evses:
            return Verdict(False, "UnknownEvse", f"no EVSE {p.evse}")
        if p.purpose == STATION_MAX and p.evse != 0:
            return Verdict(False, "InvalidProfile", f"{STATION_MAX} must be on EVSE 0")
        if p.purpose == TX and p.evse == 0:
            return Verdict(False, "InvalidProfile", "a TxProfile needs an EVSE")
        if not 0 <= p.stack_level <= caps.max_stack_level:
            return Verdict(
                False, "InvalidStackLevel", f"stackLevel {p.stack_level} > {caps.max_stack_level}"
            )
        if p.unit not in caps.rate_units:
            return Verdict(False, "UnsupportedRateUnit", f"{p.unit} not in {caps.rate_units}")
        problem = _schedule_problem(p, caps)
        if problem is not None:
            return Verdict(False, "InvalidSchedule", problem)
        if p.purpose == TX:
            running = transactions.get(p.evse)
            if running is None or (p.transaction_id is not None and p.transaction_id != running):
                return Verdict(False, "TxNotFound", f"no transaction {p.transaction_id or ''}")
        return Verdict(True)

    def _same_slot(self, p: Profile) -> list[Profile]:
        return [
            q.profile
            for q in self._installed.values()
            if q.profile.purpose == p.purpose
            and q.profile.stack_level == p.stack_level
            and q.profile.evse == p.evse
            and (p.purpose != TX or q.profile.transaction_id in (None, p.transaction_id))
            and q.profile.overlaps(p)
        ]

    def clear(
        self,
        profile_id: int | None = None,
        *,
        evse: int | None = None,
        purpose: str | None = None,
        stack_level: int | None = None,
    ) -> bool:
        """Remove the profile with `profile_id`, or every profile matching all given criteria
        (no criteria at all: every profile). True when something was removed."""
        if profile_id is not None:
            return self._installed.pop(profile_id, None) is not None
        doomed = [
            k
            for k, q in self._installed.items()
            if (evse is None or q.profile.evse == evse)
            and (purpose is None or q.profile.purpose == purpose)
            and (stack_level is None or q.profile.stack_level == stack_level)
        ]
        for k in doomed:
            del self._installed[k]
        return bool(doomed)

    def clear_all(self) -> None:
        """Forget every profile (a reboot: the simulated station keeps none)."""
        self._installed.clear()

    def transaction_started(self, transaction_id: str, at: datetime) -> None:
        """Relative profiles of a transaction count from its start."""
        self._tx_started[transaction_id] = at

    def transaction_ended(self, transaction_id: str) -> None:
        """A `TxProfile` ends with its transaction."""
        self._tx_started.pop(transaction_id, None)
        for k in [
            k
            for k, q in self._installed.items()
            if q.profile.purpose == TX and q.profile.transaction_id == transaction_id
        ]:
            del self._installed[k]

    def purge(self, now: datetime) -> None:
        """Drop the profiles past their `validTo`."""
        for k in [
            k
            for k, q in self._installed.items()
            if q.profile.valid_to is not None and q.profile.valid_to <= now
        ]:
            del self._installed[k]

    @property
    def profiles(self) -> tuple[Profile, ...]:
        """Every installed profile, by id."""
        return tuple(self._installed[k].profile for k in sorted(self._installed))

    def __len__(self) -> int:
        return len(self._installed)

    # -- composition -----------------------------------------------------------------------------

    def limits(self, now: datetime, occupied: Sequence[int]) -> dict[int, EvseLimit]:
        """The limit on every EVSE now; `occupied`: the EVSEs with an EV (the station maximum
        is shared over them)."""
        if not self._installed:
            return dict.fromkeys(self.evses, FREE)
        cap = self._pick(STATION_MAX, 0, now)
        share: tuple[float | None, float | None] = (None, None)
        if cap is not None:
            sharing = len([e for e in occupied if e in self.evses]) or len(self.evses) or 1
            imp, exp, _sp = self._watts(cap, next(iter(self.evses.values()), EvseElectrics()))
            share = (
                None if imp is None else imp / sharing,
                None if exp is None else exp / sharing,
            )
        return {evse: self._evse_limit(evse, now, share) for evse in self.evses}

    def _evse_limit(
        self, evse: int, now: datetime, share: tuple[float | None, float | None]
    ) -> EvseLimit:
        chosen = self._pick(TX, evse, now)
        if chosen is None:
            chosen = self._pick(TX_DEFAULT, evse, now) or self._pick(TX_DEFAULT, 0, now)
        imp: float | None = None
        exp: float | None = None
        sp: float | None = None
        frequency = None
        if chosen is not None:
            imp, exp, sp = self._watts(chosen, self.evses[evse])
            frequency = _frequency(chosen, self.evses[evse])
        imp = _min(imp, share[0])
        exp = _min(exp, share[1])
        if sp is not None:
            sp = min(sp, imp) if imp is not None else sp
            sp = max(sp, -exp) if exp is not None else sp
        return EvseLimit(imp, exp, sp, frequency)

    def _pick(self, purpose: str, evse: int, now: datetime) -> tuple[Profile, Period] | None:
        best: tuple[Profile, Period] | None = None
        for q in self._installed.values():
            p = q.profile
            if p.purpose != purpose or p.evse != evse or not p.valid_at(now):
                continue
            if best is not None and best[0].stack_level >= p.stack_level:
                continue
            period = self._period_at(q, now)
            if period is not None:
                best = (p, period)
        return best

    def _period_at(self, q: _Installed, now: datetime) -> Period | None:
        p = q.profile
        if p.kind == "Relative":
            start = self._tx_started.get(p.transaction_id or "", q.installed_at)
        else:
            start = p.start_schedule or q.installed_at
        if p.kind == "Recurring" and p.recurrency in _RECURRENCE and start <= now:
            every = _RECURRENCE[p.recurrency]
            start += every * ((now - start) // every)
        offset = (now - start).total_seconds()
        if offset < 0 or (p.duration_s is not None and offset >= p.duration_s):
            return None
        current = None
        for period in p.periods:
            if period.start_s > offset:
                break
            current = period
        return current

    @staticmethod
    def _watts(
        chosen: tuple[Profile, Period], electrics: EvseElectrics
    ) -> tuple[float | None, float | None, float | None]:
        """(max import, max export, setpoint) in W of one period."""
        profile, period = chosen
        factor = 1.0
        if profile.unit == "A":
            factor = (period.number_phases or electrics.phases) * electrics.voltage_v
        mode = period.operation_mode or "ChargingOnly"
        if mode == "Idle":
            return 0.0, 0.0, None
        imp = None if period.limit is None else period.limit * factor
        exp: float | None = None
        if period.discharge_limit is not None:
            exp = -period.discharge_limit * factor
        elif period.operation_mode == "ChargingOnly":
            exp = 0.0
        sp = None
        if mode == "CentralSetpoint" and period.setpoint is not None:
            sp = period.setpoint * factor
        elif mode == "LocalFrequency" and period.v2x_baseline is not None:
            sp = period.v2x_baseline * factor
        return imp, exp, sp


def _frequency(
    chosen: tuple[Profile, Period], electrics: EvseElectrics
) -> FrequencyResponse | None:
    profile, period = chosen
    if period.operation_mode != "LocalFrequency" or not period.freq_watt:
        return None
    factor = 1.0
    if profile.unit == "A":
        factor = (period.number_phases or electrics.phases) * electrics.voltage_v
    points = tuple((f, p * factor) for f, p in period.freq_watt)
    return FrequencyResponse(points, dict(period.custom))


def _min(a: float | None, b: float | None) -> float | None:
    if a is None:
        return b
    if b is None:
        return a
    return min(a, b)


def _with_tx(profile: Profile, transaction_id: str | None) -> Profile:
    return replace(profile, transaction_id=transaction_id)


def _schedule_problem(p: Profile, caps: StationCapabilities) -> str | None:
    if not p.periods:
        return "no period"
    if len(p.periods) > caps.periods_per_schedule:
        return f"{len(p.periods)} periods > {caps.periods_per_schedule}"
    if p.periods[0].start_s != 0:
        return "the first period must start at 0"
    starts = [x.start_s for x in p.periods]
    if any(b <= a for a, b in itertools.pairwise(starts)):
        return "startPeriod must increase"
    for period in p.periods:
        if period.operation_mode is not None and period.operation_mode not in SUPPORTED_MODES:
            return f"operationMode {period.operation_mode} not supported"
        if period.limit is not None and period.limit < 0:
            return "limit must be >= 0"
        if period.discharge_limit is not None and period.discharge_limit > 0:
            return "dischargeLimit must be <= 0"
        if period.limit is None and period.operation_mode in (None, "ChargingOnly"):
            return "a ChargingOnly period needs a limit"
        if period.operation_mode == "LocalFrequency":
            frequencies = [f for f, _p in period.freq_watt]
            if len(frequencies) < 2 or any(b <= a for a, b in itertools.pairwise(frequencies)):
                return "a LocalFrequency period needs a curve of increasing frequencies"
    if p.kind == "Absolute" and p.start_schedule is None and caps.version != "1.6":
        return "an Absolute schedule needs startSchedule"
    return None
