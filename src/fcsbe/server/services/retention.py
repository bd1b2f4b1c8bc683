"""Retention: how long each category of data is kept, and the purge that applies it.

- meter readings (raw telemetry, with the SoC of connected EVs): `retention_meter_readings_days`
  after they were taken; the readings an FS not yet recorded still needs are kept;
- ended EV sessions, and the per-session consents only they used: `retention_sessions_days` after
  the EV left (pseudonymous personal data, needed only to steer and explain recent sessions);
- detailed service records and proofs of work: `retention_records_days` (the settlement period),
  or the contract's `retention_days` when longer; a DISPUTED FS keeps them until settled;
- the event log: for good. It holds pseudonyms and ids only, and deleting entries would break
  the hash chain every proof of work relies on.

`purge` deletes one bounded batch of each (the retention worker's step, and `fcsbe admin retention
purge`, which repeats it until nothing is left). The event log records each purge with its
counts, so the deletion itself is auditable.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from fcsbe.model import FsState
from fcsbe.server.services.event_log.log import append_event
from fcsbe.server.settings import Settings
from fcsbe.server.storage import retention as store

__all__ = [
    "STATION_CONSENT_PREFIX",
    "PurgeCounts",
    "RetentionPolicy",
    "purge",
    "purge_all",
]

STATION_CONSENT_PREFIX = "cns_"
"""Ids of the consents stations report with one session (`Pseudonymizer.consent_id`)."""

_AWAITING_RECORD = frozenset(
    {
        FsState.RECEIVED,
        FsState.ACCEPTED,
        FsState.PARTIALLY_ACCEPTED,
        FsState.SCHEDULED,
        FsState.ARMED,
        FsState.ACTIVE,
        FsState.COMPLETED,
        FsState.ABORTED,
        FsState.CANCELLED,
    }
)
"""States of an FS whose record is still to be made from the meter readings."""

_DISPUTED = frozenset({FsState.DISPUTED})
"""States whose record and proof stay whatever their age (the dispute is open)."""


@dataclass(frozen=True)
class RetentionPolicy:
    """How long each category is kept (see the module docstring)."""

    meter_readings_days: int = 90
    sessions_days: int = 30
    records_days: int = 730
    batch_size: int = 5_000

    @classmethod
    def from_settings(cls, settings: Settings) -> RetentionPolicy:
        return cls(
            meter_readings_days=settings.retention_meter_readings_days,
            sessions_days=settings.retention_sessions_days,
            records_days=settings.retention_records_days,
            batch_size=settings.retention_batch_size,
        )


@dataclass
class PurgeCounts:
    """Rows deleted, per kind."""

    meter_readings: int = 0
    sessions: int = 0
    consents: int = 0
    records: int = 0
    proofs: int = 0

    @property
    def total(self) -> int:
        return sum(asdict(self).values())

    def add(self, other: PurgeCounts) -> None:
        for name, value in asdict(other).items():
            setattr(self, name, getattr(self, name) + value)


async def _readings(db: AsyncSession, policy: RetentionPolicy, now: datetime) -> int:
    cutoff = now - timedelta(days=policy.meter_readings_days)
    needed = await store.earliest_needed_reading(db, _AWAITING_RECORD, cutoff)
    if needed is not None:
        cutoff = min(cutoff, needed)
    return await store.delete_readings_before(db, cutoff, policy.batch_size)


async def _records(db: AsyncSession, policy: RetentionPolicy, now: datetime) -> tuple[int, int]:
    shortest = now - timedelta(days=policy.records_days)
    records = proofs = 0
    for contract_id, days in await store.record_contracts_before(db, shortest, _DISPUTED):
        cutoff = now - timedelta(days=max(policy.records_days, days or 0))
        left = policy.batch_size - records
        if left <= 0:
            break
        done, gone = await store.delete_records(db, contract_id, cutoff, _DISPUTED, left)
        records, proofs = records + done, proofs + gone
    return records, proofs


async def purge(db: AsyncSession, policy: RetentionPolicy, now: datetime) -> PurgeCounts:
    """Delete one batch of each category past its retention (in the caller's transaction)."""
    counts = PurgeCounts(meter_readings=await _readings(db, policy, now))
    sessions_cutoff = now - timedelta(days=policy.sessions_days)
    counts.sessions, consents = await store.delete_ended_sessions(
        db, sessions_cutoff, policy.batch_size
    )
    counts.consents = await store.delete_orphan_consents(db, consents, STATION_CONSENT_PREFIX)
    counts.records, counts.proofs = await _records(db, policy, now)
    if counts.total:
        await append_event(
            db,
            type="RETENTION_PURGED",
            object_ref="retention",
            summary=f"retention purge: {counts.total} row(s) past their retention deleted",
            payload=asdict(counts),
        )
    return counts


async def purge_all(db: AsyncSession, policy: RetentionPolicy, now: datetime) -> PurgeCounts:
    """`purge` until nothing is left (one transaction: the admin command's)."""
    counts = PurgeCounts()
    while True:
        batch = await purge(db, policy, now)
        if batch.total == 0:
            return counts
        counts.add(batch)
