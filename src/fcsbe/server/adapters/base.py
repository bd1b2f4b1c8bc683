"""The `StationAdapter` seam: the only way the server talks to charging stations.

The server decides *what* the stations should do (flexibility services, split over EVSEs) and
hands it to an adapter as adapter-neutral commands; the adapter decides *how* (a simulator call,
an OCPP 2.1 `SetChargingProfile` / `SetDERControl`, ...). Back from the stations come state
snapshots, EV sessions with their raw identifiers (pseudonymised by the server before anything
is stored), meter readings, high-resolution fast-frequency evidence and station events.

Rules every adapter follows (docs/station-adapters.md):

- Sign convention of the whole project: positive power is import (charging), negative export.
- Commands are idempotent: applying the same command twice leaves the same state. A command of
  one kind replaces the previous command of that kind on the target; `ClearCommand` removes all.
- `valid_until`: past it the station drops the command on its own (OCPP `validTo`), so a lost
  server never leaves a setpoint behind. Droop and FFR are executed locally, never by a
  round-trip through the server (UC 2.3 / 2.4).
- `apply_many` returns one result per command, in order; a refused command never raises.
- `drain_*` hand over what arrived since the previous call, each item once.
- Adapters do no blocking I/O on the event loop.

The value types are named tuples: immutable, and cheap enough to make 100,000 at a time (a
setpoint fan-out over a large fleet).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any, NamedTuple, Protocol, runtime_checkable

__all__ = [
    "ApplyResult",
    "ClearCommand",
    "Command",
    "Control",
    "ControlLevel",
    "ControlTarget",
    "DroopCommand",
    "EvInfo",
    "FfrCommand",
    "FfrEvidence",
    "LimitCommand",
    "MeterSample",
    "SessionPreferences",
    "SetpointCommand",
    "StationAdapter",
    "StationEvent",
    "StationEventKind",
    "StationSession",
    "TargetState",
    "as_tuples",
]


_NO_DATA: Mapping[str, float | str | None] = MappingProxyType({})


class ControlLevel(StrEnum):
    """What a command addresses: one EVSE, a site's point of connection, or a grid node."""

    EVSE = "EVSE"
    SITE = "SITE"
    GRID_NODE = "GRID_NODE"


class ControlTarget(NamedTuple):
    """An EVSE id (eMI3), a site id or a grid-node id, by level."""

    level: ControlLevel
    id: str


class SetpointCommand(NamedTuple):
    """Follow an active-power setpoint (W, + import); on a site, at the point of connection."""

    p_w: float
    q_var: float | None = None


class LimitCommand(NamedTuple):
    """Cap import and/or export (magnitudes in W; None leaves that side free). Congestion (UC
    2.7), demand response and reserve use it; it never overrides the EV user's minimum SoC."""

    max_import_w: float | None = None
    max_export_w: float | None = None


class DroopCommand(NamedTuple):
    """Frequency droop f -> P executed locally (OCPP 2.1 `SetDERControl` FreqDroop, UC 2.3).

    Outside the deadband a deviation of `droop_pct` % of `f_ref_hz` moves the power by
    `p_ref_w` (the EVSE's share of the reference power the FO stated); `deadband_under_hz` and
    `droop_under_pct` (None: as above f_ref) make it asymmetric. A `curve` of (Hz, W added to the
    power otherwise in force) points, when given, is the response instead (frequency-watt with
    deadband and knees, OCPP 2.1 `FreqWatt` curve); it holds the same response as the droop
    settings where both are given. The power stays within [p_min_w, p_max_w]. `response_time_s`
    is the time to 90 % of a change (IEEE 1547 open-loop response time, OCPP `responseTime`).
    `volt_var` ((% of nominal voltage, % of reactive rating, + inject)) and `volt_watt`
    ((% of nominal voltage, W added)) are executed against the local voltage.
    """

    f_ref_hz: float
    deadband_hz: float
    droop_pct: float
    p_min_w: float
    p_max_w: float
    p_ref_w: float | None = None
    response_time_s: float = 0.0
    deadband_under_hz: float | None = None
    droop_under_pct: float | None = None
    curve: tuple[tuple[float, float], ...] = ()
    volt_var: tuple[tuple[float, float], ...] = ()
    volt_watt: tuple[tuple[float, float], ...] = ()


