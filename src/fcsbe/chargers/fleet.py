"""A simulated fleet as OCPP charging stations: one simulator, one WebSocket per station.

`ChargerFleet` builds the simulator from a `ScenarioFleet` (the same description the server's
registry is loaded from, so station ids, EVSE ids and OCPP evse numbers match it: EVSEs are
numbered from 1 within their station in the fleet's order), gives every station a
`SimulatedStation` and a `StationLink`, and moves the physics forward: `tick()` steps the
simulator to the clock's time, hands each station its events and meter readings, and puts the
profiles in force on the simulated EVSEs. `run()` ticks on the wall clock; tests tick a
`VirtualClock` themselves.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Mapping
from datetime import datetime

from fcsbe.chargers.link import StationLink
from fcsbe.chargers.profiles import OcppVersion
from fcsbe.chargers.station import SimulatedStation
from fcsbe.sim import (
    Clock,
    EvseSpec,
    MeterReading,
    ScenarioFleet,
    SimOptions,
    Simulator,
    VirtualClock,
)

__all__ = ["ChargerFleet"]


class ChargerFleet:
    """Every station of a scenario (or the first `stations` of them) as an OCPP charge point."""

    def __init__(
        self,
        fleet: ScenarioFleet,
        url: str,
        *,
        version: OcppVersion = "2.1",
        passwords: Mapping[str, str] | None = None,
        password: str | None = None,
        clock: Clock | None = None,
        seed: int | None = None,
        stations: int | None = None,
        options: SimOptions | None = None,
        response_timeout_s: float = 30.0,
        max_backoff_s: float = 30.0,
        ping_interval_s: float | None = 60.0,
    ) -> None:
        self.clock = clock or VirtualClock(fleet.start)
        self.sim = Simulator.from_scenario(fleet, seed=seed, clock=self.clock, options=options)
        self.version = version
        by_station: dict[str, list[EvseSpec]] = {}
        for evse in fleet.evses:
            by_station.setdefault(evse.cs_id, []).append(evse)
        chosen = [s for s in fleet.stations if by_station.get(s.cs_id)]
        if stations is not None:
            chosen = chosen[:stations]
        rng = random.Random(f"{fleet.seed}:links")  # noqa: S311 - reconnect jitter
        self.stations: dict[str, SimulatedStation] = {}
        self.links: dict[str, StationLink] = {}
        self._of_evse: dict[str, SimulatedStation] = {}
        for spec in chosen:
            station = SimulatedStation(spec, tuple(by_station[spec.cs_id]), version, self.sim)
            self.stations[spec.cs_id] = station
            for evse in station.evses:
                self._of_evse[evse.evse_id] = station
            secret = (passwords or {}).get(spec.cs_id, password)
            self.links[spec.cs_id] = StationLink(
                station,
                url,
                password=secret,
                now=self.clock.now,
                response_timeout_s=response_timeout_s,
                max_backoff_s=max_backoff_s,
                ping_interval_s=ping_interval_s,
                rng=random.Random(rng.random()),  # noqa: S311 - jitter
            )
        self._tasks: list[asyncio.Task[None]] = []

    # -- connections -----------------------------------------------------------------------------

    async def start(self) -> None:
        """Open every station's connection (they boot in the background)."""
        for cs_id, link in self.links.items():
            self._tasks.append(asyncio.create_task(link.run(), name=f"ocpp-link-{cs_id}"))

    async def stop(self) -> None:
        """Close every connection."""
        for link in self.links.values():
            link.stop()
        tasks, self._tasks = self._tasks, []
        if tasks:
            await asyncio.wait(tasks, timeout=10)
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def wait_connected(self, timeout_s: float = 30.0) -> None:
        """Until every station is connected and booted (TimeoutError otherwise)."""
        async with asyncio.timeout(timeout_s):
            for link in self.links.values():
                await link.connected.wait()

    async def wait_idle(self, timeout_s: float = 10.0) -> None:
        """Until every connected station has sent everything it queued and had it answered."""
        async with asyncio.timeout(timeout_s):
            for cs_id, link in self.links.items():
                if link.connected.is_set() and self.stations[cs_id].outbox:
                    await link.idle.wait()

    def status(self) -> str:
        """One line on the fleet now: connections, transactions, what the CSMS installed and
        how the messages went (`fcsbe stations simulate` prints it now and then)."""
        links = list(self.links.values())
        connected = sum(1 for link in links if link.connected.is_set())
        transactions = sum(len(s.transactions) for s in self.stations.values())
        profiles = sum(len(s.store.profiles) for s in self.stations.values())
        controls = sum(len(s.der_controls) for s in self.stations.values())
        answered = sum(sum(link.answered.values()) for link in links)
        errors = sum(sum(link.errors.values()) for link in links)
        line = (
            f"{connected}/{len(links)} stations connected, {transactions} transactions, "
            f"{profiles} charging profiles and {controls} DER controls installed, "
            f"{answered} messages answered, {errors} refused"
        )
        last = sorted({link.last_error for link in links if link.last_error})
        return f"{line} (last: {last[-1]})" if errors and last else line

    # -- physics ---------------------------------------------------------------------------------

    def tick(self, now: datetime | None = None) -> None:
        """Step the simulator to `now` (default: the clock), then let every station report its
        events and readings and apply its profiles."""
        sim = self.sim
        target = now or self.clock.now()
        if target > sim.now:
            sim.run_until(target, dt_s=1.0)
        for event in sim.drain_events():
            if event.evse_id is not None:
                station = self._of_evse.get(event.evse_id)
                if station is not None:
                    station.on_event(event)
            elif event.kind == "DER_ALARM":
                for station in self.stations.values():
                    if station.spec.site_id == event.site_id:
                        station.on_event(event)
                        break
        by_station: dict[str, list[MeterReading]] = {}
        for reading in sim.drain_readings():
            if reading.kind != "EVSE":
                continue
            station = self._of_evse.get(reading.meter_id)
            if station is not None:
                by_station.setdefault(station.station_id, []).append(reading)
        for cs_id, readings in by_station.items():
            self.stations[cs_id].on_readings(readings)
        at = sim.now
        for station in self.stations.values():
            station.apply_controls(at)

    async def run(self, period_s: float = 1.0) -> None:
        """Tick every `period_s` of the clock until cancelled (the wall-clock mode)."""
        loop = asyncio.get_running_loop()
        next_tick = loop.time() + period_s
        while True:
            await asyncio.sleep(max(0.0, next_tick - loop.time()))
            next_tick += period_s
            self.tick()

    def power_cycle(self, station_id: str) -> None:
        """Cut a station's power: it forgets its profiles, reconnects and boots again."""
        self.links[station_id].power_cycle()

    def station_of(self, evse_id: str) -> SimulatedStation:
        """The station an EVSE belongs to."""
        return self._of_evse[evse_id]
