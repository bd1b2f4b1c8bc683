"""Station commands: the one way a change of station state leaves the server (R11).

Every service that changes what the stations do (execution, setpoints, activations, fallback,
the release of an ended FS) sets its FS's layer of the control stack (`dispatch.py`), whose
composed commands reach `enqueue` through `dispatch.deliver`, or queues an intent
(`dispatch.send_intent`), in the transaction of the FS change it serves. `enqueue` writes a
durable `station_commands` row, so the change and its command commit together or not at all.
Then:

- on the replica that holds the stations (its adapter is connected), the command is applied at
  once and its outcome is written on the row before the commit: the caller knows what happened
  (a route answers 200, as it always did);
- on a replica without stations the row stays PENDING and every replica's loops are woken at
  commit (`NOTIFY fcsbe_work`); the applier of the station replica (`applier.py`) claims it,
  commits the claim, applies it and records APPLIED or FAILED with the reason. A route answers
  202 with the command id, and `GET …/commands/{command_id}` tells the outcome.

A command is either concrete (`EVSE`: the composed commands of the control stack, worked out by
`dispatch.set_fs_layers` and handed here by `dispatch.deliver`) or an intent that only the
station replica can turn into the FS's layer, because it needs the stations' live state
(`SETPOINT`, `SAFE_LIMIT`, `HOLD_LAST`). Each intent has an expander, registered by the module
that owns it (`expander`); an expander may find the command obsolete (a newer setpoint, the FS
ended) and say why, which is recorded as the command's failure reason. What an expander returns
is the FS's layer: `dispatch.apply_intent` composes it with every other FS's layers before
anything reaches a station, so an intent never bypasses the control stack.

Adapter commands are idempotent (a command applied twice leaves the same state), so a command
applied again after a crash between apply and record has the effect of applying it once.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from fcsbe.model import StationCommand, StationCommandState
from fcsbe.server.adapters.base import (
    ApplyResult,
    ClearCommand,
    Command,
    Control,
    ControlLevel,
    ControlTarget,
    DroopCommand,
    FfrCommand,
    LimitCommand,
    SetpointCommand,
    StationAdapter,
    as_tuples,
)
from fcsbe.server.errors import NotFound
from fcsbe.server.storage.flexibility_services import FlexibilityServiceRow
from fcsbe.server.storage.station_commands import StationCommandRow, command_by_id
from fcsbe.server.storage.wakeup import wake_workers

__all__ = [
    "EVSE",
    "Expander",
    "command_docs",
    "commands_of",
    "enqueue",
    "expand",
    "expander",
    "holds_stations",
    "outcome",
    "read_command",
    "to_model",
]

EVSE = "EVSE"
"""The kind of a concrete command: adapter commands in `payload["commands"]`."""

Expander = Callable[
    [AsyncSession, StationAdapter, FlexibilityServiceRow, Mapping[str, Any], datetime],
    Awaitable[list[Command] | str],
]
"""Turns an intent into adapter commands with the stations' live state, or says why not."""

_EXPANDERS: dict[str, Expander] = {}
_CONTROLS: dict[str, type[Control]] = {
    cls.__name__: cls
    for cls in (SetpointCommand, LimitCommand, DroopCommand, FfrCommand, ClearCommand)
}


def expander(kind: str) -> Callable[[Expander], Expander]:
    """Register the expander of the intent `kind` (at import of the module that owns it)."""

    def register(function: Expander) -> Expander:
        _EXPANDERS[kind] = function
        return function

    return register


def holds_stations(adapter: StationAdapter) -> bool:
    """Whether this replica reaches stations through `adapter` (else it only enqueues)."""
    return bool(getattr(adapter, "holds_stations", True))


def command_docs(commands: Sequence[Command]) -> list[dict[str, Any]]:
    """Adapter commands as JSON documents (the payload of an `EVSE` command)."""
    return [
        {
            "level": c.target.level.value,
            "target": c.target.id,
            "control": type(c.control).__name__,
            "args": list(c.control),
            "fs_id": c.fs_id,
            "valid_until": c.valid_until.isoformat() if c.valid_until else None,
        }
        for c in commands
    ]


def commands_of(docs: Sequence[Mapping[str, Any]]) -> list[Command]:
    """The adapter commands of `command_docs`."""
    return [
        Command(
            ControlTarget(ControlLevel(d["level"]), d["target"]),
            _CONTROLS[d["control"]](*(as_tuples(a) for a in d["args"])),
            fs_id=d["fs_id"],
            valid_until=datetime.fromisoformat(d["valid_until"]) if d["valid_until"] else None,
        )
        for d in docs
    ]


