"""What a target stands for and what covers it: its EVSEs (with their station and connected EV)
and its ancestors, for every target the registry knows, whoever asks.

This is the resolution of the credentials check and contract-holder discovery, which judge
targets against a contract (or find the contracts over a target) rather than show them;
`services.targets` resolves what a caller may *see*. Rules:

- a SITE stands for every EVSE on it; a CS for its EVSEs; an EVSE for itself with the EV
  connected now; a SESSION for the EVSE it is at, with *its* EV;
- a target lies in a contract's scope when the contract names it or anything containing it
  (`scope_keys`: an EVSE is in scope of a contract naming its CS or its site).

The EV's technical data (for UC 1.7, the EV's own inverter) is read from the session document
with `services.targets.ev_technical`, the one loader of it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from fcsbe.model import ChargingStation, Evse, Target, TargetLevel
from fcsbe.server.services.registry.capabilities import EvTechnical
from fcsbe.server.services.registry.targets import ev_technical
from fcsbe.server.storage.infrastructure import EvSessionRow
from fcsbe.server.storage.targets import RegistryRows, load_registry_rows

__all__ = ["ResolvedTarget", "ScopeKey", "Unit", "resolve_targets"]

log = logging.getLogger("fcsbe.targets")

ScopeKey = tuple[str, str]
"""(level, id) of an entry in a contract's scope."""


@dataclass(frozen=True, slots=True)
class Unit:
    """One EVSE a target stands for, with its station and the EV connected (if any)."""

    evse: Evse
    station: ChargingStation
    ev: EvTechnical | None
    session_ref: str | None
    reported: dict[str, Any] | None = None
    """What the station reported over OCPP (`StationLimits` JSON; None: not connected yet)."""


@dataclass(frozen=True, slots=True)
class ResolvedTarget:
    """A known target: what it contains (`units`) and what contains it (`scope_keys`)."""

    target: Target
    scope_keys: tuple[ScopeKey, ...]
    units: tuple[Unit, ...]
    session: EvSessionRow | None = None
    ended: bool = False

    def in_scope(self, scope: set[ScopeKey]) -> bool:
        """True when a contract whose scope is `scope` covers this target."""
        return any(key in scope for key in self.scope_keys)


class _Documents:
    """Parsed registry documents of one resolution (each parsed once)."""

    def __init__(self, rows: RegistryRows, *, parse: bool = True) -> None:
        self.rows = rows
        self.parse = parse
        self._units: dict[tuple[str, str | None], Unit | None] = {}

    def unit(self, evse_id: str, ev_session: EvSessionRow | None) -> Unit | None:
        if not self.parse:
            return None
        ref = ev_session.session_ref if ev_session else None
        key = (evse_id, ref)
        if key not in self._units:
            self._units[key] = self._parse(evse_id, ev_session)
        return self._units[key]

    def _parse(self, evse_id: str, ev_session: EvSessionRow | None) -> Unit | None:
        evse_row = self.rows.evses.get(evse_id)
        station_row = self.rows.stations.get(evse_row.cs_id) if evse_row else None
        if evse_row is None or station_row is None:
            return None
        try:
            ev = ev_technical(ev_session.data) if ev_session else None
            return Unit(
                evse=Evse.model_validate(evse_row.data),
                station=ChargingStation.model_validate(station_row.data),
                ev=ev,
                session_ref=ev_session.session_ref if ev_session else None,
                reported=self.rows.reported.get(evse_row.cs_id),
            )
        except ValidationError as exc:
            log.warning("registry document of %s does not validate: %s", evse_id, exc)
            return None

    def evse_unit(self, evse_id: str) -> Unit | None:
        return self.unit(evse_id, self.rows.connected.get(evse_id))

    def units_where(self, *, cs_id: str | None = None, site_id: str | None = None) -> list[Unit]:
        evse_ids = sorted(
            row.evse_id
            for row in self.rows.evses.values()
            if (cs_id is None or row.cs_id == cs_id) and (site_id is None or row.site_id == site_id)
        )
        return [unit for e in evse_ids if (unit := self.evse_unit(e)) is not None]


def _resolve_one(target: Target, docs: _Documents) -> ResolvedTarget | None:
    rows = docs.rows
    if target.level is TargetLevel.SITE:
        if target.id not in rows.sites:
            return None
        units = docs.units_where(site_id=target.id)
        return ResolvedTarget(target, (("SITE", target.id),), tuple(units))
    if target.level is TargetLevel.CS:
        station = rows.stations.get(target.id)
        if station is None:
            return None
        cs_keys: tuple[ScopeKey, ...] = (("CS", target.id), ("SITE", station.site_id))
        return ResolvedTarget(target, cs_keys, tuple(docs.units_where(cs_id=target.id)))
    if target.level is TargetLevel.EVSE:
        evse = rows.evses.get(target.id)
        if evse is None:
            return None
        unit = docs.evse_unit(target.id)
        evse_keys: tuple[ScopeKey, ...] = (
            ("EVSE", evse.evse_id),
            ("CS", evse.cs_id),
            ("SITE", evse.site_id),
        )
        return ResolvedTarget(target, evse_keys, (unit,) if unit else ())
    ev_session = rows.sessions.get(target.id)
    evse = rows.evses.get(ev_session.evse_id) if ev_session else None
    if ev_session is None or evse is None:
        return None
    keys: tuple[ScopeKey, ...] = (
        ("SESSION", ev_session.session_ref),
        ("EVSE", evse.evse_id),
        ("CS", evse.cs_id),
        ("SITE", evse.site_id),
    )
    ended = ev_session.disconnected_at is not None
    unit = None if ended else docs.unit(evse.evse_id, ev_session)
    return ResolvedTarget(target, keys, (unit,) if unit else (), ev_session, ended)


async def resolve_targets(
    session: AsyncSession, targets: Sequence[Target], *, units: bool = True
) -> list[ResolvedTarget | None]:
    """Resolve each target (None: unknown to the registry), in a fixed number of queries.

    `units=False` leaves every target's `units` empty: a caller that only asks whether targets
    exist and what covers them (the FS decision, through `target_visibility`) need not parse
    every station's document."""
    ids: dict[TargetLevel, set[str]] = {level: set() for level in TargetLevel}
    for target in targets:
        ids[target.level].add(target.id)
    rows = await load_registry_rows(
        session,
        site_ids=ids[TargetLevel.SITE],
        cs_ids=ids[TargetLevel.CS],
        evse_ids=ids[TargetLevel.EVSE],
        session_refs=ids[TargetLevel.SESSION],
    )
    docs = _Documents(rows, parse=units)
    return [_resolve_one(target, docs) for target in targets]
