"""`OcppStations`: the `StationAdapter` over charging stations connected by OCPP-J.

Stations connect to `/ocpp/{station_id}` (`endpoint.py`); each connection is a `Link` that
hands what the station reports to this adapter, which keeps it in the shapes of the
`StationAdapter` protocol: EVSE state and status (`read_state`, `EVSE_STATUS_CHANGED`),
transactions as `StationSession`s (raw id tokens: the server pseudonymises them), meter values
as `MeterSample`s, DER alarms and capability changes as events. The rest of the server (session
sync, records, notifications) works as with the simulator.

Commands go out through `apply_many`: grouped per station, turned into OCPP calls by the
profile planner, sent with the call timeout; the station's answer (`Accepted`, or `Rejected`
with its `statusInfo`) is the command's `ApplyResult`. What each station reported (its
`StationLimits`) and has installed (the planner's ledger) is stored, so that whatever is still
in force is sent again when the station reconnects (to this replica or another) or reboots.

Several replicas: each holds the stations connected to it, under a lease in
`station_connections` renewed while the WebSocket is open. Commands for a station held by
another replica are queued for it (`split`, used by the station-command queue).

Nothing here blocks the event loop, and no database write happens inside `apply_many` (it runs
inside the caller's transaction, which on SQLite holds the only writer): ledgers and limits are
written by a background task.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from fcsbe.server.adapters.base import (
    ApplyResult,
    Command,
    ControlLevel,
    ControlTarget,
    EvInfo,
    FfrEvidence,
    LimitCommand,
    MeterSample,
    SessionPreferences,
    StationEvent,
    StationSession,
    TargetState,
)
from fcsbe.server.adapters.ocpp.gone import log_task_end
from fcsbe.server.adapters.ocpp.ledger import ProfileLedger
from fcsbe.server.adapters.ocpp.link import CallRefused, Connection, Link, MeterValues, make_link
from fcsbe.server.adapters.ocpp.profiles import (
    OcppCall,
    OcppVersion,
    Refusal,
    StationLimits,
    plan_calls,
    refusal_of,
    resend_calls,
)
from fcsbe.server.storage import ocpp_stations as store

__all__ = ["OcppStations"]

log = logging.getLogger("fcsbe.stations.ocpp")

REGISTRY_REREAD_S = 60.0
"""How often the registry index is read again in the background (it is also read at once when
a command or state request names an EVSE or site the index does not have)."""

_VERSIONS: dict[str, OcppVersion] = {"ocpp2.1": "2.1", "ocpp2.0.1": "2.0.1", "ocpp1.6": "1.6"}


@dataclass
class _Evse:
    evse_id: str
    cs_id: str
    site_id: str
    number: int
    max_charge_w: float
    max_discharge_w: float
    status: str = "UNAVAILABLE"
    at: datetime | None = None
    values: MeterValues = field(default_factory=dict)


@dataclass
class _Station:
    cs_id: str
    site_id: str
    evses: dict[int, _Evse] = field(default_factory=dict)


@dataclass
class _Tx:
    key: str
    cs_id: str
    tx_id: str
    evse_id: str
    id_token: str | None
    connected_at: datetime
    departure_time: datetime | None = None
    needs: dict[str, Any] = field(default_factory=dict)
    preferences: SessionPreferences | None = None


def _f(value: Any) -> float | None:
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


class OcppStations:
    """The stations connected to this replica over OCPP (see the module doc)."""

    name = "ocpp"
    holds_stations = True
    telemetry_interval_s = 60

    def __init__(
        self,
        host_id: str,
        *,
        call_timeout_s: float = 30.0,
        heartbeat_s: int = 300,
        lease_s: float = 60.0,
        admit_unknown: bool = False,
        flush_interval_s: float = 1.0,
    ) -> None:
        self.host_id = host_id
        self.call_timeout_s = call_timeout_s
        self.heartbeat_s = heartbeat_s
        self.lease_s = lease_s
        self.admit_unknown = admit_unknown
        self.flush_interval_s = flush_interval_s
        self._factory: async_sessionmaker[AsyncSession] | None = None
        self._stations: dict[str, _Station] = {}
        self._evses: dict[str, _Evse] = {}
        self._links: dict[str, Link] = {}
        self._txs: dict[str, _Tx] = {}
        self._limits: dict[str, StationLimits] = {}
        self._ledgers: dict[str, ProfileLedger] = {}
        self._dirty_limits: set[str] = set()
        self._dirty_ledgers: set[str] = set()
        self._dirty_txs: set[str] = set()
        self._remote: set[str] = set()
        self._samples: list[MeterSample] = []
        self._events: list[StationEvent] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._loop_task: asyncio.Task[None] | None = None
        self._station_locks: dict[str, asyncio.Lock] = {}
        self._pending_needs: dict[str, dict[str, Any]] = {}
        self._refreshed_at = -1e9

    # -- life cycle -----------------------------------------------------------------------------

    def bind(self, factory: async_sessionmaker[AsyncSession]) -> None:
        """The database the adapter reads the registry from and keeps its state in."""
        self._factory = factory

    @property
    def factory(self) -> async_sessionmaker[AsyncSession]:
        """The bound session factory."""
        if self._factory is None:
            raise RuntimeError("the OCPP adapter is not bound to a database")
        return self._factory

    def now(self) -> datetime:
        """The wall clock (stations keep their own, synchronised by BootNotification)."""
        return datetime.now(UTC)

    async def start(self) -> None:
        """Load the registry's stations and start the lease and persistence loop."""
        await self.refresh_registry()
        if self._loop_task is None:
            self._loop_task = asyncio.create_task(self._background(), name="ocpp-leases")

    async def stop(self) -> None:
        """Close every connection and give up the leases (profiles stay in force until their
        `validTo` at the stations)."""
        if self._loop_task is not None:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
            self._loop_task = None
        for task in list(self._tasks):
            task.cancel()
        await self.flush()
        held = list(self._links)
        self._links.clear()
        if held and self._factory is not None:
            async with self.factory() as db:
                for cs_id in held:
                    await store.release_connection(db, cs_id, self.host_id)
                await db.commit()

    async def refresh_registry(self, cs_ids: Sequence[str] | None = None) -> None:
        """Read which stations and EVSEs the registry has (all, or `cs_ids`)."""
        async with self.factory() as db:
            stations = await store.registry_stations(db, cs_ids)
            rows = await store.registry_evses(db, cs_ids)
        for cs_id, site_id in stations:
            known_station = self._stations.get(cs_id)
            if known_station is None or known_station.site_id != site_id:
                self._stations[cs_id] = _Station(cs_id, site_id)
        for cs_id, site_id, evse_id, number, charge, discharge in rows:
            station = self._stations.setdefault(cs_id, _Station(cs_id, site_id))
            known = self._evses.get(evse_id)
            evse = _Evse(evse_id, cs_id, site_id, number, charge, discharge)
            if known is not None:
                evse.status, evse.at, evse.values = known.status, known.at, known.values
            station.evses[number] = evse
            self._evses[evse_id] = evse

    async def _know(self, targets: Sequence[ControlTarget]) -> None:
        """Read the registry again when a target is not in the index (an import since the
        last read), at most once per second."""
        unknown = any(
            (t.level is ControlLevel.EVSE and t.id not in self._evses)
            or (t.level is ControlLevel.SITE and t.id not in self._site_ids())
            for t in targets
        )
        loop = asyncio.get_running_loop()
        if unknown and loop.time() - self._refreshed_at >= 1.0 and self._factory is not None:
            self._refreshed_at = loop.time()
            await self.refresh_registry()

    def _site_ids(self) -> set[str]:
        return {s.site_id for s in self._stations.values()}

    def knows(self, cs_id: str) -> bool:
        """Whether the registry names the station."""
        return cs_id in self._stations

    def holds(self, cs_id: str) -> bool:
        """Whether the station is connected to this replica."""
        return cs_id in self._links

    def station_of(self, evse_id: str) -> str | None:
        """The station of an EVSE (None: not in the registry)."""
        evse = self._evses.get(evse_id)
        return evse.cs_id if evse is not None else None

    # -- connections ----------------------------------------------------------------------------

    async def serve(self, cs_id: str, subprotocol: str, connection: Connection) -> None:
        """Run one station's connection until it closes (the endpoint calls it after the
        handshake)."""
        link = make_link(
            subprotocol,
            cs_id,
            connection,
            self,
            timeout_s=self.call_timeout_s,
            heartbeat_s=self.heartbeat_s,
        )
        if self.knows(cs_id):
            await self.refresh_registry([cs_id])
        old = self._links.get(cs_id)
        self._links[cs_id] = link
        self._remote.discard(cs_id)
        now = self.now()
        async with self.factory() as db:
            await store.claim_connection(
                db,
                cs_id,
                self.host_id,
                _VERSIONS[subprotocol],
                now,
                now + timedelta(seconds=self.lease_s),
            )
            state = await store.load_ocpp_state(db, cs_id)
            await db.commit()
        if state is not None:
            if cs_id not in self._limits and state.limits:
                with contextlib.suppress(TypeError, ValueError):
                    self._limits[cs_id] = StationLimits.from_json(state.limits)
            if cs_id not in self._ledgers and state.ledger:
                with contextlib.suppress(ValueError):
                    self._ledgers[cs_id] = ProfileLedger.from_json(state.ledger)
            for document in state.transactions or []:
                with contextlib.suppress(KeyError, TypeError, ValueError):
                    tx = _tx_of(document)
                    if tx.evse_id in self._evses:
                        self._txs.setdefault(tx.key, tx)
        if old is not None:
            log.info("station %s connected again; the older connection is dropped", cs_id)
        log.info("station %s connected (%s)", cs_id, subprotocol)
        try:
            await link.start()
        finally:
            if self._links.get(cs_id) is link:
                await self._lost(cs_id)

    async def _lost(self, cs_id: str) -> None:
        del self._links[cs_id]
        now = self.now()
        station = self._stations.get(cs_id)
        for evse in station.evses.values() if station else ():
            self._set_status(evse, "UNAVAILABLE", now, "connection lost")
        # Another replica may get it next: its transactions are reported from there.
        for key in [k for k, tx in self._txs.items() if tx.cs_id == cs_id]:
            del self._txs[key]
        log.info("station %s disconnected", cs_id)
        with contextlib.suppress(Exception):
            async with self.factory() as db:
                await store.release_connection(db, cs_id, self.host_id)
                await db.commit()

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.create_task(coroutine, name=getattr(coroutine, "__qualname__", None))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(log_task_end)

    # -- what stations report (StationSink) -----------------------------------------------------

    def seen(self, link: Link) -> None:
        """Any frame: nothing to do (the lease is renewed while the socket is open)."""

    def booted(self, link: Link, vendor: str | None, model: str | None) -> str:
        """Accept a registry station and discover what it can do; others wait as Pending."""
        if not self.knows(link.id):
            return "Pending"
        self._spawn(self._after_boot(link))
        return "Accepted"

    def resumed(self, link: Link) -> None:
        """A reconnected station gets what is still in force."""
        if self.knows(link.id):
            self._spawn(self._resend(link))

    def status(self, link: Link, number: int, status: str, at: datetime) -> None:
        """StatusNotification: one EVSE, or the whole station for number 0."""
        station = self._stations.get(link.id)
        if station is None:
            return
        targets = list(station.evses.values()) if number == 0 else [station.evses.get(number)]
        for evse in targets:
            if evse is not None:
                self._set_status(evse, status, at, None)

    def _set_status(self, evse: _Evse, status: str, at: datetime, detail: str | None) -> None:
        if evse.status == status:
            return
        evse.status = status
        data: dict[str, float | str | None] = {"status": status}
        if detail:
            data["detail"] = detail
        self._events.append(
            StationEvent(at, "EVSE_STATUS_CHANGED", evse.site_id, evse.evse_id, None, data)
        )

    def transaction(
        self,
        link: Link,
        tx_id: str,
        number: int | None,
        id_token: str | None,
        at: datetime,
        ended: bool,
    ) -> None:
        """Transactions become sessions (keyed by station and transaction id)."""
        key = f"{link.id}:{tx_id}"
        self._dirty_txs.add(link.id)
        if ended:
            self._txs.pop(key, None)
            return
        tx = self._txs.get(key)
        station = self._stations.get(link.id)
        evse = station.evses.get(number) if station is not None and number is not None else None
        if tx is None:
            if evse is None:
                return  # a transaction on an EVSE the registry does not know
            # One transaction per EVSE: a new one means the older one ended unreported.
            for older in [k for k, t in self._txs.items() if t.evse_id == evse.evse_id]:
                del self._txs[older]
            tx = self._txs[key] = _Tx(key, link.id, tx_id, evse.evse_id, id_token, at)
            tx.needs = dict(self._pending_needs.pop(evse.evse_id, {}))
        if id_token and not tx.id_token:
            tx.id_token = id_token

    def meter(self, link: Link, number: int, at: datetime, values: MeterValues) -> None:
        """A reading: kept as the EVSE's state and handed over as a `MeterSample`."""
        station = self._stations.get(link.id)
        evse = station.evses.get(number) if station is not None else None
        if evse is None:
            return
        merged = {**evse.values, **values}
        if "p_w" not in values:
            merged["p_w"] = evse.values.get("p_w", 0.0)
        evse.values, evse.at = merged, at
        self._samples.append(
            MeterSample(
                evse.evse_id,
                "EVSE",
                at,
                merged.get("p_w", 0.0),
                merged.get("q_var", 0.0),
                merged.get("e_import_wh", 0.0),
                merged.get("e_export_wh", 0.0),
                merged.get("soc_pct"),
                merged.get("f_hz"),
                merged.get("u_v"),
            )
        )

    def charging_needs(self, link: Link, number: int, needs: dict[str, Any]) -> None:
        """Departure time and energy needs go on the EVSE's transaction (or wait for it)."""
        station = self._stations.get(link.id)
        evse = station.evses.get(number) if station is not None else None
        if evse is None:
            return
        for tx in self._txs.values():
            if tx.evse_id == evse.evse_id:
                tx.needs = needs
                self._dirty_txs.add(tx.cs_id)
                return
        self._pending_needs[evse.evse_id] = needs

    def der_alarm(
        self, link: Link, code: str, at: datetime, ended: bool, detail: str | None
    ) -> None:
        """NotifyDERAlarm: a `DER_ALARM` event of the station's site."""
        station = self._stations.get(link.id)
        if station is None:
            return
        data: dict[str, float | str | None] = {
            "code": code,
            "severity": "WARNING",
            "alarm_ended": "true" if ended else "false",
        }
        if detail:
            data["detail"] = detail
        self._events.append(StationEvent(at, "DER_ALARM", station.site_id, None, None, data))

    # -- discovery and re-sending ---------------------------------------------------------------

    async def _after_boot(self, link: Link) -> None:
        await asyncio.sleep(0)  # the BootNotification answer goes out first
        try:
            limits = await self._discover(link)
        except CallRefused as exc:
            log.warning("station %s: capability discovery failed: %s", link.id, exc)
            limits = self._limits.get(link.id) or StationLimits(version=_version(link))
        changed = self._limits.get(link.id) != limits
        self._limits[link.id] = limits
        if changed:
            self._dirty_limits.add(link.id)
            station = self._stations.get(link.id)
            now = self.now()
            detail = (
                f"OCPP {limits.version}: units {'/'.join(limits.rate_units)}, "
                f"{limits.periods_per_schedule} periods, stack levels {limits.max_stack_level}, "
                f"V2X {'yes' if limits.v2x else 'no'}"
            )
            for evse in station.evses.values() if station else ():
                self._events.append(
                    StationEvent(
                        now,
                        "CAPABILITY_CHANGED",
                        evse.site_id,
                        evse.evse_id,
                        None,
                        {"detail": detail},
                    )
                )
        await self._resend(link)

    async def _discover(self, link: Link) -> StationLimits:
        version = _version(link)
        if version == "1.6":
            answer = await link.send_call(
                "GetConfiguration",
                {
                    "key": [
                        "ChargeProfileMaxStackLevel",
                        "ChargingScheduleAllowedChargingRateUnit",
                        "ChargingScheduleMaxPeriods",
                        "MaxChargingProfilesInstalled",
                    ]
                },
                self.call_timeout_s,
            )
            config = {
                str(k.get("key")): str(k.get("value", ""))
                for k in answer.get("configurationKey", [])
                if isinstance(k, dict)
            }
            units = tuple(
                {"Power": "W", "Current": "A"}[u.strip()]
                for u in config.get("ChargingScheduleAllowedChargingRateUnit", "Current").split(",")
                if u.strip() in ("Power", "Current")
            ) or ("A",)
            return StationLimits(
                version="1.6",
                rate_units=units,
                max_stack_level=_int(config.get("ChargeProfileMaxStackLevel"), 8),
                periods_per_schedule=_int(config.get("ChargingScheduleMaxPeriods"), 24),
                max_profiles=_int(config.get("MaxChargingProfilesInstalled"), 20),
            )
        wanted = [
            ("SmartChargingCtrlr", "Enabled", None),
            ("SmartChargingCtrlr", "Entries", "ChargingProfiles"),
            ("SmartChargingCtrlr", "PeriodsPerSchedule", None),
            ("SmartChargingCtrlr", "ProfileStackLevel", None),
            ("SmartChargingCtrlr", "ChargingProfileMaxStackLevel", None),
            ("SmartChargingCtrlr", "RateUnit", None),
        ]
        if version == "2.1":
            wanted += [("V2XChargingCtrlr", "Enabled", None), ("DERCtrlr", "Enabled", None)]
        data = []
        for component, variable, instance in wanted:
            item: dict[str, Any] = {
                "component": {"name": component},
                "variable": {"name": variable},
            }
            if instance:
                item["variable"]["instance"] = instance
            data.append(item)
        answer = await link.send_call(
            "GetVariables", {"getVariableData": data}, self.call_timeout_s
        )
        found: dict[tuple[str, str], str] = {}
        for result in answer.get("getVariableResult", []):
            if result.get("attributeStatus") == "Accepted" and "attributeValue" in result:
                key = (result["component"]["name"], result["variable"]["name"])
                found[key] = str(result["attributeValue"])
        rate = found.get(("SmartChargingCtrlr", "RateUnit"), "A,W")
        units = tuple(u.strip() for u in rate.split(",") if u.strip() in ("W", "A")) or ("A",)
        stack = found.get(("SmartChargingCtrlr", "ChargingProfileMaxStackLevel")) or found.get(
            ("SmartChargingCtrlr", "ProfileStackLevel")
        )
        return StationLimits(
            version=version,
            rate_units=tuple(sorted(units, key=lambda u: u != "W")),
            max_stack_level=_int(stack, 8),
            periods_per_schedule=_int(found.get(("SmartChargingCtrlr", "PeriodsPerSchedule")), 24),
            max_profiles=_int(found.get(("SmartChargingCtrlr", "Entries")), 20),
            v2x=found.get(("V2XChargingCtrlr", "Enabled"), "").lower() == "true",
            der=found.get(("DERCtrlr", "Enabled"), "").lower() == "true",
        )

    def limits_of(self, cs_id: str) -> StationLimits | None:
        """What the station reported (None: not yet)."""
        return self._limits.get(cs_id)

    async def _resend(self, link: Link) -> None:
        ledger = self._ledgers.get(link.id)
        if ledger is None:
            return
        limits = self._limits.get(link.id) or StationLimits(version=_version(link))
        async with self._lock(link.id):
            for call in resend_calls(ledger, limits, self.now(), self._rated(link.id)):
                await self._send(link, call)

    def _rated(self, cs_id: str) -> dict[int, float]:
        """Each EVSE's rated power by EVSE number (the registry's maximum charge power): the
        basis of the `PctMaxW` of a volt-watt curve."""
        station = self._stations.get(cs_id)
        return {n: e.max_charge_w for n, e in station.evses.items()} if station else {}

    def _lock(self, cs_id: str) -> asyncio.Lock:
        return self._station_locks.setdefault(cs_id, asyncio.Lock())

    async def _send(self, link: Link, call: OcppCall) -> str | None:
        """Send one call; None when the station accepted it, else why not."""
        try:
            answer = await link.send_call(call.action, call.payload, self.call_timeout_s)
        except CallRefused as exc:
            return str(exc)
        except Exception as exc:  # a closed socket, a payload the schema refuses
            return f"{type(exc).__name__}: {exc}"
        status = answer.get("status")
        if status == "Accepted":
            self._ledgers.setdefault(link.id, ProfileLedger()).confirm(call)
            self._dirty_ledgers.add(link.id)
            return None
        info = answer.get("statusInfo") or {}
        detail = " ".join(str(info[k]) for k in ("reasonCode", "additionalInfo") if k in info)
        return f"station answered {call.action} {status}" + (f": {detail}" if detail else "")

    # -- commands -------------------------------------------------------------------------------

    def _parts(self, command: Command) -> list[tuple[str, Command]] | str:
        """The station(s) a command is for, with each station's share of it, or why none.

        An EVSE command goes to the EVSE's station. A SITE command goes to the site's station
        as a station-wide limit; a site with several stations gets its limit split in
        proportion to their EVSEs' rated power (a clear goes to each)."""
        target = command.target
        if target.level is ControlLevel.EVSE:
            cs_id = self.station_of(target.id)
            return [(cs_id, command)] if cs_id else f"NOT_CAPABLE: no OCPP station has {target.id}"
        if target.level is not ControlLevel.SITE:
            return f"NOT_CAPABLE: no OCPP station is a {target.level} ({target.id})"
        rated = {
            s.cs_id: sum(e.max_charge_w for e in s.evses.values()) or 1.0
            for s in self._stations.values()
            if s.site_id == target.id
        }
        if not rated:
            return f"NOT_CAPABLE: no OCPP station is on site {target.id}"
        control = command.control
        if len(rated) == 1 or not isinstance(control, LimitCommand):
            return [(cs_id, command) for cs_id in rated]
        total = sum(rated.values())

        def share(value: float | None, cs_id: str) -> float | None:
            return None if value is None else value * rated[cs_id] / total

        return [
            (
                cs_id,
                command._replace(
                    control=LimitCommand(
                        share(control.max_import_w, cs_id), share(control.max_export_w, cs_id)
                    )
                ),
            )
            for cs_id in rated
        ]

    def split(self, commands: Sequence[Command]) -> dict[str | None, list[Command]]:
        """Commands by the station that must deliver them: None for those this replica
        applies itself (its own stations', and targets no station has, which it refuses),
        else the id of a station connected elsewhere or nowhere (queued for whichever replica
        holds it). A SITE command over stations held apart is left to this replica."""
        parts: dict[str | None, list[Command]] = {}
        for command in commands:
            found = self._parts(command)
            stations = {cs_id for cs_id, _ in found} if not isinstance(found, str) else set()
            key = None
            if len(stations) == 1 and not self.holds(cs_id := next(iter(stations))):
                key = cs_id
            parts.setdefault(key, []).append(command)
        return parts

    async def apply(self, command: Command) -> ApplyResult:
        """Put one command in force."""
        return (await self.apply_many([command]))[0]

    async def apply_many(self, commands: Sequence[Command]) -> list[ApplyResult]:
        """Send the calls that put `commands` in force, station by station (concurrently);
        a command for several stations is taken when every one of them took its share."""
        await self._know([c.target for c in commands])
        per_station: dict[str, list[tuple[int, Command]]] = {}
        refusals: dict[int, str] = {}
        for index, command in enumerate(commands):
            found = self._parts(command)
            if isinstance(found, str):
                refusals[index] = found
                continue
            for cs_id, part in found:
                if cs_id not in self._links:
                    refusals.setdefault(index, f"station {cs_id} is not connected")
                else:
                    per_station.setdefault(cs_id, []).append((index, part))
        answers = await asyncio.gather(
            *(
                self._apply_station(cs_id, [part for _, part in items])
                for cs_id, items in per_station.items()
            )
        )
        for items, station_results in zip(per_station.values(), answers, strict=True):
            for (index, _), result in zip(items, station_results, strict=True):
                if not result.accepted:
                    refusals.setdefault(index, result.reason or "refused")
        return [
            ApplyResult(c.target, i not in refusals, refusals.get(i))
            for i, c in enumerate(commands)
        ]

    async def _apply_station(self, cs_id: str, commands: list[Command]) -> list[ApplyResult]:
        link = self._links[cs_id]
        station = self._stations[cs_id]
        limits = self._limits.get(cs_id) or StationLimits(version=_version(link))
        evses = {e.evse_id: e.number for e in station.evses.values()}
        # What the station cannot do is refused alone; the rest is planned and sent.
        refused = {i: refusal_of(c, evses, limits) for i, c in enumerate(commands)}
        doable = [c for i, c in enumerate(commands) if refused[i] is None]
        failures: dict[str | None, str] = {}
        async with self._lock(cs_id):
            ledger = self._ledgers.setdefault(cs_id, ProfileLedger())
            rated = self._rated(cs_id)
            planned = plan_calls(ledger, doable, evses, limits, self.now(), rated) if doable else []
            if isinstance(planned, Refusal):
                failures[None] = planned.reason
                planned = []
            for call in planned:
                reason = await self._send(link, call)
                if reason is not None:
                    failures.setdefault(call.evse_id, reason)
        # A call for one EVSE answers for that EVSE's command; a station-wide call (EVSE 0:
        # site limits, DER controls) answers for every command of the station.
        results = []
        for index, command in enumerate(commands):
            refusal = refused[index]
            reason = (
                refusal.reason
                if refusal is not None
                else failures.get(command.target.id) or failures.get(None)
            )
            results.append(ApplyResult(command.target, reason is None, reason))
        return results

    # -- state ----------------------------------------------------------------------------------

    async def read_state(self, targets: Sequence[ControlTarget]) -> list[TargetState]:
        """EVSEs' last reported power and status; an EVSE of a station connected to no
        replica has no headroom (nothing can be steered there)."""
        await self._know(targets)
        now = self.now()
        states = []
        local_txs = {tx.evse_id: tx for tx in self._txs.values()}
        connected: set[str] = set(local_txs)
        remote = [
            t.id
            for t in targets
            if t.level is ControlLevel.EVSE
            and (evse := self._evses.get(t.id)) is not None
            and evse.cs_id in self._remote
        ]
        if remote and self._factory is not None:
            # Stations held by other replicas: their EVs are known from the stored sessions.
            async with self.factory() as db:
                connected |= await store.evses_with_open_sessions(db, remote)
                await db.rollback()
        for target in targets:
            evse = self._evses.get(target.id) if target.level is ControlLevel.EVSE else None
            if evse is None:
                continue
            reachable = (evse.cs_id in self._links and evse.status == "AVAILABLE") or (
                evse.cs_id in self._remote
            )
            limits = self._limits.get(evse.cs_id)
            export = evse.max_discharge_w if limits is not None and limits.v2x else 0.0
            tx = local_txs.get(evse.evse_id)
            if tx is not None and export > 0:
                # the EV user's consent and limits bind (UC 3.6)
                session = self._session(tx)
                if not (session.consent_v2g and session.ev.bidirectional):
                    export = 0.0
                elif session.max_discharge_power_w is not None:
                    export = min(export, session.max_discharge_power_w)
            values = evse.values
            states.append(
                TargetState(
                    target,
                    evse.at or now,
                    values.get("p_w", 0.0),
                    values.get("q_var", 0.0),
                    evse.max_charge_w if reachable else 0.0,
                    export if reachable else 0.0,
                    1 if evse.evse_id in connected else 0,
                    values.get("soc_pct"),
                    values.get("f_hz"),
                    values.get("u_v"),
                )
            )
        return states

    def session_scope(self) -> set[str]:
        """The EVSEs whose sessions this replica reports: those of the stations it holds
        (session sync leaves the others' sessions to the replicas holding them)."""
        return {
            evse.evse_id
            for cs_id in self._links
            if (station := self._stations.get(cs_id)) is not None
            for evse in station.evses.values()
        }

    async def sessions(self) -> list[StationSession]:
        """The transactions in progress on this replica's stations."""
        return [self._session(tx) for tx in self._txs.values()]

    def _session(self, tx: _Tx) -> StationSession:
        needs = tx.needs
        v2x = needs.get("v2x_charging_parameters") or {}
        ac = needs.get("ac_charging_parameters") or {}
        dc = needs.get("dc_charging_parameters") or {}
        departure = needs.get("departure_time")
        departure_time = None
        if isinstance(departure, str):
            with contextlib.suppress(ValueError):
                departure_time = datetime.fromisoformat(departure.replace("Z", "+00:00"))
        evse = self._evses[tx.evse_id]
        target = (
            _f(v2x.get("ev_target_energy_request"))
            or _f(ac.get("energy_amount"))
            or _f(dc.get("energy_amount"))
            or 0.0
        )
        max_discharge = _f(v2x.get("max_discharge_power"))
        der = needs.get("der_charging_parameters") or {}
        modes = {str(needs.get("requested_energy_transfer") or "")}
        modes |= {str(m) for m in needs.get("available_energy_transfer") or ()}
        # A bidirectional transfer mode requested by the EV (ISO 15118-20) is its user's choice
        # of V2G, until the EV user's own preferences (UC 3.6) say otherwise.
        bidirectional = any("BPT" in m for m in modes) or bool(max_discharge)
        prefs = tx.preferences
        return StationSession(
            session_key=tx.key,
            id_token=tx.id_token,
            evse_id=tx.evse_id,
            connected_at=tx.connected_at,
            departure_time=departure_time,
            ev=EvInfo(
                # OCPP 2.1 names the EV's own inverter (ISO 15118-20): the registry's EV model
                # of that id holds its grid-code evidence.
                model_id=der.get("ev_inverter_model"),
                bidirectional=bidirectional,
                onboard_inverter="AC_BPT_DER" in modes or bool(der),
                max_charge_w=_f(v2x.get("max_charge_power")) or _f(dc.get("ev_max_power")),
                max_discharge_w=max_discharge,
                battery_wh=_f(dc.get("ev_energy_capacity")),
            ),
            soc_pct=evse.values.get("soc_pct") or _f(dc.get("state_of_charge")),
            target_soc_pct=_f(v2x.get("target_soc")),
            min_soc_at_departure_pct=prefs.min_soc_at_departure_pct if prefs else 0.0,
            soc_floor_pct=prefs.soc_floor_pct if prefs else 0.0,
            max_energy_to_grid_wh=prefs.max_energy_to_grid_wh if prefs else None,
            max_discharge_power_w=prefs.max_discharge_power_w if prefs else None,
            consent_v1g=prefs.consent_v1g if prefs else True,
            consent_v2g=prefs.consent_v2g if prefs else bidirectional,
            target_energy_wh=target,
            min_energy_wh=_f(v2x.get("ev_min_energy_request")) or 0.0,
            max_energy_wh=_f(v2x.get("ev_max_energy_request")) or target,
            v2x_min_energy_wh=_f(v2x.get("ev_min_v2x_energy_request")),
            v2x_max_energy_wh=_f(v2x.get("ev_max_v2x_energy_request")),
            energy_imported_wh=evse.values.get("e_import_wh", 0.0),
            energy_exported_wh=evse.values.get("e_export_wh", 0.0),
        )

    async def update_session(self, session_key: str, preferences: SessionPreferences) -> bool:
        """Keep the EV user's consent and limits on the session (they bind every command the
        server composes for it)."""
        tx = self._txs.get(session_key)
        if tx is None:
            return False
        tx.preferences = preferences
        self._dirty_txs.add(tx.cs_id)
        return True

    async def drain_measurements(self) -> list[MeterSample]:
        """Meter values received since the last call."""
        samples, self._samples = self._samples, []
        return samples

    async def drain_ffr_evidence(self) -> list[FfrEvidence]:
        """OCPP carries no high-resolution FFR evidence."""
        return []

    async def drain_events(self) -> list[StationEvent]:
        """Station events since the last call."""
        events, self._events = self._events, []
        return events

    # -- background: leases and persistence -----------------------------------------------------

    async def flush(self) -> None:
        """Write changed limits and ledgers."""
        if not (self._dirty_limits or self._dirty_ledgers or self._dirty_txs):
            return
        if self._factory is None:
            return
        limits, self._dirty_limits = self._dirty_limits, set()
        ledgers, self._dirty_ledgers = self._dirty_ledgers, set()
        txs, self._dirty_txs = self._dirty_txs, set()
        now = self.now()
        try:
            async with self.factory() as db:
                for cs_id in limits | ledgers | txs:
                    known = self._limits.get(cs_id)
                    ledger = self._ledgers.get(cs_id)
                    await store.save_ocpp_state(
                        db,
                        cs_id,
                        now,
                        limits=known.to_json() if cs_id in limits and known else None,
                        ledger=ledger.to_json() if cs_id in ledgers and ledger else None,
                        transactions=[
                            _tx_document(tx) for tx in self._txs.values() if tx.cs_id == cs_id
                        ]
                        if cs_id in txs
                        else None,
                    )
                await db.commit()
        except Exception:
            self._dirty_limits |= limits
            self._dirty_ledgers |= ledgers
            self._dirty_txs |= txs
            raise

    async def renew(self) -> None:
        """Renew this replica's leases and learn which stations other replicas hold."""
        now = self.now()
        async with self.factory() as db:
            await store.renew_leases(
                db, self.host_id, list(self._links), now + timedelta(seconds=self.lease_s)
            )
            holders = await store.connection_holders(db, list(self._stations), now)
            await db.commit()
        self._remote = {cs for cs, host in holders.items() if host != self.host_id}

    async def _background(self) -> None:
        renew_every = self.lease_s / 3
        loop = asyncio.get_running_loop()
        last_renew, last_read = loop.time() - renew_every, loop.time()
        while True:
            try:
                await self.flush()
                if loop.time() - last_renew >= renew_every:
                    await self.renew()
                    last_renew = loop.time()
                if loop.time() - last_read >= REGISTRY_REREAD_S:
                    # registry imports on any replica (new stations, EVSEs, sites)
                    await self.refresh_registry()
                    last_read = loop.time()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("OCPP state could not be written: %s", exc)
            await asyncio.sleep(self.flush_interval_s)


