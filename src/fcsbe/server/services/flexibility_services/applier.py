"""The station replica's applier: the commands other replicas queued reach the stations.

One step: claim due PENDING commands (a lease; `SKIP LOCKED` on PostgreSQL) and commit the
claim; then, per command in order:

- concrete commands (`EVSE`, composed by the replica that queued them): read them (a read-only
  transaction), apply them through the adapter with no transaction open, and record the outcome
  in a new transaction;
- intents (a setpoint to split, a fallback's shares): in one transaction, expand them with the
  stations' live state into the FS's layer, compose it with the other FS's layers and apply the
  result (`dispatch.apply_intent`), and record the outcome; the layer and the outcome commit
  together.
 A command whose application raised is tried again with exponential backoff, and
reported FAILED with the reason after `MAX_ATTEMPTS`; a command that lost its lease (the replica
died mid-apply) is claimed again when the lease runs out. Nothing is dropped silently (R11).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from fcsbe.server.adapters.base import ApplyResult, Command, StationAdapter

# The modules that own intents register their expanders when imported.
from fcsbe.server.services.flexibility_services import control as _control  # noqa: F401
from fcsbe.server.services.flexibility_services import fallback as _fallback  # noqa: F401
from fcsbe.server.services.flexibility_services.commands import EVSE, expand, outcome
from fcsbe.server.services.flexibility_services.deviation import (
    DeviationPolicy,
    note_command_results,
)
from fcsbe.server.services.flexibility_services.dispatch import apply_intent
from fcsbe.server.storage.flexibility_services import FlexibilityServiceRow
from fcsbe.server.storage.station_commands import (
    StationCommandRow,
    claim_due_commands,
    purge_completed_commands,
)

__all__ = ["LEASE_S", "MAX_ATTEMPTS", "CommandApplier"]

log = logging.getLogger(__name__)

LEASE_S = 30.0
"""How long a claimed command is reserved for the replica that claimed it."""
MAX_ATTEMPTS = 6
"""Attempts before a command whose application keeps raising is reported FAILED."""
KEEP_COMPLETED = timedelta(days=7)
"""How long applied and failed commands stay readable."""


class CommandApplier:
    """Applies queued station commands through `adapter` (the replica that holds stations)."""

    def __init__(
        self,
        factory: async_sessionmaker[AsyncSession],
        adapter: StationAdapter,
        clock: Callable[[], datetime] | None = None,
        batch: int = 50,
        host_id: str | None = None,
        deviation: DeviationPolicy | None = None,
    ) -> None:
        self.factory = factory
        self.adapter = adapter
        self.clock = clock or adapter.now
        self.batch = batch
        self.host_id = host_id
        self.deviation = deviation or DeviationPolicy()
        """With several replicas holding stations (OCPP): this replica, whose leases decide
        which station-bound commands it claims."""

    async def step(self) -> int:
        """Claim, apply and record one batch; returns how many commands were handled."""
        async with self.factory() as session:
            claimed = [
                row.id
                for row in await claim_due_commands(
                    session, self.clock(), LEASE_S, self.batch, host_id=self.host_id
                )
            ]
            await purge_completed_commands(session, self.clock() - KEEP_COMPLETED, self.batch)
            await session.commit()
        for row_id in claimed:
            await self._apply(row_id)
        return len(claimed)

    async def _apply(self, row_id: int) -> None:
        now = self.clock()
        try:
            if await self._apply_intent(row_id, now):
                return
            async with self.factory() as session:
                row = await session.get(StationCommandRow, row_id)
                if row is None or row.state != "PENDING":
                    return
                station_id = row.station_id
                holds = getattr(self.adapter, "holds", None)
                if station_id is not None and holds is not None and not holds(station_id):
                    # the station left this replica since the claim: whoever holds it next
                    row.claimed_until, row.next_attempt_at = None, now
                    row.attempts = max(0, row.attempts - 1)
                    await session.commit()
                    return
                fs = await session.get(FlexibilityServiceRow, row.fs_pk) if row.fs_pk else None
                expanded = await expand(session, self.adapter, row, fs, now)
                await session.rollback()  # read only: nothing is held while the stations work
            reason: str | None
            results: list[ApplyResult] = []
            if isinstance(expanded, str):
                state, applied, reason = "FAILED", 0, expanded
            else:
                results = await self.adapter.apply_many(expanded) if expanded else []
                state, applied, reason = outcome(results)
        except Exception as exc:
            log.warning("station command %s failed: %s", row_id, exc)
            await self._retry(row_id, f"{exc.__class__.__name__}: {exc}")
            return
        async with self.factory() as session:
            row = await session.get(StationCommandRow, row_id)
            if row is not None and row.state == "PENDING":
                row.state, row.applied_evses, row.reason = state, applied, reason
                row.completed_at, row.claimed_until = self.clock(), None
                if row.station_id is not None and row.fs_pk and not isinstance(expanded, str):
                    await self._note_refusals(session, row.fs_pk, expanded, results)
                await session.commit()

    async def _note_refusals(
        self,
        session: AsyncSession,
        fs_pk: int,
        commands: list[Command],
        results: list[ApplyResult],
    ) -> None:
        """A station-bound command (applied here for the replica that queued it) that a
        station refused is an FS deviation, as it is where commands are applied at once."""
        fs = await session.get(FlexibilityServiceRow, fs_pk)
        if fs is not None and commands:
            await note_command_results(
                session, self.adapter, fs, commands, results, None, self.clock(), self.deviation
            )

    async def _apply_intent(self, row_id: int, now: datetime) -> bool:
        """Expand, compose, apply and record an intent in one transaction (False: the row is
        concrete commands, applied by `_apply`)."""
        async with self.factory() as session:
            row = await session.get(StationCommandRow, row_id)
            if row is None or row.kind == EVSE:
                return False
            if row.state != "PENDING":
                return True
            fs = (
                await session.get(FlexibilityServiceRow, row.fs_pk, with_for_update=True)
                if row.fs_pk
                else None
            )
            await apply_intent(session, self.adapter, row, fs, now)
            await session.commit()
        return True

    async def _retry(self, row_id: int, reason: str) -> None:
        async with self.factory() as session:
            row = await session.get(StationCommandRow, row_id)
            if row is None or row.state != "PENDING":
                return
            row.reason, row.claimed_until = reason, None
            if row.attempts >= MAX_ATTEMPTS:
                row.state, row.completed_at, row.applied_evses = "FAILED", self.clock(), 0
            else:
                row.next_attempt_at = self.clock() + timedelta(seconds=2**row.attempts)
            await session.commit()
