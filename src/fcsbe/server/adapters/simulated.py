"""`SimulatedStations`: the `StationAdapter` over the built-in simulator (`fcsbe.sim`).

It maps the adapter commands onto simulator controls (EVSE, site and grid-node level), keeps
the commands in force per target so that one whose `valid_until` has passed is dropped while the
others stay, and maps the simulator's snapshots, sessions, readings, FFR samples and events onto
the adapter types. Under `fcsbe serve` a `RealTimeRunner` steps it on the wall clock; tests build
it on a `VirtualClock` and call `advance`.
"""

from __future__ import annotations

import heapq
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from fcsbe.server.adapters.base import (
    ApplyResult,
    ClearCommand,
    Command,
    Control,
    ControlLevel,
    ControlTarget,
    DroopCommand,
    EvInfo,
    FfrCommand,
    FfrEvidence,
    LimitCommand,
    MeterSample,
    SessionPreferences,
    SetpointCommand,
    StationEvent,
    StationSession,
    TargetState,
)
from fcsbe.sim import (
    ClearControl,
    Clock,
    Consent,
    DroopControl,
    EvSession,
    EvUserLimits,
    FfrControl,
    LimitControl,
    RealTimeRunner,
    ScenarioFleet,
    SetpointControl,
    SimOptions,
    Simulator,
)
from fcsbe.sim import Control as SimControl

__all__ = ["SimulatedStations"]

log = logging.getLogger("fcsbe.stations")


def _pairs(curve: tuple[tuple[float, float], ...]) -> tuple[tuple[float, float], ...]:
    return tuple((float(x), float(y)) for x, y in curve)


def _sim_control(control: Control) -> SimControl:
    if isinstance(control, SetpointCommand):
        return SetpointControl(p_w=control.p_w, q_var=control.q_var)
    if isinstance(control, LimitCommand):
        return LimitControl(max_import_w=control.max_import_w, max_export_w=control.max_export_w)
    if isinstance(control, DroopCommand):
        return DroopControl(
            f_ref_hz=control.f_ref_hz,
            deadband_hz=control.deadband_hz,
            droop_pct=control.droop_pct,
            p_min_w=control.p_min_w,
            p_max_w=control.p_max_w,
            p_ref_w=control.p_ref_w,
            response_time_s=control.response_time_s,
            deadband_under_hz=control.deadband_under_hz,
            droop_under_pct=control.droop_under_pct,
            curve=_pairs(control.curve),
            volt_var=_pairs(control.volt_var),
            volt_watt=_pairs(control.volt_watt),
        )
    if isinstance(control, FfrCommand):
        return FfrControl(
            trigger_hz=control.trigger_hz,
            delta_p_w=control.delta_p_w,
            full_activation_time_s=control.full_activation_time_s,
            support_duration_s=control.support_duration_s,
            rearm_s=control.rearm_s,
            levels=tuple((float(h), float(p), float(t)) for h, p, t in control.levels),
            detection_delay_s=control.detection_delay_s,
            deactivation_ramp_s=control.deactivation_ramp_s,
            latched=control.latched,
        )
    return ClearControl()


def _session(s: EvSession) -> StationSession:
    request, limits, ev = s.energy_request, s.limits, s.ev
    return StationSession(
        session_key=s.session_key,
        id_token=s.id_token,
        evse_id=s.evse_id,
        connected_at=s.connected_at,
        departure_time=s.departure_time,
        ev=EvInfo(
            model_id=ev.model,
            bidirectional=ev.max_discharge_w > 0,
            onboard_inverter=ev.onboard_bidirectional,
            max_charge_w=request.max_charge_power_w,
            max_discharge_w=ev.max_discharge_w or None,
            battery_wh=ev.battery_capacity_wh,
            conformity=ev.conformity,
        ),
        soc_pct=s.soc_pct,
        target_soc_pct=s.target_soc_pct,
        min_soc_at_departure_pct=limits.min_soc_at_departure_pct,
        soc_floor_pct=limits.soc_floor_pct,
        max_energy_to_grid_wh=limits.max_energy_to_grid_wh,
        max_discharge_power_w=limits.max_discharge_power_w,
        consent_v1g=s.consent.v1g,
        consent_v2g=s.consent.v2g,
        target_energy_wh=request.target_energy_wh,
        min_energy_wh=request.min_energy_wh,
        max_energy_wh=request.max_energy_wh,
        v2x_min_energy_wh=request.v2x_min_energy_wh,
        v2x_max_energy_wh=request.v2x_max_energy_wh,
        energy_imported_wh=s.energy_imported_wh,
        energy_exported_wh=s.energy_exported_wh,
        home_party_id=s.home_party,
        visited_party_id=s.visited_party,
        fs_controller=s.fs_controller,
        vin=s.vin,
        evcc_id=s.evcc_id,
    )


