"""Static description of a simulated fleet: sites, charging stations, EVSEs, EV models, users.

These frozen dataclasses are the one description both the server's registry and the simulator are
loaded from (see `scenarios.py`), so a scenario cannot disagree with itself. They hold no state and
no behaviour beyond validating their own numbers: a scenario with a negative power limit or a SoC
of 120 % should fail where it is written, not as a wrong figure in a settlement later.

Sign convention: positive power is import (charging), negative is export (discharging, V2G).
Limits are given as positive magnitudes (`max_discharge_w=7_000` means down to -7 kW).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

__all__ = [
    "Consent",
    "CurrentType",
    "DwellTime",
    "EvProfile",
    "EvUserLimits",
    "EvseSpec",
    "GridState",
    "InitialSession",
    "KnownEvUser",
    "ScenarioFleet",
    "SiteProfile",
    "SiteSpec",
    "StationSpec",
    "StorageSpec",
]

CurrentType = Literal["AC", "DC"]
GridState = Literal["ON_GRID", "OFF_GRID"]


def _non_negative(**values: float) -> None:
    for name, value in values.items():
        if not value >= 0:  # also catches NaN
            raise ValueError(f"{name} must be >= 0, got {value}")


def _as_floats(obj: object, *names: str) -> None:
    """Store numbers as floats: specs are often written with int literals (11_000), and an int
    power leaking into readings would serialise differently from the same value as a float."""
    for name in names:
        value = getattr(obj, name)
        if isinstance(value, int):
            object.__setattr__(obj, name, float(value))


def _percent(**values: float) -> None:
    for name, value in values.items():
        if not 0 <= value <= 100:
            raise ValueError(f"{name} must be within 0-100 %, got {value}")


@dataclass(frozen=True, slots=True)
class StorageSpec:
    """Stationary battery at a site (EVSS, energy community)."""

    capacity_wh: float
    max_charge_w: float
    max_discharge_w: float
    initial_soc_pct: float = 50.0
    min_soc_pct: float = 5.0

    def __post_init__(self) -> None:
        _as_floats(self, "capacity_wh", "max_charge_w", "max_discharge_w")
        _non_negative(
            capacity_wh=self.capacity_wh,
            max_charge_w=self.max_charge_w,
            max_discharge_w=self.max_discharge_w,
        )
        _percent(initial_soc_pct=self.initial_soc_pct, min_soc_pct=self.min_soc_pct)


@dataclass(frozen=True, slots=True)
class EvProfile:
    """An EV model: battery and converter limits, and the grid-code evidence of its inverter.

    `onboard_bidirectional` is what makes AC V2G possible (UC 1.7): on an AC EVSE the EV's own
    inverter is the DER, so its `conformity` (e.g. "EN 50549-1") is what a credentials check
    must look at.
    """

    battery_capacity_wh: float
    max_charge_w: float
    max_discharge_w: float = 0.0
    onboard_bidirectional: bool = False
    conformity: tuple[str, ...] = ()
    model: str = "generic"
    max_ac_charge_w: float | None = None
    """On-board charger limit on AC; None means `max_charge_w` applies on AC too."""
    cv_from_soc_pct: float = 100.0
    """CC/CV knee: above this SoC the battery management tapers the charge power linearly down
    to `CV_END_SHARE` of the maximum at 100 % (constant-voltage phase); 100 means no taper."""

    def __post_init__(self) -> None:
        _as_floats(
            self, "battery_capacity_wh", "max_charge_w", "max_discharge_w", "max_ac_charge_w"
        )
        _percent(cv_from_soc_pct=self.cv_from_soc_pct)
        _non_negative(
            max_charge_w=self.max_charge_w,
            max_discharge_w=self.max_discharge_w,
            max_ac_charge_w=self.max_ac_charge_w or 0.0,
        )
        if not self.battery_capacity_wh > 0:
            raise ValueError("battery_capacity_wh must be > 0")


@dataclass(frozen=True, slots=True)
class EvUserLimits:
    """What the EV user allows (names as `fcsbe.model.sessions.EvuLimits`). Never overridden."""

    min_soc_at_departure_pct: float = 0.0
    soc_floor_pct: float = 0.0
    max_energy_to_grid_wh: float | None = None
    """Energy the session may give back to the grid in total; None means no cap."""
    max_discharge_power_w: float | None = None

    def __post_init__(self) -> None:
        _as_floats(self, "max_energy_to_grid_wh", "max_discharge_power_w")
        _percent(
            min_soc_at_departure_pct=self.min_soc_at_departure_pct,
            soc_floor_pct=self.soc_floor_pct,
        )
        _non_negative(
            max_energy_to_grid_wh=self.max_energy_to_grid_wh or 0.0,
            max_discharge_power_w=self.max_discharge_power_w or 0.0,
        )


@dataclass(frozen=True, slots=True)
class Consent:
    """The EV user's consent for this session: V1G (smart charging) and V2G (discharge)."""

    v1g: bool = True
    v2g: bool = False


