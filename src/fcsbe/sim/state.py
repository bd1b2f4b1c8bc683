"""What the simulator hands out: options, state snapshots, headroom, aggregates and events.

Snapshots are immutable copies, built on request from the engine's flat arrays, so an adapter can
keep them across steps without seeing them change underneath. None of them is built inside the
per-step loop. Names follow `fcsbe.model` where a counterpart exists (`EvSession`, `EnergyRequest`,
the notification types of `SimEvent.kind`), so the adapter maps them field by field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, NamedTuple

from fcsbe.sim.controls import Control
from fcsbe.sim.fleet import Consent, EvProfile, EvUserLimits, GridState
from fcsbe.sim.meters import FaultOptions
from fcsbe.sim.signals import FrequencyEventOptions

__all__ = [
    "Aggregate",
    "EnergyRequest",
    "EvSession",
    "EventKind",
    "EvseState",
    "Headroom",
    "SimEvent",
    "SimOptions",
    "SimStats",
    "SiteState",
]

EventKind = Literal[
    "EV_CONNECTED",
    "EV_DISCONNECTED",
    "CONSENT_CHANGED",
    "LIMITS_CHANGED",
    "ARRIVAL_LOST",
    "GRID_STATE_CHANGED",
    "FFR_ACTIVATED",
    "FFR_COMPLETED",
    "EVSE_STATUS_CHANGED",
    "DER_ALARM",
    "CAPABILITY_CHANGED",
]


@dataclass(frozen=True, slots=True)
class SimOptions:
    """How the simulator measures and misbehaves; physics does not depend on these."""

    meter_resolution_s: float = 60.0
    evse_readings: bool = True
    site_readings: bool = True
    reading_buffer_limit: int = 500_000
    faults: FaultOptions | None = None
    ffr_resolution_s: float = 0.1
    frequency_events: FrequencyEventOptions | None = None
    headroom_horizon_s: float = 60.0
    """Horizon of `headroom()`: power that can be held that long (a nearly full battery offers
    little over a minute even if it could take full power for one second)."""

    def __post_init__(self) -> None:
        if not self.meter_resolution_s > 0 or not self.ffr_resolution_s > 0:
            raise ValueError("resolutions must be > 0")
        if not self.headroom_horizon_s > 0:
            raise ValueError("headroom_horizon_s must be > 0")


class Headroom(NamedTuple):
    """Feasible power range of an EVSE now: p in [-max_export_w, max_import_w].

    Respects physics, consent, capability and EV-user limits, not the controls in force (the
    server allocates against it). A negative `max_export_w` is a floor: the EV must import at
    least that much to reach its minimum SoC at departure. Without consent the range is the
    single unmanaged power.
    """

    max_import_w: float
    max_export_w: float


class Aggregate(NamedTuple):
    """Sum over a set of EVSEs: power now and the headroom around it."""

    evses: int
    connected: int
    p_w: float
    q_var: float
    max_import_w: float
    max_export_w: float


@dataclass(frozen=True, slots=True)
class EnergyRequest:
    """The EV's energy needs relative to now (OCPP 2.1 V2X charging parameters)."""

    target_energy_wh: float
    min_energy_wh: float
    max_energy_wh: float
    v2x_min_energy_wh: float
    """Negative: how much the EV can give before hitting its user's floor."""
    v2x_max_energy_wh: float
    max_charge_power_w: float
    max_discharge_power_w: float


@dataclass(frozen=True, slots=True)
class EvSession:
    """A connected EV's session (personal data: the server pseudonymises `session_key`)."""

    session_key: str
    evse_id: str
    cs_id: str
    site_id: str
    connected_at: datetime
    departure_time: datetime
    ev: EvProfile
    soc_pct: float
    target_soc_pct: float
    limits: EvUserLimits
    consent: Consent
    v2g_capable: bool
    energy_request: EnergyRequest
    energy_imported_wh: float
    energy_exported_wh: float
    home_party: str | None
    visited_party: str | None
    fs_controller: str | None
    id_token: str | None = None
    """The ID token the session was authorised with (eMAID or RFID UID; personal data)."""
    vin: str | None = None
    """The EV's VIN, if it told the station (personal data)."""
    evcc_id: str | None = None
    """The EV communication controller id, for ISO 15118 EVs (personal data)."""

    @property
    def soc_floor_pct(self) -> float:
        """Never discharged below this SoC."""
        return self.limits.soc_floor_pct

    @property
    def min_soc_at_departure_pct(self) -> float:
        """Guaranteed SoC at departure (when physically reachable)."""
        return self.limits.min_soc_at_departure_pct


@dataclass(frozen=True, slots=True)
class EvseState:
    """One EVSE now: power, EV, and the controls in force (in application order)."""

    evse_id: str
    cs_id: str
    site_id: str
    connected: bool
    managed: bool
    p_w: float
    q_var: float
    soc_pct: float | None
    session_key: str | None
    controls: tuple[Control, ...]
    e_import_wh: float
    e_export_wh: float


@dataclass(frozen=True, slots=True)
class SiteState:
    """A site at its point of connection; `p_w` includes EVSEs, base load, PV and storage."""

    site_id: str
    grid_state: GridState
    p_w: float
    evse_p_w: float
    pv_w: float
    pv_curtailed_w: float
    storage_w: float
    storage_soc_pct: float | None
    base_load_w: float
    unserved_w: float
    f_hz: float
    u_v: float
    import_limit_w: float
    export_limit_w: float
    e_import_wh: float
    e_export_wh: float
    connected_evs: int
    controls: tuple[Control, ...]


@dataclass(frozen=True, slots=True)
class SimEvent:
    """Something the adapter should hear about (maps onto `fcsbe.model` notification types)."""

    at: datetime
    kind: EventKind
    site_id: str
    evse_id: str | None = None
    session_key: str | None = None
    data: Mapping[str, float | str | None] = field(default_factory=dict)


@dataclass(slots=True)
class SimStats:
    """Counters since the start, for tests and the bench."""

    steps: int = 0
    substeps: int = 0
    arrivals: int = 0
    arrivals_lost: int = 0
    departures: int = 0
    ffr_activations: int = 0
    readings_generated: int = 0
    readings_dropped: int = 0
    readings_duplicated: int = 0
    readings_delayed: int = 0
    readings_overflowed: int = 0