def _tx_document(tx: _Tx) -> dict[str, Any]:
    return {
        "key": tx.key,
        "cs_id": tx.cs_id,
        "tx_id": tx.tx_id,
        "evse_id": tx.evse_id,
        "id_token": tx.id_token,
        "connected_at": tx.connected_at.isoformat(),
        "departure_time": tx.departure_time.isoformat() if tx.departure_time else None,
        "needs": tx.needs,
        "preferences": tx.preferences._asdict() if tx.preferences else None,
    }


def _tx_of(document: dict[str, Any]) -> _Tx:
    preferences = document.get("preferences")
    departure = document.get("departure_time")
    return _Tx(
        key=str(document["key"]),
        cs_id=str(document["cs_id"]),
        tx_id=str(document["tx_id"]),
        evse_id=str(document["evse_id"]),
        id_token=document.get("id_token"),
        connected_at=datetime.fromisoformat(document["connected_at"]),
        departure_time=datetime.fromisoformat(departure) if departure else None,
        needs=dict(document.get("needs") or {}),
        preferences=SessionPreferences(**preferences) if preferences else None,
    )


def _version(link: Link) -> OcppVersion:
    return {"2.1": "2.1", "2.0.1": "2.0.1"}.get(link.version, "1.6")  # type: ignore[return-value]


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default
