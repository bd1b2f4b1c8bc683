"""Resolving a target (site, station, EVSE or EV session) the caller names into the equipment
and sessions behind it, refusing what its contracts do not show at that level.

Capabilities and availability are reported per target; both start here, so the rule "a target is
visible only at its own data-sharing level or finer" is written once: a SITE target needs a SITE
target in an active contract, a CS target a SITE or CS target at CS level or finer, an EVSE target
EVSE level, a SESSION target SESSION level. Anything else is a 404, like an unknown id.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from fcsbe.model import (
    ChargingStation,
    ConformityEvidence,
    DataSharingLevel,
    Evse,
    FieldError,
    GridState,
    Site,
    Target,
    TargetLevel,
)
from fcsbe.server.errors import NotFound, UnprocessableContent
from fcsbe.server.security.principal import Principal
from fcsbe.server.services.registry.capabilities import EvTechnical
from fcsbe.server.storage import charging_stations as stations_store
from fcsbe.server.storage import ocpp_stations as ocpp_store
from fcsbe.server.storage import sessions as sessions_store
from fcsbe.server.storage import sites as sites_store
from fcsbe.server.storage.infrastructure import EvseRow, EvSessionRow
from fcsbe.server.storage.registry import load_evses, load_sites, load_stations

__all__ = ["Resolved", "ev_technical", "parse_target", "resolve_target"]


def parse_target(text: str, pointer: str = "/query/target") -> Target:
    """`LEVEL:id` (`SITE:site-1`, `EVSE:NL*ABC*E1*1`, `SESSION:ps_...`) as a `Target`."""
    level, sep, ident = text.partition(":")
    try:
        if not sep:
            raise ValueError("expected LEVEL:id, e.g. EVSE:NL*ABC*E12345*1")
        return Target(level=TargetLevel(level.upper()), id=ident)
    except ValueError as exc:
        raise UnprocessableContent(
            f"Invalid target {text!r}: use LEVEL:id with LEVEL one of SITE, CS, EVSE, SESSION.",
            slug="invalid-target",
            errors=[FieldError(pointer=pointer, detail=str(exc).splitlines()[0], code="target")],
        ) from None


def ev_technical(document: dict[str, Any] | None) -> EvTechnical | None:
    """The connected EV as the capability rules see it, from a stored session document."""
    ev = (document or {}).get("ev")
    if not isinstance(ev, dict):
        return None
    return EvTechnical(
        bidirectional=bool(ev.get("bidirectional")),
        onboard_inverter=bool(ev.get("onboard_inverter")),
        max_charge_w=ev.get("max_charge_w"),
        max_discharge_w=ev.get("max_discharge_w"),
        conformity=tuple(ConformityEvidence.model_validate(c) for c in ev.get("conformity", [])),
    )


@dataclass
class Resolved:
    """A target with its site, its EVSEs (with station documents) and connected sessions."""

    target: Target
    site: Site
    evses: list[Evse]
    stations: dict[str, ChargingStation]
    station_of: dict[str, str]
    sessions: dict[str, EvSessionRow] = field(default_factory=dict)
    reported: dict[str, dict[str, Any]] = field(default_factory=dict)
    """What each station reported over OCPP when it connected (`StationLimits` JSON)."""

    @property
    def off_grid(self) -> bool:
        return self.site.grid_state is GridState.OFF_GRID


def _missing(target: Target) -> NotFound:
    return NotFound(
        f"No {target.level.value} {target.id!r} in your contracts at that level.",
        slug="target-not-found",
    )


async def _evse_rows(
    db: AsyncSession, principal: Principal, now: datetime, target: Target
) -> tuple[list[EvseRow], EvSessionRow | None]:
    if target.level is TargetLevel.SITE:
        if await sites_store.get_site(db, principal, now, target.id) is None:
            raise _missing(target)
        return await stations_store.evses_of(db, site_id=target.id), None
    if target.level is TargetLevel.CS:
        row = await stations_store.get_station(db, principal, now, target.id, whole_only=True)
        if row is None:
            raise _missing(target)
        return await stations_store.evses_of(db, cs_id=target.id), None
    if target.level is TargetLevel.EVSE:
        evse = await stations_store.get_evse(db, principal, now, target.id, DataSharingLevel.EVSE)
        if evse is None:
            raise _missing(target)
        return [evse], None
    found = await sessions_store.get_session(db, principal, now, target.id)
    if found is None or found[0].disconnected_at is not None:
        raise _missing(target)
    evse = (await load_evses(db, {found[0].evse_id}))[found[0].evse_id]
    return [evse], found[0]


async def resolve_target(
    db: AsyncSession, principal: Principal, now: datetime, target: Target
) -> Resolved:
    """The equipment and sessions behind `target`, or 404 when the caller may not see it."""
    rows, only_session = await _evse_rows(db, principal, now, target)
    if not rows:
        raise _missing(target)
    site_row = (await load_sites(db, {rows[0].site_id}))[rows[0].site_id]
    station_rows = await load_stations(db, {r.cs_id for r in rows})
    stations = {
        cs_id: ChargingStation.model_validate(
            {**row.data, "evses": [r.data for r in rows if r.cs_id == cs_id]}
        )
        for cs_id, row in station_rows.items()
    }
    if only_session is not None:
        sessions = {only_session.evse_id: only_session}
    else:
        sessions = await sessions_store.connected_sessions(db, [r.evse_id for r in rows])
    reported = await ocpp_store.reported_limits(db, stations)
    return Resolved(
        target=target,
        site=Site.model_validate(site_row.data),
        evses=[Evse.model_validate(r.data) for r in rows],
        stations=stations,
        station_of={r.evse_id: r.cs_id for r in rows},
        sessions=sessions,
        reported=reported,
    )
