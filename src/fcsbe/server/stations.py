"""The server's side of the stations: which adapter is in force, and keeping the database in step
with what the stations report.

`StationRuntime` is built once per app (in the lifespan) and kept as `app.state.stations`; the
adapter itself is `app.state.adapter`, the only way anything in the server reaches a station.
`sync_step` is the worker step that stores EV sessions (under keyed pseudonyms), applies
station events (a site going off-grid) to the registry and tells the covering FOs about EVSE
status changes, DER alarms and capability changes (`services.station_notices`); tests call it
directly.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from fcsbe.model import RegistryDocument
from fcsbe.server.adapters.base import StationAdapter, StationEvent
from fcsbe.server.adapters.ocpp.adapter import OcppStations
from fcsbe.server.adapters.ocpp.provisioning import (
    provision_missing,
    read_password_file,
    write_password_file,
)
from fcsbe.server.adapters.scenario_registry import floor_to_second, registry_of, scenario_fleet
from fcsbe.server.adapters.simulated import SimulatedStations
from fcsbe.server.adapters.unconnected import UnconnectedStations
from fcsbe.server.security.pseudonyms import Pseudonymizer
from fcsbe.server.services.ev_users.ev_users import enforce_preferences
from fcsbe.server.services.event_log.log import append_event
from fcsbe.server.services.registry.registry import import_registry
from fcsbe.server.services.registry.session_sync import sync_sessions
from fcsbe.server.services.registry.station_notices import notify_station_events
from fcsbe.server.settings import Settings
from fcsbe.server.storage.base import utcnow
from fcsbe.server.storage.registry import load_sites
from fcsbe.server.storage.station_commands import publish_station_host
from fcsbe.sim import SimOptions, SystemClock

__all__ = [
    "HOST_ID",
    "STATION_HOST_INTERVAL_S",
    "StationRuntime",
    "apply_station_events",
    "build_runtime",
    "publish_step",
]

log = logging.getLogger("fcsbe.stations")

HOST_ID = f"{socket.gethostname()}:{os.getpid()}"
"""This replica, as the station hosts table names it."""
STATION_HOST_INTERVAL_S = 60.0
"""How often the replica that holds stations refreshes what it publishes about them."""


async def apply_station_events(db: AsyncSession, events: Sequence[StationEvent]) -> int:
    """Bring the registry in line with station events; returns how many rows changed.

    GRID_STATE_CHANGED moves a site on or off the grid (UC 1.6), which capabilities, the
    availability forecast and the FS decision all read from the registry.
    """
    changed_states = {
        e.site_id: str(e.data.get("grid_state"))
        for e in events
        if e.kind == "GRID_STATE_CHANGED" and e.data.get("grid_state") in ("ON_GRID", "OFF_GRID")
    }
    if not changed_states:
        return 0
    changes = 0
    for site_id, row in (await load_sites(db, changed_states)).items():
        state = changed_states[site_id]
        if row.grid_state == state:
            continue
        row.grid_state = state
        row.data = {**row.data, "grid_state": state}
        changes += 1
        await append_event(
            db,
            type="SITE_GRID_STATE_CHANGED",
            object_ref=f"site/{site_id}",
            summary=f"site {site_id} is now {state}",
            payload={"site_id": site_id, "grid_state": state},
            source="STATION",
        )
    return changes


@dataclass
class StationRuntime:
    """The adapter in force, where the pseudonym key lives, and the registry it came with."""

    adapter: StationAdapter
    data_dir: Path
    """`FCSBE_DATA_DIR`: the pseudonym key is read (or made) there on first use."""
    registry: RegistryDocument | None = None
    """The registry of a simulated fleet, loaded at start so the FO sees what is simulated."""
    password_file: Path | None = None
    """`FCSBE_OCPP_PASSWORD_FILE`: registry stations without a password get one at start,
    written there."""
    _pseudonyms: Pseudonymizer | None = field(default=None, init=False, repr=False)

    @property
    def pseudonyms(self) -> Pseudonymizer:
        """The deployment's pseudonymizer (its key file is created when first needed)."""
        if self._pseudonyms is None:
            self._pseudonyms = Pseudonymizer.load_or_create(self.data_dir)
        return self._pseudonyms

    async def load_registry(self, factory: async_sessionmaker[AsyncSession]) -> None:
        """Import the adapter's own registry (idempotent; nothing to do for real stations),
        bind an adapter that keeps state in the database, and issue the passwords
        `password_file` asks for."""
        bind = getattr(self.adapter, "bind", None)
        if bind is not None:
            bind(factory)
        await self._load_registry(factory)
        if self.password_file is not None:
            await self._provision(factory, self.password_file)

    async def _provision(self, factory: async_sessionmaker[AsyncSession], path: Path) -> None:
        known = await asyncio.to_thread(read_password_file, path)
        async with factory() as db:
            issued = await provision_missing(db)
            await db.commit()
        if issued or not known:
            await asyncio.to_thread(write_password_file, path, {**known, **issued})
            log.info("OCPP passwords of %d station(s) written to %s", len(issued), path)

    async def _load_registry(self, factory: async_sessionmaker[AsyncSession]) -> None:
        if self.registry is None:
            return
        async with factory() as db:
            result = await import_registry(db, self.registry)
            await db.commit()
        if result.changed:
            log.info(
                "registry of the %s adapter loaded: %d sites, %d EVSEs",
                self.adapter.name,
                len(self.registry.sites),
                result.evses.created + result.evses.updated + result.evses.unchanged,
            )

    async def sync(self, factory: async_sessionmaker[AsyncSession]) -> int:
        """Store what the stations report now; returns the number of rows changed."""
        reported = await self.adapter.sessions()
        async with factory() as db:
            # New sessions of known EV users get the user's consent and limits first.
            if await enforce_preferences(db, self.adapter, reported, self.pseudonyms):
                reported = await self.adapter.sessions()
            events = await self.adapter.drain_events()
            scope_of = getattr(self.adapter, "session_scope", None)
            scope = scope_of() if scope_of is not None else None
            changes = await sync_sessions(db, reported, self.pseudonyms, self.adapter.now(), scope)
            changes += await apply_station_events(db, events)
            await notify_station_events(db, events)
            await db.commit()
        return changes

    async def publish(self, factory: async_sessionmaker[AsyncSession]) -> None:
        """Publish this replica's station facts, which every replica answers from."""
        async with factory() as db:
            await publish_station_host(
                db, HOST_ID, self.adapter.name, self.adapter.telemetry_interval_s, utcnow()
            )
            await db.commit()

    def sync_step(self, factory: async_sessionmaker[AsyncSession]) -> Callable[[], Awaitable[int]]:
        """The worker step around `sync`. It reports no backlog (0), so its loop always waits
        its interval: a reconciliation has nothing left over to do at once."""

        async def step() -> int:
            await self.sync(factory)
            return 0

        return step


