"""From an FS's commands to what the stations get: its layer in the control stack, composed.

Execution, dynamic setpoints, reserve activations and the fallback never send an FS's commands
to a station directly. They set the FS's *layer* on its EVSEs (`set_fs_layers`, or
`release_fs` to remove it); the layers of every FS on the sites touched are composed
(`planning/control_stack.compose`: limits by minimum, setpoints by priority, all within the
EVSE's capability and the site's connection) and the composed commands go to the stations
through `deliver`, the one way they leave this package: it writes them as one station command
(`commands.enqueue`), applied at once where this replica holds the stations, else queued for
the replica that does. Intents that need the stations' live state (a setpoint split over the
EVSEs' headroom, the fallback's shares) are queued as such (`send_intent`) and expanded where
the stations are (`apply_intent`): the expansion becomes the FS's layer there, composed with
every other FS's before it is applied.

Only the EVSEs whose composed command changed get a command (the FS's own EVSEs always do, so
a replan refreshes them); a kind of command that no layer asks for any more is cleared first.
The sites touched are locked while their layers are read and written, so two transactions never
compose one site from different sets of layers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from fcsbe.server.adapters.base import (
    ApplyResult,
    ClearCommand,
    Command,
    ControlLevel,
    ControlTarget,
    DroopCommand,
    FfrCommand,
    LimitCommand,
    SetpointCommand,
    StationAdapter,
    as_tuples,
)
from fcsbe.server.planning.control_stack import (
    PRIORITY,
    ArmedLayer,
    Composed,
    EvseBound,
    Layer,
    SiteBound,
    compose,
)
from fcsbe.server.services.flexibility_services.commands import (
    EVSE,
    enqueue,
    expand,
    holds_stations,
    outcome,
)
from fcsbe.server.storage.control_layers import (
    ControlLayerRow,
    evse_sites,
    layers_on_sites,
    replace_layers,
    sites_of_fs,
    sites_of_fs_layers,
)
from fcsbe.server.storage.fleet import lock_sites, site_bounds
from fcsbe.server.storage.flexibility_services import FlexibilityServiceRow
from fcsbe.server.storage.station_commands import StationCommandRow

__all__ = [
    "Delivery",
    "apply_intent",
    "composed_commands",
    "deliver",
    "lock_fs_sites",
    "release_fs",
    "send_intent",
    "set_fs_layers",
]

_UNKNOWN_SITE = ""
"""Site of an EVSE the registry does not know: composed with no site bound."""


@dataclass(frozen=True)
class Delivery:
    """What a change of layers sent: the composed commands, the stations' answers (none while
    the command waits in the queue) and its station command (None when nothing changed)."""

    commands: list[Command] = field(default_factory=list)
    results: list[ApplyResult] = field(default_factory=list)
    command: StationCommandRow | None = None


async def deliver(
    session: AsyncSession,
    adapter: StationAdapter,
    fs: FlexibilityServiceRow,
    commands: Sequence[Command],
    now: datetime,
) -> Delivery:
    """Hand composed commands to the stations: the one call of execution, control and fallback
    into the station-command queue, in `session` (the transaction that decided them), applied
    at once where this replica holds the stations."""
    if not commands:
        return Delivery()
    row, results = await enqueue(session, adapter, fs, now, commands=commands)
    return Delivery(list(commands), results, row)


async def send_intent(
    session: AsyncSession,
    adapter: StationAdapter,
    fs: FlexibilityServiceRow,
    now: datetime,
    kind: str,
    payload: Mapping[str, Any] | None = None,
) -> StationCommandRow:
    """Queue an intent (`commands.expander`) in `session`; where this replica holds the
    stations it is expanded and applied at once (`apply_intent`), else by the applier there."""
    row, _ = await enqueue(session, adapter, fs, now, kind=kind, payload=payload)
    if holds_stations(adapter):
        # what was decided (the caller's FS change, its event-log entry, this row) is written
        # first: a value the database cannot hold fails before any station acts
        await session.flush()
        row.attempts = 1
        await apply_intent(session, adapter, row, fs, now)
    return row


async def apply_intent(
    session: AsyncSession,
    adapter: StationAdapter,
    row: StationCommandRow,
    fs: FlexibilityServiceRow | None,
    now: datetime,
) -> Delivery:
    """Expand an intent with the stations' live state into the FS's layer, compose and apply it
    (this replica holds the stations), and record the outcome on `row`."""
    assert row.kind != EVSE, "concrete commands are applied by commands.enqueue or the applier"
    expanded = await expand(session, adapter, row, fs, now)
    delivery = Delivery()
    if isinstance(expanded, str) or fs is None:
        row.state, row.reason, row.applied_evses = "FAILED", str(expanded), 0
    else:
        delivery = await set_fs_layers(session, adapter, fs, expanded, now)
        row.state, row.applied_evses, row.reason = outcome(delivery.results)
    row.completed_at, row.claimed_until = now, None
    return delivery


def _layer_row(
    fs: FlexibilityServiceRow, evse_id: str, site_id: str, commands: list[Command], now: datetime
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "fs_id": fs.fs_id,
        "evse_id": evse_id,
        "site_id": site_id,
        "priority": PRIORITY.get(fs.fs_type, 0),
        "setpoint_w": None,
        "setpoint_var": None,
        "max_import_w": None,
        "max_export_w": None,
        "armed": None,
        "valid_until": None,
        "updated_at": now,
    }
    untils = [c.valid_until for c in commands]
    row["valid_until"] = (
        None if any(u is None for u in untils) else max(u for u in untils if u is not None)
    )
    for command in commands:
        control = command.control
        if isinstance(control, SetpointCommand):
            row.update(setpoint_w=control.p_w, setpoint_var=control.q_var)
        elif isinstance(control, LimitCommand):
            row.update(max_import_w=control.max_import_w, max_export_w=control.max_export_w)
        elif isinstance(control, DroopCommand):
            row["armed"] = {"kind": "droop", **control._asdict()}
        elif isinstance(control, FfrCommand):
            row["armed"] = {"kind": "ffr", **control._asdict()}
    return row


def _layer(fs_pk: int, row: dict[str, Any]) -> Layer:
    armed = None
    if row["armed"] is not None:
        params = {k: v for k, v in row["armed"].items() if k != "kind"}
        armed = ArmedLayer(str(row["armed"]["kind"]), params)
    return Layer(
        fs_pk=fs_pk,
        fs_id=row["fs_id"],
        evse_id=row["evse_id"],
        priority=row["priority"],
        setpoint_w=row["setpoint_w"],
        setpoint_var=row["setpoint_var"],
        max_import_w=row["max_import_w"],
        max_export_w=row["max_export_w"],
        armed=armed,
        valid_until=row["valid_until"],
    )


def _stored(row: ControlLayerRow) -> Layer:
    columns = ("fs_id", "evse_id", "priority", "setpoint_w", "setpoint_var")
    values = {c: getattr(row, c) for c in columns}
    values.update(
        max_import_w=row.max_import_w,
        max_export_w=row.max_export_w,
        armed=row.armed,
        valid_until=row.valid_until,
    )
    return _layer(row.fs_pk, values)


def _armed_control(armed: ArmedLayer) -> DroopCommand | FfrCommand:
    params: dict[str, Any] = {k: as_tuples(v) for k, v in armed.params.items()}
    if armed.kind == "droop":
        return DroopCommand(**params)
    return FfrCommand(**params)


def composed_commands(composed: Composed) -> list[Command]:
    """The adapter commands of one EVSE's composed command (none when nothing is asked)."""
    target = ControlTarget(ControlLevel.EVSE, composed.evse_id)
    commands: list[Command] = []
    if composed.limit is not None:
        limit = LimitCommand(*composed.limit)
        commands.append(Command(target, limit, composed.limit_fs_id, composed.limit_until))
    if composed.setpoint_w is not None:
        setpoint = SetpointCommand(composed.setpoint_w, composed.setpoint_var)
        commands.append(Command(target, setpoint, composed.setpoint_fs_id, composed.setpoint_until))
    if composed.armed is not None:
        armed = _armed_control(composed.armed)
        commands.append(Command(target, armed, composed.armed_fs_id, composed.armed_until))
    return commands


