"""A command for the charging stations, as the FO can follow it.

A setpoint or a reserve activation sent to a server replica that does not hold the station
connection is queued (HTTP 202) for the replica that does; `StationCommand` tells whether it
reached the stations: PENDING until it is applied or has failed, with the reason.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from fcsbe.model.base import Id, OutputModel, UtcDateTime

__all__ = ["StationCommand", "StationCommandState"]


class StationCommandState(StrEnum):
    """What became of a station command."""

    PENDING = "PENDING"
    """Queued for the replica that holds the stations (retried with backoff on errors)."""
    APPLIED = "APPLIED"
    """The stations took it (`applied_evses` of them; `reason` names any refusal)."""
    FAILED = "FAILED"
    """It did not reach the stations, or they refused it; `reason` says why."""


class StationCommand(OutputModel):
    """A station command of an FS and its outcome."""

    command_id: str = Field(max_length=36, description="Id of the command (a UUID).")
    fs_id: Id | None = Field(default=None, description="The FS it serves.")
    kind: str = Field(
        max_length=32, description="What it does: SETPOINT, EVSE (concrete commands), ..."
    )
    state: StationCommandState = Field(description="PENDING, APPLIED or FAILED.")
    attempts: int = Field(ge=0, description="Times it was handed to the stations.")
    applied_evses: int | None = Field(
        default=None, ge=0, description="EVSEs that took it; null while PENDING."
    )
    reason: str | None = Field(
        default=None, max_length=2000, description="Why it failed or was partly refused."
    )
    created_at: UtcDateTime = Field(description="When a replica accepted it.")
    completed_at: UtcDateTime | None = Field(
        default=None, description="When it was applied or given up; null while PENDING."
    )