def publish_step(
    runtime: StationRuntime, factory: async_sessionmaker[AsyncSession]
) -> Callable[[], Awaitable[int]]:
    """The worker step that keeps this replica's station facts fresh."""

    async def step() -> int:
        await runtime.publish(factory)
        return 0

    return step


def _scenario_registry(settings: Settings) -> RegistryDocument:
    fleet = scenario_fleet(
        settings.simulator_scenario,
        seed=settings.simulator_seed,
        start=floor_to_second(utcnow()),
        size=settings.simulator_fleet_size,
    )
    return registry_of(fleet)


def build_runtime(settings: Settings) -> StationRuntime:
    """The stations `settings` ask for (`FCSBE_STATION_ADAPTER`): the simulated scenario fleet
    (default), real stations over OCPP, or none."""
    kind = settings.adapter_kind
    if kind == "none":
        return StationRuntime(UnconnectedStations(), settings.data_dir)
    if kind == "ocpp":
        adapter = OcppStations(
            HOST_ID,
            call_timeout_s=settings.ocpp_call_timeout_s,
            heartbeat_s=settings.ocpp_heartbeat_interval_s,
            lease_s=settings.ocpp_lease_s,
            admit_unknown=settings.ocpp_unknown_stations == "pending",
        )
        registry = _scenario_registry(settings) if settings.ocpp_registry == "scenario" else None
        return StationRuntime(
            adapter, settings.data_dir, registry=registry, password_file=settings.ocpp_password_file
        )
    fleet = scenario_fleet(
        settings.simulator_scenario,
        seed=settings.simulator_seed,
        start=floor_to_second(utcnow()),
        size=settings.simulator_fleet_size,
    )
    options = SimOptions(meter_resolution_s=settings.simulator_meter_resolution_s)
    simulated = SimulatedStations(
        fleet, SystemClock(), step_s=settings.simulator_step_s, options=options
    )
    return StationRuntime(simulated, settings.data_dir, registry=registry_of(fleet))