class FfrCommand(NamedTuple):
    """Pre-armed fast frequency response (UC 2.4): past `trigger_hz` change power by
    `delta_p_w` (signed) within `full_activation_time_s`, hold, then re-arm after `rearm_s`.

    `levels` lists every trigger level as (Hz, ΔP W, full-activation time s), the first one
    repeated in the fields above (empty: that single level); each level's ΔP is the total
    change at and beyond it. `detection_delay_s` is waited after a crossing before acting;
    `latched` holds the support for its duration whatever the frequency does (else it ends when
    the frequency is back inside every level); `deactivation_ramp_s` returns to the base power.
    """

    trigger_hz: float
    delta_p_w: float
    full_activation_time_s: float
    support_duration_s: float
    rearm_s: float = 0.0
    levels: tuple[tuple[float, float, float], ...] = ()
    detection_delay_s: float = 0.0
    deactivation_ramp_s: float = 0.0
    latched: bool = True


def as_tuples(value: Any) -> Any:
    """Lists (a command read back from JSON) as nested tuples, so a command is hashable and
    compares equal to the one that was written."""
    if isinstance(value, list | tuple):
        return tuple(as_tuples(v) for v in value)
    return value


class ClearCommand(NamedTuple):
    """Remove every command: the target returns to unmanaged charging."""


Control = SetpointCommand | LimitCommand | DroopCommand | FfrCommand | ClearCommand
"""Every kind of command an adapter must understand."""


class Command(NamedTuple):
    """A control for a target, with the FS it serves and when the station must drop it."""

    target: ControlTarget
    control: Control
    fs_id: str | None = None
    valid_until: datetime | None = None


class ApplyResult(NamedTuple):
    """Whether the station took the command; `reason` says why not."""

    target: ControlTarget
    accepted: bool
    reason: str | None = None


class TargetState(NamedTuple):
    """A target now: power, the power range it can hold (EV-user limits and consent included,
    commands in force not), connected EVs and local grid measurements."""

    target: ControlTarget
    at: datetime
    p_w: float
    q_var: float
    max_import_w: float
    max_export_w: float
    connected_evs: int
    soc_pct: float | None
    f_hz: float | None
    u_v: float | None
    grid_state: str = "ON_GRID"
    controls: tuple[str, ...] = ()
    other_w: float | None = None
    """SITE targets: the power behind the point of connection that is not EV charging (household
    or building load minus PV, plus storage; + import), so that `p_w - other_w` is the EVs'
    share. None when the station knows nothing of it (no point-of-connection meter and no load
    model); the simulator knows its load model even for a site whose meter does not report."""
    import_limit_w: float | None = None
    """SITE targets: the import limit in force at the point of connection (None: unknown)."""
    export_limit_w: float | None = None
    """SITE targets: the export limit in force at the point of connection (0: zero export)."""


class EvInfo(NamedTuple):
    """What the station learnt about the EV (ISO 15118-20 / OCPP 2.1 V2X parameters)."""

    model_id: str | None
    bidirectional: bool
    onboard_inverter: bool
    max_charge_w: float | None
    max_discharge_w: float | None
    battery_wh: float | None
    conformity: tuple[str, ...] = ()


class StationSession(NamedTuple):
    """A connected EV as the station reports it. Holds raw identifiers (`session_key`,
    `id_token`, `vin`, `evcc_id`): the server keeps only keyed pseudonyms of the first two
    and nothing of the EV's own ids, which stations report but no use case needs."""

    session_key: str
    id_token: str | None
    evse_id: str
    connected_at: datetime
    departure_time: datetime | None
    ev: EvInfo
    soc_pct: float | None
    target_soc_pct: float | None
    min_soc_at_departure_pct: float
    soc_floor_pct: float
    max_energy_to_grid_wh: float | None
    max_discharge_power_w: float | None
    consent_v1g: bool
    consent_v2g: bool
    target_energy_wh: float
    min_energy_wh: float
    max_energy_wh: float
    v2x_min_energy_wh: float | None
    v2x_max_energy_wh: float | None
    energy_imported_wh: float = 0.0
    energy_exported_wh: float = 0.0
    home_party_id: str | None = None
    visited_party_id: str | None = None
    fs_controller: str | None = None
    vin: str | None = None
    """The EV's VIN, where it told the station (ISO 15118-20): personal data, never stored."""
    evcc_id: str | None = None
    """The EV communication controller id (ISO 15118): personal data, never stored."""