class SimulatedStations:
    """A simulated fleet behind the `StationAdapter` protocol."""

    name = "simulator"

    def __init__(
        self,
        fleet: ScenarioFleet,
        clock: Clock,
        *,
        options: SimOptions | None = None,
        step_s: float = 1.0,
    ) -> None:
        self.fleet = fleet
        self.simulator = Simulator.from_scenario(fleet, clock=clock, options=options)
        self._clock = clock
        self._step_s = step_s
        self._runner: RealTimeRunner | None = None
        self._in_force: dict[ControlTarget, dict[type, Command]] = {}
        self._expiries: list[tuple[datetime, int, tuple[ControlTarget, ...]]] = []
        self._serial = 0
        self._evse_ids = frozenset(self.simulator.evse_ids)
        self._site_ids = frozenset(self.simulator.site_ids)

    @property
    def telemetry_interval_s(self) -> int:
        """The simulator's meter resolution (whole seconds, at least 1)."""
        return max(1, round(self.simulator.options.meter_resolution_s))

    @property
    def running(self) -> bool:
        """True while the simulator is paced on its clock in the background."""
        return self._runner is not None

    def now(self) -> datetime:
        """Simulated time."""
        return self.simulator.now

    async def start(self) -> None:
        """Pace the simulator on its clock in the background (for `fcsbe serve`)."""
        self._runner = RealTimeRunner(
            self.simulator, self._clock, period_s=self._step_s, on_tick=self._on_tick
        )
        self._runner.start()

    def _on_tick(self, _sim: Simulator) -> None:
        self.expire()

    async def stop(self) -> None:
        """Stop pacing (the simulated stations drop expired commands on their own)."""
        if self._runner is not None:
            await self._runner.aclose()
            self._runner = None

    def advance(self, seconds: float, dt_s: float = 1.0) -> None:
        """Step the simulation forward (tests and tools on a virtual clock), dropping each
        expired command at its `valid_until`, as a station would."""
        end = self.simulator.now + timedelta(seconds=seconds)
        while True:
            due = self._expiries[0][0] if self._expiries else end
            self.simulator.run_until(min(due, end), dt_s)
            self.expire()
            if self.simulator.now >= end:
                return

    # -- commands -------------------------------------------------------------------------------

    def _put(self, target: ControlTarget, control: SimControl) -> None:
        sim = self.simulator
        if target.level is ControlLevel.EVSE:
            sim.apply(target.id, control)
        elif target.level is ControlLevel.SITE:
            sim.apply_site(target.id, control)
        elif isinstance(control, LimitControl | ClearControl):
            sim.apply_node(target.id, control)
        else:
            raise ValueError("a grid node takes limits only")

    def _apply_one(self, command: Command) -> ApplyResult:
        target = command.target
        if command.valid_until is not None and command.valid_until <= self.now():
            return ApplyResult(target, accepted=False, reason="valid_until has passed")
        if (
            target.level is ControlLevel.EVSE
            and target.id in self._evse_ids
            and not isinstance(command.control, ClearCommand)
            and (status := self.simulator.evse_status(target.id)) != "AVAILABLE"
        ):
            return ApplyResult(target, accepted=False, reason=f"EVSE is {status}")
        try:
            self._put(target, _sim_control(command.control))
        except (KeyError, ValueError) as exc:
            return ApplyResult(target, accepted=False, reason=str(exc).strip("'\""))
        if isinstance(command.control, ClearCommand):
            self._in_force.pop(target, None)
        else:
            self._in_force.setdefault(target, {})[type(command.control)] = command
        if command.valid_until is not None:
            self._serial += 1
            heapq.heappush(self._expiries, (command.valid_until, self._serial, (target,)))
        return ApplyResult(target, accepted=True)

    async def apply(self, command: Command) -> ApplyResult:
        """Put one command in force."""
        return self._apply_one(command)

    async def apply_many(self, commands: Sequence[Command]) -> list[ApplyResult]:
        """Put many commands in force; EVSE setpoints take the simulator's fast path (one call
        for the batch, one expiry entry per distinct `valid_until`)."""
        now = self.now()
        down = self.simulator.out_of_service()
        ids: list[str] = []
        p_w: list[float] = []
        q_var: list[float | None] = []
        for c in commands:
            control = c.control
            if not (
                isinstance(control, SetpointCommand)
                and c.target.level is ControlLevel.EVSE
                and c.target.id in self._evse_ids
                and c.target.id not in down
                and (c.valid_until is None or c.valid_until > now)
            ):
                return [self._apply_one(c) for c in commands]
            ids.append(c.target.id)
            p_w.append(control.p_w)
            q_var.append(control.q_var)
        self.simulator.apply_setpoints(self.simulator.group(ids), p_w, q_var)
        expiring: dict[datetime, list[ControlTarget]] = {}
        for c in commands:
            self._in_force.setdefault(c.target, {})[SetpointCommand] = c
            if c.valid_until is not None:
                expiring.setdefault(c.valid_until, []).append(c.target)
        for when, targets in expiring.items():
            self._serial += 1
            heapq.heappush(self._expiries, (when, self._serial, tuple(targets)))
        return [ApplyResult(c.target, accepted=True) for c in commands]

    def expire(self) -> int:
        """Drop commands past their `valid_until`, keeping the others in force; returns count."""
        now, dropped = self.now(), 0
        while self._expiries and self._expiries[0][0] <= now:
            when, _, targets = heapq.heappop(self._expiries)
            changed = 0
            for target in targets:
                in_force = self._in_force.get(target, {})
                kept = {
                    kind: c
                    for kind, c in in_force.items()
                    if c.valid_until is None or c.valid_until > now
                }
                if len(kept) == len(in_force):
                    continue
                dropped += len(in_force) - len(kept)
                changed += 1
                self._put(target, ClearControl())
                for command in kept.values():
                    self._put(target, _sim_control(command.control))
                self._in_force[target] = kept
            if changed:
                # Routine at the end of every FS window: the FS's own events tell the story.
                log.debug("commands on %d target(s) expired at %s", changed, when)
        return dropped

    # -- state ----------------------------------------------------------------------------------

    def _state(self, target: ControlTarget) -> TargetState | None:
        sim, at = self.simulator, self.simulator.now
        kinds = tuple(sorted(k.__name__ for k in self._in_force.get(target, {})))
        if target.level is ControlLevel.EVSE and target.id in self._evse_ids:
            evse, room = sim.evse_state(target.id), sim.headroom(target.id)
            site = sim.site_state(evse.site_id)
            return TargetState(
                target,
                at,
                evse.p_w,
                evse.q_var,
                room.max_import_w,
                room.max_export_w,
                int(evse.connected),
                evse.soc_pct,
                site.f_hz,
                site.u_v,
                site.grid_state,
                kinds,
            )
        if target.level is ControlLevel.SITE and target.id in self._site_ids:
            site, room = sim.site_state(target.id), sim.site_headroom(target.id)
            return TargetState(
                target,
                at,
                site.p_w,
                0.0,
                room.max_import_w,
                room.max_export_w,
                site.connected_evs,
                site.storage_soc_pct,
                site.f_hz,
                site.u_v,
                site.grid_state,
                kinds,
                site.p_w - site.evse_p_w,
                site.import_limit_w,
                site.export_limit_w,
            )
        return None

    async def read_state(self, targets: Sequence[ControlTarget]) -> list[TargetState]:
        """State of EVSEs and sites now (grid nodes and unknown ids are left out)."""
        return [s for s in (self._state(t) for t in targets) if s is not None]

    async def sessions(self) -> list[StationSession]:
        """Every connected simulated EV."""
        return [_session(s) for s in self.simulator.sessions()]

    async def update_session(self, session_key: str, preferences: SessionPreferences) -> bool:
        """Change the simulated session's consent and limits; they bind from the next step."""
        try:
            self.simulator.update_session(
                session_key,
                consent=Consent(v1g=preferences.consent_v1g, v2g=preferences.consent_v2g),
                limits=EvUserLimits(
                    min_soc_at_departure_pct=preferences.min_soc_at_departure_pct,
                    soc_floor_pct=preferences.soc_floor_pct,
                    max_energy_to_grid_wh=preferences.max_energy_to_grid_wh,
                    max_discharge_power_w=preferences.max_discharge_power_w,
                ),
            )
        except KeyError:
            return False
        return True

    async def drain_measurements(self) -> list[MeterSample]:
        """Meter readings since the last call (faults included, if configured)."""
        return [
            MeterSample(
                r.meter_id,
                r.kind,
                r.at,
                r.p_w,
                r.q_var,
                r.e_import_wh,
                r.e_export_wh,
                r.soc_pct,
                r.f_hz,
                r.u_v,
                r.quality,
            )
            for r in self.simulator.drain_readings()
        ]

    async def drain_ffr_evidence(self) -> list[FfrEvidence]:
        """FFR samples since the last call."""
        return [
            FfrEvidence(s.evse_id, s.at, s.f_hz, s.p_w, s.baseline_w, s.commanded_delta_w, s.phase)
            for s in self.simulator.drain_ffr_evidence()
        ]

    def set_evse_status(self, evse_id: str, status: str) -> None:
        """Take a simulated EVSE out of service or back (`fcsbe.sim.Simulator.set_evse_status`):
        out of service it exchanges no power and refuses every command but a clear."""
        self.simulator.set_evse_status(evse_id, status)

    def raise_der_alarm(
        self,
        site_id: str,
        code: str,
        *,
        evse_id: str | None = None,
        severity: str = "WARNING",
        detail: str | None = None,
        ended: bool = False,
    ) -> None:
        """Have a simulated DER report an alarm (or its end) on demand: a `DER_ALARM` event."""
        self.simulator.raise_der_alarm(
            site_id, code, evse_id=evse_id, severity=severity, detail=detail, ended=ended
        )

    async def drain_events(self) -> list[StationEvent]:
        """Simulator events since the last call."""
        return [
            StationEvent(e.at, e.kind, e.site_id, e.evse_id, e.session_key, dict(e.data))
            for e in self.simulator.drain_events()
        ]
