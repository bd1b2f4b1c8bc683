"""Deleting what is kept no longer: meter readings, ended EV sessions and their consents, and
settled service records with their proofs. The rules are `services.retention`'s; this module only
selects and deletes, one bounded batch per call, oldest first.

Deletes go by primary key from a limited select, which both backends run the same way (neither
SQLite nor PostgreSQL take `DELETE ... LIMIT`). Proofs are deleted before their records because
SQLite does not cascade without `PRAGMA foreign_keys`.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy import delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from fcsbe.server.storage.contracts import ContractRow
from fcsbe.server.storage.flexibility_services import FlexibilityServiceRow
from fcsbe.server.storage.infrastructure import ConsentRow, EvSessionRow
from fcsbe.server.storage.measurements import MeterReadingRow
from fcsbe.server.storage.records import ProofOfWorkRow, ServiceRecordRow
from fcsbe.server.storage.registry import chunked

__all__ = [
    "delete_ended_sessions",
    "delete_orphan_consents",
    "delete_readings_before",
    "delete_records",
    "earliest_needed_reading",
    "record_contracts_before",
]


async def earliest_needed_reading(
    session: AsyncSession, states: Collection[str], ended_after: datetime
) -> datetime | None:
    """Start of the earliest window of an FS in `states` (not yet recorded) that ended after
    `ended_after` or has not ended: its record will still read the meters from there."""
    statement = select(func.min(FlexibilityServiceRow.window_start)).where(
        FlexibilityServiceRow.state.in_(list(states)),
        FlexibilityServiceRow.window_end >= ended_after,
    )
    found: datetime | None = (await session.execute(statement)).scalar_one_or_none()
    return found


async def delete_readings_before(session: AsyncSession, cutoff: datetime, limit: int) -> int:
    """Delete up to `limit` meter readings taken before `cutoff`; returns how many."""
    ids = list(
        await session.scalars(
            select(MeterReadingRow.id)
            .where(MeterReadingRow.at < cutoff)
            .order_by(MeterReadingRow.id)
            .limit(limit)
        )
    )
    for batch in chunked(ids):
        await session.execute(delete(MeterReadingRow).where(MeterReadingRow.id.in_(batch)))
    return len(ids)


async def delete_ended_sessions(
    session: AsyncSession, cutoff: datetime, limit: int
) -> tuple[int, set[str]]:
    """Delete up to `limit` EV sessions that ended before `cutoff`; returns how many, and the
    consents they referred to (for `delete_orphan_consents`)."""
    found = (
        await session.execute(
            select(EvSessionRow.session_ref, EvSessionRow.consent_id)
            .where(EvSessionRow.disconnected_at < cutoff)
            .order_by(EvSessionRow.disconnected_at, EvSessionRow.session_ref)
            .limit(limit)
        )
    ).all()
    refs = [ref for ref, _ in found]
    for batch in chunked(refs):
        await session.execute(delete(EvSessionRow).where(EvSessionRow.session_ref.in_(batch)))
    return len(refs), {consent for _, consent in found if consent is not None}


async def delete_orphan_consents(
    session: AsyncSession, consent_ids: Collection[str], per_session_prefix: str
) -> int:
    """Delete those of `consent_ids` that no stored session refers to any more and that were
    either recorded for one session (`per_session_prefix`) or withdrawn; returns how many.

    A standing consent the EV user gave (and has not withdrawn) is never deleted here."""
    if not consent_ids:
        return 0
    used: set[str] = set()
    for batch in chunked(sorted(consent_ids)):
        used.update(
            c
            for c in await session.scalars(
                select(EvSessionRow.consent_id).where(EvSessionRow.consent_id.in_(batch))
            )
            if c is not None
        )
    orphans = sorted(set(consent_ids) - used)
    deleted = 0
    for batch in chunked(orphans):
        result = await session.execute(
            delete(ConsentRow).where(
                ConsentRow.consent_id.in_(batch),
                or_(
                    ConsentRow.consent_id.startswith(per_session_prefix, autoescape=True),
                    ConsentRow.withdrawn_at.is_not(None),
                ),
            )
        )
        deleted += int(getattr(result, "rowcount", 0) or 0)
    return deleted


async def record_contracts_before(
    session: AsyncSession, cutoff: datetime, kept_states: Collection[str]
) -> list[tuple[int | None, int | None]]:
    """The contracts (primary key, `retention_days` of their terms) of the FS that have a record
    made before `cutoff` and are not in `kept_states`; None when an FS has no contract."""
    statement = (
        select(FlexibilityServiceRow.contract_id, ContractRow.terms)
        .join(ServiceRecordRow, ServiceRecordRow.fs_pk == FlexibilityServiceRow.id)
        .outerjoin(ContractRow, ContractRow.id == FlexibilityServiceRow.contract_id)
        .where(
            ServiceRecordRow.created_at < cutoff,
            FlexibilityServiceRow.state.not_in(list(kept_states)),
        )
        .distinct()
    )
    found: dict[int | None, int | None] = {}
    for contract_id, terms in (await session.execute(statement)).all():
        days = (terms or {}).get("retention_days")
        found[contract_id] = days if isinstance(days, int) else None
    return sorted(found.items(), key=lambda item: (item[0] is None, item[0] or 0))


async def delete_records(
    session: AsyncSession,
    contract_id: int | None,
    cutoff: datetime,
    kept_states: Collection[str],
    limit: int,
) -> tuple[int, int]:
    """Delete up to `limit` records made before `cutoff` of the FS of one contract (None: of
    FS without one) that are not in `kept_states`, with their proofs; returns (records,
    proofs)."""
    of_contract = (
        FlexibilityServiceRow.contract_id.is_(None)
        if contract_id is None
        else FlexibilityServiceRow.contract_id == contract_id
    )
    ids: Sequence[int] = list(
        await session.scalars(
            select(ServiceRecordRow.id)
            .join(FlexibilityServiceRow, FlexibilityServiceRow.id == ServiceRecordRow.fs_pk)
            .where(
                of_contract,
                ServiceRecordRow.created_at < cutoff,
                FlexibilityServiceRow.state.not_in(list(kept_states)),
            )
            .order_by(ServiceRecordRow.id)
            .limit(limit)
        )
    )
    proofs = 0
    for batch in chunked(ids):
        result = await session.execute(
            delete(ProofOfWorkRow).where(ProofOfWorkRow.record_id.in_(batch))
        )
        proofs += int(getattr(result, "rowcount", 0) or 0)
        await session.execute(delete(ServiceRecordRow).where(ServiceRecordRow.id.in_(batch)))
    return len(ids), proofs