def _kinds(composed: Composed | None) -> set[str]:
    if composed is None:
        return set()
    kinds = set()
    if composed.limit is not None:
        kinds.add("limit")
    if composed.setpoint_w is not None:
        kinds.add("setpoint")
    if composed.armed is not None:
        kinds.add(composed.armed.kind)
    return kinds


async def _bounds(
    session: AsyncSession,
    adapter: StationAdapter,
    evse_ids: Iterable[str],
    site_ids: Iterable[str],
) -> tuple[dict[str, EvseBound], dict[str, SiteBound]]:
    """The EVSEs' and sites' bounds from the registry; the rest of each site's connection
    (load, PV) from its meter where this replica reaches the stations (else 0)."""
    evses = {
        evse_id: EvseBound(evse_id, site_id, max_import_w=imp, max_export_w=exp)
        for evse_id, (site_id, imp, exp) in (await evse_sites(session, evse_ids)).items()
    }
    limits = await site_bounds(session, site_ids)
    other: dict[str, float] = {}
    if limits and holds_stations(adapter):
        targets = [ControlTarget(ControlLevel.SITE, site_id) for site_id in sorted(limits)]
        other = {
            s.target.id: s.other_w
            for s in await adapter.read_state(targets)
            if s.other_w is not None
        }
    sites = {
        site_id: SiteBound(site_id, imp, exp, other.get(site_id, 0.0))
        for site_id, (imp, exp) in limits.items()
    }
    return evses, sites