async def expand(
    session: AsyncSession,
    adapter: StationAdapter,
    row: StationCommandRow,
    fs: FlexibilityServiceRow | None,
    now: datetime,
) -> list[Command] | str:
    """The adapter commands of `row` now, or the reason it must not be applied."""
    if row.kind == EVSE:
        commands = commands_of(row.payload["commands"])
        live = [
            c
            for c in commands
            if isinstance(c.control, ClearCommand) or c.valid_until is None or c.valid_until > now
        ]
        if commands and not live:
            return "expired before it reached the stations"
        return live
    function = _EXPANDERS.get(row.kind)
    if function is None:
        return f"unknown command kind {row.kind}"
    if fs is None:
        return "the FS no longer exists"
    return await function(session, adapter, fs, row.payload, now)


def outcome(results: Sequence[ApplyResult]) -> tuple[str, int, str | None]:
    """State, EVSEs that took the command, and the reason of any refusal."""
    accepted = sum(1 for r in results if r.accepted)
    refused = [r for r in results if not r.accepted]
    if not refused:
        return "APPLIED", accepted, None
    reason = f"{len(refused)} of {len(results)} refused: {refused[0].reason or 'no reason'}"
    return ("APPLIED" if accepted else "FAILED"), accepted, reason


async def enqueue(
    session: AsyncSession,
    adapter: StationAdapter,
    fs: FlexibilityServiceRow | None,
    now: datetime,
    *,
    commands: Sequence[Command] = (),
    kind: str = EVSE,
    payload: Mapping[str, Any] | None = None,
) -> tuple[StationCommandRow, list[ApplyResult]]:
    """Write a station command in the caller's transaction; apply concrete commands at once
    when this replica holds the stations, else leave them to the station replica's applier
    (see the module doc). Returns the row and the stations' answers (none when queued).

    `commands`: concrete adapter commands (kind `EVSE`); or `kind` and `payload`: an intent,
    which is only written here (`dispatch.send_intent` applies it where the stations are).
    """
    splitter = getattr(adapter, "split", None)
    if kind == EVSE and splitter is not None and holds_stations(adapter):
        # Stations held by other replicas (OCPP): their commands are queued apart, each row
        # bound to its station, for the replica that holds it to apply.
        parts: dict[str | None, list[Command]] = splitter(commands)
        local = parts.pop(None, [])
        queued = [
            _row(fs, now, kind, {"commands": command_docs(part)}, station_id)
            for station_id, part in parts.items()
        ]
        for remote in queued:
            session.add(remote)
        if queued:
            await wake_workers(session)
            if not local:
                return queued[0], []
        commands = local
    document = dict(payload or {})
    if kind == EVSE:
        document["commands"] = command_docs(commands)
    row = _row(fs, now, kind, document, None)
    session.add(row)
    if not holds_stations(adapter):
        await wake_workers(session)
        return row, []
    if kind != EVSE:
        return row, []
    row.attempts = 1
    expanded = await expand(session, adapter, row, fs, now)
    results: list[ApplyResult] = []
    if isinstance(expanded, str):
        row.state, row.reason, row.applied_evses = "FAILED", expanded, 0
    else:
        results = await adapter.apply_many(expanded) if expanded else []
        row.state, row.applied_evses, row.reason = outcome(results)
    row.completed_at = now
    return row, results


def _row(
    fs: FlexibilityServiceRow | None,
    now: datetime,
    kind: str,
    document: dict[str, Any],
    station_id: str | None,
) -> StationCommandRow:
    """A PENDING command of `fs` (None: not on behalf of an FS), due now; bound to the replica
    holding `station_id` when given, else for whichever replica takes it."""
    return StationCommandRow(
        command_id=str(uuid.uuid4()),
        fs_pk=fs.id if fs is not None else None,
        fo_party_id=fs.fo_party_id if fs is not None else None,
        fs_id=fs.fs_id if fs is not None else None,
        kind=kind,
        payload=document,
        state="PENDING",
        attempts=0,
        next_attempt_at=now,
        created_at=now,
        station_id=station_id,
    )


def to_model(row: StationCommandRow) -> StationCommand:
    """The wire form of a station command."""
    return StationCommand(
        command_id=row.command_id,
        fs_id=row.fs_id,
        kind=row.kind,
        state=StationCommandState(row.state),
        attempts=row.attempts,
        applied_evses=row.applied_evses,
        reason=row.reason,
        created_at=row.created_at,
        completed_at=row.completed_at,
    )


async def read_command(
    session: AsyncSession, fs: FlexibilityServiceRow, command_id: str
) -> StationCommand:
    """A station command of `fs` (which the caller may see); NotFound for any other."""
    row = await command_by_id(session, command_id)
    if row is None or row.fs_pk != fs.id:
        raise NotFound(f"No station command {command_id} for FS {fs.fs_id}.")
    return to_model(row)
