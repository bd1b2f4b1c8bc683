"""`UnconnectedStations`: the adapter in force when no station connection is configured.

With the simulator switched off and no OCPP adapter installed, the registry can still be loaded
and read, but nothing reaches a station: every command is refused with a reason (so an FS is
never reported as executed when it was not), and no session or reading ever arrives.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from fcsbe.server.adapters.base import (
    ApplyResult,
    Command,
    ControlTarget,
    FfrEvidence,
    MeterSample,
    SessionPreferences,
    StationEvent,
    StationSession,
    TargetState,
)

__all__ = ["UnconnectedStations"]

_REASON = "no station connection is configured (FCSBE_SIMULATOR_ENABLED=false, no adapter)"


class UnconnectedStations:
    """A `StationAdapter` with no stations behind it."""

    name = "none"
    telemetry_interval_s = 60
    holds_stations = False
    """No station is reached through it: station commands wait in the queue for the replica
    that holds them (a subclass that does reach stations says True)."""

    def now(self) -> datetime:
        """The wall clock."""
        return datetime.now(UTC)

    async def start(self) -> None:
        """Nothing to connect to."""

    async def stop(self) -> None:
        """Nothing to disconnect."""

    async def apply(self, command: Command) -> ApplyResult:
        """Refuse: no station would receive it."""
        return ApplyResult(command.target, accepted=False, reason=_REASON)

    async def apply_many(self, commands: Sequence[Command]) -> list[ApplyResult]:
        """Refuse every command."""
        return [ApplyResult(c.target, accepted=False, reason=_REASON) for c in commands]

    async def read_state(self, targets: Sequence[ControlTarget]) -> list[TargetState]:
        """No target is reachable, so none has a state."""
        return []

    async def sessions(self) -> list[StationSession]:
        """No EV can be connected."""
        return []

    async def update_session(self, session_key: str, preferences: SessionPreferences) -> bool:
        """No session is connected, so none can change."""
        return False

    async def drain_measurements(self) -> list[MeterSample]:
        """No meter reports."""
        return []

    async def drain_ffr_evidence(self) -> list[FfrEvidence]:
        """No FFR can run."""
        return []

    async def drain_events(self) -> list[StationEvent]:
        """No station reports."""
        return []
