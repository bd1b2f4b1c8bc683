"""The operator's side of contracts (UC 3.3): decisions on revisions, and the end of validity.

The operator accepts or rejects the pending revision (accepting re-checks the terms against the
FO's other live contracts, which may have changed since the proposal), suspends an active
contract, and resumes it with ACCEPT. Contracts past their end are closed by a worker step. Every
change is an event-log entry and a CONTRACT_CHANGED notification (`contracts.record_change`).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from fcsbe.model import (
    ContractDecision,
    ContractDecisionKind,
    ContractStatus,
    ContractTerms,
    FlexibilityServiceContract,
    RevisionStatus,
)
from fcsbe.server.errors import Conflict
from fcsbe.server.security.principal import Principal
from fcsbe.server.services.contracts.contracts import (
    apply_terms,
    close_contract,
    contract_model,
    contract_not_found,
    model_with_revisions,
    record_change,
)
from fcsbe.server.services.contracts.terms import check_terms, effective_end
from fcsbe.server.storage.contracts import (
    LIVE_STATUSES,
    ContractRow,
    contracts_due_to_close,
    find_contracts,
    replace_targets,
    revisions_of,
)

__all__ = ["close_due_contracts", "decide", "load_contract_of"]


async def load_contract_of(
    session: AsyncSession, principal: Principal, fsc_id: str, fo_party_id: str | None
) -> FlexibilityServiceContract:
    """One contract by id for the operator (who may need `fo_party_id` to pick it)."""
    return await model_with_revisions(
        session, await _the_contract(session, principal, fsc_id, fo_party_id)
    )


async def close_due_contracts(session: AsyncSession, now: datetime) -> int:
    """Worker step: contracts past their end become EXPIRED, or TERMINATED when a scheduled
    termination came first. Returns how many were closed."""
    rows = await contracts_due_to_close(session, now)
    for row in rows:
        terminated = row.ends_at is not None and row.ends_at < row.valid_to
        status = ContractStatus.TERMINATED if terminated else ContractStatus.EXPIRED
        await close_contract(session, row, status, effective_end(row), "end of validity reached")
    await session.flush()
    return len(rows)


async def _the_contract(
    session: AsyncSession,
    principal: Principal,
    fsc_id: str,
    fo_party_id: str | None,
    *,
    lock: bool = False,
) -> ContractRow:
    rows = await find_contracts(session, principal, fsc_id, lock=lock)
    if fo_party_id is not None:
        rows = [row for row in rows if row.fo_party_id == fo_party_id]
    if not rows:
        raise contract_not_found(fsc_id)
    if len(rows) > 1:
        parties = ", ".join(row.fo_party_id for row in rows)
        raise Conflict(
            f"Several FOs have a contract {fsc_id} ({parties}); name one with `fo_party_id`.",
            slug="contract-id-ambiguous",
        )
    return rows[0]


async def decide(
    session: AsyncSession,
    principal: Principal,
    fsc_id: str,
    body: ContractDecision,
    *,
    now: datetime,
    fo_party_id: str | None = None,
) -> FlexibilityServiceContract:
    """The operator accepts, rejects or suspends (accept also resumes a suspended contract)."""
    row = await _the_contract(session, principal, fsc_id, fo_party_id, lock=True)
    if row.status not in LIVE_STATUSES:
        raise Conflict(f"Contract {fsc_id} is {row.status}.", slug="contract-not-live")
    revisions = (await revisions_of(session, [row.id]))[row.id]
    pending = next((r for r in revisions if r.status == RevisionStatus.PENDING.value), None)
    if body.decision is ContractDecisionKind.SUSPEND:
        if row.status != ContractStatus.ACTIVE.value:
            raise Conflict(
                f"Contract {fsc_id} is {row.status}, not ACTIVE.", slug="contract-not-active"
            )
        row.status = ContractStatus.SUSPENDED.value
        await record_change(
            session, row, "SUSPENDED", body.reason or "suspended", row.revision, now
        )
        return contract_model(row, revisions)
    if pending is None:
        if body.decision is ContractDecisionKind.ACCEPT and row.status == "SUSPENDED":
            row.status = ContractStatus.ACTIVE.value
            await record_change(
                session, row, "RESUMED", body.reason or "resumed", row.revision, now
            )
            return contract_model(row, revisions)
        raise Conflict(
            f"Contract {fsc_id} has no revision awaiting a decision.", slug="nothing-pending"
        )
    if body.revision is not None and body.revision != pending.revision:
        raise Conflict(
            f"Revision {pending.revision} is the one pending, not {body.revision}.",
            slug="revision-mismatch",
        )
    pending.decided_at = now
    pending.decision_reason = body.reason
    if body.decision is ContractDecisionKind.REJECT:
        pending.status = RevisionStatus.REJECTED.value
        if row.status == ContractStatus.PROPOSED.value:
            row.status = ContractStatus.REJECTED.value
        await record_change(
            session, row, "REJECTED", f"revision {pending.revision} rejected", pending.revision, now
        )
        return contract_model(row, revisions)
    terms = ContractTerms.model_validate(pending.terms)
    await check_terms(session, row.fo_party_id, terms, now=now, exclude_id=row.id, base="/terms")
    for revision in revisions:
        if revision.status == RevisionStatus.ACCEPTED.value:
            revision.status = RevisionStatus.SUPERSEDED.value
    pending.status = RevisionStatus.ACCEPTED.value
    apply_terms(row, terms, pending.revision)
    row.status = ContractStatus.ACTIVE.value
    await replace_targets(session, row.id, ((t.level.value, t.id) for t in terms.targets))
    await record_change(
        session, row, "ACCEPTED", f"revision {pending.revision} accepted", pending.revision, now
    )
    return contract_model(row, revisions)
