"""Capabilities of the targets the caller names, per FS type (`GET /v1/capabilities`).

An EVSE (or an EV session) is judged by `services.capabilities.assess` with the EV connected to
it, so an AC EVSE offers droop and V2G only while an EV with a conformant bidirectional on-board
inverter is plugged in (UC 1.7). A station or a site adds up its EVSEs: it supports a type when one
of its EVSEs does, its power range is the sum of theirs bounded by the site's grid connection, and
its response time is the slowest of those that take part. An off-grid site (UC 1.6) supports no
grid FS at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from fcsbe.model import Capability, FsType, GridFunction, Target, TargetLevel
from fcsbe.server.security.principal import Principal
from fcsbe.server.services.registry.capabilities import assess
from fcsbe.server.services.registry.targets import Resolved, ev_technical, resolve_target

__all__ = ["capabilities_for", "capabilities_of"]


def _evse_capabilities(
    resolved: Resolved, fs_type: FsType, now: datetime, telemetry_s: int
) -> list[Capability]:
    found = []
    for evse in resolved.evses:
        station = resolved.stations[resolved.station_of[evse.evse_id]]
        row = resolved.sessions.get(evse.evse_id)
        ev = ev_technical(row.data if row else None)
        reported = resolved.reported.get(station.cs_id)
        found.append(assess(fs_type, evse, station, ev, now, telemetry_s, reported).capability)
    return found


def _combined(
    resolved: Resolved, fs_type: FsType, parts: list[Capability], telemetry_s: int
) -> Capability:
    """One capability for a station or a site from those of its EVSEs."""
    taking_part = [c for c in parts if c.supported]
    supported = bool(taking_part) and not resolved.off_grid
    functions: list[GridFunction] = []
    for part in taking_part:
        functions.extend(f for f in part.grid_functions if f not in functions)
    p_min = sum(c.p_min_w for c in taking_part)
    p_max = sum(c.p_max_w for c in taking_part)
    if resolved.target.level is TargetLevel.SITE:
        connection = resolved.site.grid_connection
        p_max = min(p_max, connection.import_limit_w)
        p_min = max(p_min, -connection.export_limit_w)
    return Capability(
        target=resolved.target,
        fs_type=fs_type,
        supported=supported,
        grid_functions=functions if supported else [],
        p_min_w=p_min if supported else 0.0,
        p_max_w=p_max if supported else 0.0,
        response_time_s=max((c.response_time_s for c in taking_part), default=0.0),
        telemetry_interval_s=telemetry_s,
    )


def capabilities_for(
    resolved: Resolved, fs_types: Sequence[FsType], now: datetime, telemetry_s: int
) -> list[Capability]:
    """One capability per FS type of a resolved target."""
    found = []
    for fs_type in fs_types:
        parts = _evse_capabilities(resolved, fs_type, now, telemetry_s)
        if resolved.target.level in (TargetLevel.SITE, TargetLevel.CS):
            found.append(_combined(resolved, fs_type, parts, telemetry_s))
            continue
        (part,) = parts
        if resolved.off_grid:
            part = part.model_copy(
                update={"supported": False, "grid_functions": [], "p_min_w": 0.0, "p_max_w": 0.0}
            )
        found.append(part.model_copy(update={"target": resolved.target}))
    return found


async def capabilities_of(
    db: AsyncSession,
    principal: Principal,
    now: datetime,
    targets: Sequence[Target],
    fs_types: Sequence[FsType],
    telemetry_s: int,
) -> list[Capability]:
    """Capabilities of each target (404 for one the caller may not see), in request order."""
    found: list[Capability] = []
    for target in targets:
        resolved = await resolve_target(db, principal, now, target)
        found.extend(capabilities_for(resolved, fs_types, now, telemetry_s))
    return found