class SessionPreferences(NamedTuple):
    """What the EV user allows on one session, pushed to the station when they change it in the
    app (UC 3.6): consent and limits, named as in `StationSession`. The station applies them
    from its next control step; they bind every command (no FS may override them)."""

    consent_v1g: bool
    consent_v2g: bool
    min_soc_at_departure_pct: float
    soc_floor_pct: float
    max_energy_to_grid_wh: float | None
    max_discharge_power_w: float | None = None


class MeterSample(NamedTuple):
    """One reading of one meter (EVSE, site point of connection, PV, storage); energies are
    cumulative registers that never decrease."""

    meter_id: str
    kind: str
    at: datetime
    p_w: float
    q_var: float
    e_import_wh: float
    e_export_wh: float
    soc_pct: float | None
    f_hz: float | None
    u_v: float | None
    quality: str = "MEASURED"


class FfrEvidence(NamedTuple):
    """One high-resolution sample of an FFR activation at an EVSE (proof of work, UC 2.4)."""

    evse_id: str
    at: datetime
    f_hz: float
    p_w: float
    baseline_w: float
    commanded_delta_w: float
    phase: str = "ACTIVE"


class StationEventKind(StrEnum):
    """Kinds of `StationEvent` the server acts on, with the `data` keys each carries. An
    adapter may report other kinds (EV_CONNECTED, FFR_ACTIVATED, ...); the server ignores
    what it does not know."""

    GRID_STATE_CHANGED = "GRID_STATE_CHANGED"
    """A site went on or off the grid: `grid_state` (`ON_GRID` / `OFF_GRID`)."""
    EVSE_STATUS_CHANGED = "EVSE_STATUS_CHANGED"
    """An EVSE went in or out of service (OCPP `StatusNotification`): `status`
    (`AVAILABLE`, `UNAVAILABLE` or `FAULTED`); `evse_id` is set."""
    DER_ALARM = "DER_ALARM"
    """A DER reported an alarm (OCPP 2.1 `NotifyDERAlarm`): `code` (the grid event, e.g.
    `OverVoltage`), `severity` (a `fcsbe.model.Severity` value), optional `detail`, and
    `alarm_ended` (`"true"` when the condition cleared); `evse_id` when it is one EVSE's."""
    CAPABILITY_CHANGED = "CAPABILITY_CHANGED"
    """What an EVSE can do changed without a registry change (e.g. a derating, V2G switched
    off at the station): optional `detail`; `evse_id` is set."""


class StationEvent(NamedTuple):
    """Something that happened at a station (`StationEventKind`, and others such as
    EV_CONNECTED or FFR_ACTIVATED); session keys are raw and are pseudonymised by the
    server."""

    at: datetime
    kind: str
    site_id: str
    evse_id: str | None = None
    session_key: str | None = None
    data: Mapping[str, float | str | None] = _NO_DATA


@runtime_checkable
class StationAdapter(Protocol):
    """The stations behind the server, whatever speaks to them."""

    @property
    def name(self) -> str:
        """Short name for logs and readiness (`simulator`, `ocpp`, `none`)."""

    @property
    def telemetry_interval_s(self) -> int:
        """Shortest meter interval the stations deliver (reported in capabilities)."""

    def now(self) -> datetime:
        """The stations' clock (aware UTC); a simulator's may run ahead of the wall clock."""

    async def start(self) -> None:
        """Connect (or start simulating); called once by the app's lifespan."""

    async def stop(self) -> None:
        """Disconnect; commands with `valid_until` expire at the stations on their own."""

    async def apply(self, command: Command) -> ApplyResult:
        """Put one command in force."""

    async def apply_many(self, commands: Sequence[Command]) -> list[ApplyResult]:
        """Put many commands in force at once (a setpoint split over 100,000 EVSEs)."""

    async def read_state(self, targets: Sequence[ControlTarget]) -> list[TargetState]:
        """The state of each target now, in order (unknown targets are left out)."""

    async def sessions(self) -> list[StationSession]:
        """Every EV connected now."""

    async def update_session(self, session_key: str, preferences: SessionPreferences) -> bool:
        """Put the EV user's consent and limits in force on a connected session at once
        (OCPP 2.1: a new `NotifyEVChargingNeeds` answer / `SetChargingProfile` bound); False when
        the session is not (or no longer) connected."""

    async def drain_measurements(self) -> list[MeterSample]:
        """Meter readings received since the last call."""

    async def drain_ffr_evidence(self) -> list[FfrEvidence]:
        """High-resolution FFR samples recorded since the last call."""

    async def drain_events(self) -> list[StationEvent]:
        """Station events since the last call."""