async def set_fs_layers(
    session: AsyncSession,
    adapter: StationAdapter,
    fs: FlexibilityServiceRow,
    commands: Sequence[Command],
    now: datetime,
) -> Delivery:
    """The FS's layers become exactly `commands` (EVSE commands; none: the FS asks nothing any
    more); the sites touched are composed again and the changes delivered. Returns the
    commands delivered, the stations' answers (a refusal is an FS deviation; none while
    queued for the station replica) and the station command."""
    before = await sites_of_fs_layers(session, fs.id)
    by_evse: dict[str, list[Command]] = {}
    for command in commands:
        if command.target.level is ControlLevel.EVSE and not isinstance(
            command.control, ClearCommand
        ):
            by_evse.setdefault(command.target.id, []).append(command)
    registry = await evse_sites(session, by_evse)
    sites_of_new = {e: registry[e][0] if e in registry else _UNKNOWN_SITE for e in by_evse}
    site_ids = set(before.values()) | set(sites_of_new.values())
    await lock_sites(session, site_ids - {_UNKNOWN_SITE})
    old_rows = await layers_on_sites(session, site_ids)
    old_layers = [_stored(r) for r in old_rows]
    new_rows = [
        _layer_row(fs, evse_id, sites_of_new[evse_id], cmds, now)
        for evse_id, cmds in sorted(by_evse.items())
    ]
    await replace_layers(session, fs.id, None, new_rows)
    new_layers = [x for x in old_layers if x.fs_pk != fs.id] + [
        _layer(fs.id, row) for row in new_rows
    ]
    own = set(before) | set(by_evse)
    every = {x.evse_id for x in old_layers} | own
    evses, sites = await _bounds(session, adapter, every, site_ids - {_UNKNOWN_SITE})
    old = compose(old_layers, evses, sites, now)
    new = compose(new_layers, evses, sites, now, own)
    out: list[Command] = []
    for evse_id in sorted(set(old) | set(new)):
        was, now_is = old.get(evse_id), new.get(evse_id)
        if evse_id not in own and was == now_is:
            continue
        target = ControlTarget(ControlLevel.EVSE, evse_id)
        if now_is is None or now_is.empty:
            if (was is not None and not was.empty) or evse_id in own:
                out.append(Command(target, ClearCommand(), fs_id=fs.fs_id))
            continue
        if _kinds(was) - _kinds(now_is):
            out.append(Command(target, ClearCommand(), fs_id=fs.fs_id))
        out.extend(composed_commands(now_is))
    return await deliver(session, adapter, fs, out, now)


async def lock_fs_sites(session: AsyncSession, fs_list: Iterable[FlexibilityServiceRow]) -> None:
    """Lock, at once and in order, every site the FS of a pass may compose: a step that
    handles several FS then never waits for a site while holding another (no deadlock with a
    request or a replica composing the same sites)."""
    await lock_sites(session, await sites_of_fs(session, [fs.id for fs in fs_list]))


async def release_fs(
    session: AsyncSession, adapter: StationAdapter, fs: FlexibilityServiceRow, now: datetime
) -> Delivery:
    """Remove the FS's layers: its EVSEs keep what the other FS ask, or return to unmanaged
    charging when nothing else is asked of them."""
    return await set_fs_layers(session, adapter, fs, [], now)