@dataclass(frozen=True, slots=True)
class DwellTime:
    """How long EVs stay: a normal distribution truncated to [min_s, max_s]."""

    mean_s: float
    sd_s: float
    min_s: float
    max_s: float

    def __post_init__(self) -> None:
        _non_negative(mean_s=self.mean_s, sd_s=self.sd_s, min_s=self.min_s)
        if self.max_s < self.min_s:
            raise ValueError("max_s must be >= min_s")


@dataclass(frozen=True, slots=True)
class SiteProfile:
    """How EVs come and go at a site, what they need, and what their users allow.

    Arrivals are a Poisson process whose rate depends on the local hour of day, so a depot fills
    in the evening and a car park at noon. `fleet_departure_hours` replaces the dwell time by a
    fleet schedule (a bus leaves at 06:00 whatever time it came in).
    """

    arrivals_per_hour: tuple[float, ...]
    dwell: DwellTime
    ev_mix: tuple[tuple[EvProfile, float], ...]
    arrival_soc_pct: tuple[float, float] = (20.0, 60.0)
    target_soc_pct: float = 80.0
    v2g_capable_share: float = 0.0
    v1g_consent_share: float = 1.0
    v2g_consent_share: float = 0.0
    limits: EvUserLimits = field(default_factory=EvUserLimits)
    fleet_departure_hours: tuple[float, ...] = ()
    home_parties: tuple[str, ...] = ()
    visited_party: str | None = None
    fs_controller: Literal["VISITED", "HOME"] | None = None
    """Roaming (UC 1.2/1.4): whose FSC covers the session, the visited CSO's or the home CSP's."""

    def __post_init__(self) -> None:
        if len(self.arrivals_per_hour) != 24:
            raise ValueError("arrivals_per_hour needs 24 values (local hours 0-23)")
        _non_negative(
            **{f"arrivals_per_hour[{h}]": r for h, r in enumerate(self.arrivals_per_hour)}
        )
        if not self.ev_mix:
            raise ValueError("ev_mix needs at least one EV model")
        low, high = self.arrival_soc_pct
        _percent(low=low, high=high, target_soc_pct=self.target_soc_pct)
        if low > high:
            raise ValueError("arrival_soc_pct must be (low, high)")
        for name in ("v2g_capable_share", "v1g_consent_share", "v2g_consent_share"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be within 0-1")


@dataclass(frozen=True, slots=True)
class SiteSpec:
    """A site behind one point of connection (a home, a depot, an EVSS, an energy community).

    `import_limit_w`/`export_limit_w` are the connection's physical limits, enforced on every EVSE
    of the site whatever its consent (load management is not a flexibility service).
    """

    site_id: str
    configuration_type: int
    import_limit_w: float
    export_limit_w: float = 0.0
    pv_peak_w: float = 0.0
    storage: StorageSpec | None = None
    energy_community_id: str | None = None
    grid_state: GridState = "ON_GRID"
    grid_node_id: str | None = None
    base_load_peak_w: float = 0.0
    """Peak of the non-EV load behind the connection (a home, the households of an energy
    community, an office building); its daily curve is `load_kind`'s (see `sim/loads.py`)."""
    load_kind: Literal["HOUSEHOLD", "BUILDING"] = "HOUSEHOLD"
    """Daily shape of the non-EV load: a household's evening peak or a building's working day."""
    connection_meter: bool = True
    """Whether the point of connection has a meter that reports (readings of kind SITE). A site
    without one still knows its load model, which the station reports with the site's state."""
    utc_offset_h: float = 1.0
    """Offset of local time, for the hour-of-day shapes of arrivals, PV and base load."""
    nominal_frequency_hz: float = 50.0
    nominal_voltage_v: float = 230.0
    profile: SiteProfile | None = None
    """Random arrivals; None means EVs only come through `connect_ev` or initial sessions."""

    def __post_init__(self) -> None:
        _as_floats(self, "import_limit_w", "export_limit_w", "pv_peak_w", "base_load_peak_w")
        if self.configuration_type not in (1, 2, 3, 4, 5):
            raise ValueError("configuration_type must be 1-5 (IEC 63382-1 clause 4.2)")
        _non_negative(
            import_limit_w=self.import_limit_w,
            export_limit_w=self.export_limit_w,
            pv_peak_w=self.pv_peak_w,
            base_load_peak_w=self.base_load_peak_w,
        )
        if self.grid_state not in ("ON_GRID", "OFF_GRID"):
            raise ValueError("grid_state must be ON_GRID or OFF_GRID")
        if self.load_kind not in ("HOUSEHOLD", "BUILDING"):
            raise ValueError("load_kind must be HOUSEHOLD or BUILDING")


@dataclass(frozen=True, slots=True)
class StationSpec:
    """A charging station: what the server's registry needs beyond its EVSEs."""

    cs_id: str
    site_id: str
    vendor: str = "fcsbe-sim"
    model: str = "sim"
    conformity: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class EvseSpec:
    """One EVSE. `max_discharge_w=0` means it cannot discharge (no V2G at all).

    On AC, discharge also needs an EV with an on-board bidirectional inverter (UC 1.7); on DC the
    EVSE's own converter does it, so an EV with `max_discharge_w > 0` suffices.
    """

    evse_id: str
    cs_id: str
    site_id: str
    current_type: CurrentType
    max_charge_w: float
    max_discharge_w: float = 0.0
    min_charge_w: float = 0.0
    """Smallest non-zero power the EVSE can offer (IEC 61851 6 A on AC); setpoints round to it."""
    max_reactive_var: float = 0.0
    phases: int = 3
    response_latency_s: float = 0.0
    """Dead time between a change of what the EVSE is asked and the start of the EV's response:
    seconds on AC (the EV follows the IEC 61851 PWM duty cycle within up to 5 s), a fraction of a
    second on DC (the EVSE's own converter). 0 = ideal."""
    rise_time_s: float = 0.0
    """After the latency, the power follows a first-order response that reaches 90 % of a
    change in this time (grid codes measure response times to 90 %). 0 = immediate."""
    ramp_w_per_s: float = float("inf")
    """Largest power change per second, up or down (converter ramp limit)."""
    efficiency: float = 1.0
    """One-way efficiency between the grid meter and the battery (charger and battery losses):
    charging stores `efficiency` x the metered energy, discharging draws metered / `efficiency`."""
    setpoint_resolution_w: float = 0.0
    """Smallest setpoint step the EVSE honours (AC: 1 A per phase); 0 = continuous."""

    def __post_init__(self) -> None:
        _as_floats(
            self,
            "max_charge_w",
            "max_discharge_w",
            "min_charge_w",
            "max_reactive_var",
            "response_latency_s",
            "rise_time_s",
            "ramp_w_per_s",
            "efficiency",
            "setpoint_resolution_w",
        )
        if self.current_type not in ("AC", "DC"):
            raise ValueError("current_type must be AC or DC")
        _non_negative(
            max_charge_w=self.max_charge_w,
            max_discharge_w=self.max_discharge_w,
            min_charge_w=self.min_charge_w,
            max_reactive_var=self.max_reactive_var,
            response_latency_s=self.response_latency_s,
            rise_time_s=self.rise_time_s,
            setpoint_resolution_w=self.setpoint_resolution_w,
        )
        if not self.ramp_w_per_s > 0 or not 0 < self.efficiency <= 1:
            raise ValueError("ramp_w_per_s must be > 0 and efficiency in (0, 1]")
        if self.phases not in (1, 2, 3):
            raise ValueError("phases must be 1, 2 or 3")

    @property
    def response_time_s(self) -> float:
        """Time from a step change to 90 % of it: latency plus the 90 % rise time."""
        return self.response_latency_s + self.rise_time_s
        if self.min_charge_w > self.max_charge_w:
            raise ValueError("min_charge_w must be <= max_charge_w")


@dataclass(frozen=True, slots=True)
class InitialSession:
    """An EV connected when the simulation starts (or a deterministic scripted arrival)."""

    evse_id: str
    ev: EvProfile
    soc_pct: float
    departure: datetime
    limits: EvUserLimits = field(default_factory=EvUserLimits)
    consent: Consent = field(default_factory=Consent)
    target_soc_pct: float = 80.0
    home_party: str | None = None
    visited_party: str | None = None
    fs_controller: Literal["VISITED", "HOME"] | None = None
    id_token: str | None = None
    """The ID token the station reports (a known EV user's contract id); None: one is drawn."""
    vin: str | None = None

    def __post_init__(self) -> None:
        _percent(soc_pct=self.soc_pct, target_soc_pct=self.target_soc_pct)


@dataclass(frozen=True, slots=True)
class KnownEvUser:
    """An EV user the scenario names, so an operator can invite them by `identifier` and watch
    their car's sessions in the phone app (UC 3.6).

    Of the random arrivals at `site_id`, a share `arrival_share` is this user's car (when it is
    not plugged in already), reporting `identifier` as its ID token and `vin` if it has one.
    """

    identifier: str
    ev: EvProfile
    site_id: str
    vin: str | None = None
    arrival_share: float = 0.25

    def __post_init__(self) -> None:
        if not self.identifier:
            raise ValueError("identifier must not be empty")
        if not 0 <= self.arrival_share <= 1:
            raise ValueError("arrival_share must be within 0-1")


@dataclass(frozen=True, slots=True)
class ScenarioFleet:
    """A whole scenario: what the server registers and the simulator runs, from one description.

    `start` is where the scenario's clock should start (its departures and daily profiles are
    written against it); `seed` is the seed it was built with, the default for the simulator.
    """

    name: str
    start: datetime
    seed: int
    sites: tuple[SiteSpec, ...]
    stations: tuple[StationSpec, ...]
    evses: tuple[EvseSpec, ...]
    initial_sessions: tuple[InitialSession, ...] = ()
    ev_users: tuple[KnownEvUser, ...] = ()
    """EV users the scenario names (their identifiers are personal data, as any ID token)."""
