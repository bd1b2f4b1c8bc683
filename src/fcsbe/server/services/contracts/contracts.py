"""Flexibility service contracts (UC 3.3): the FO proposes, amends and terminates; the operator
accepts, rejects and suspends; contracts expire.

Every revision is kept readable. A proposal is revision 1 and PENDING; an amendment is a new
PENDING revision (a pending one it replaces becomes SUPERSEDED) and the terms in force stay in
force until it is accepted. Every change is one event-log entry and one CONTRACT_CHANGED
notification, written in the same transaction as the change.

The operator's decisions and the closing of ended contracts are in `contract_decisions`.

State machine (contract status):
  PROPOSED --accept--> ACTIVE --suspend--> SUSPENDED --accept--> ACTIVE
  PROPOSED --reject--> REJECTED;  live --terminate--> TERMINATED;  live --end--> EXPIRED
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from fcsbe.model import (
    ContractAmendment,
    ContractChangedData,
    ContractProposal,
    ContractRevision,
    ContractStatus,
    ContractTermination,
    ContractTerms,
    FieldError,
    FlexibilityServiceContract,
    NotificationType,
    PartyRole,
    RevisionStatus,
)
from fcsbe.server.errors import Conflict, NotFound, UnprocessableContent
from fcsbe.server.notifications.outbox import enqueue_notification
from fcsbe.server.security.principal import Principal
from fcsbe.server.services.contracts.terms import check_terms
from fcsbe.server.services.enrolments.parties import require_server_party
from fcsbe.server.services.event_log.log import append_event
from fcsbe.server.storage.contracts import (
    LIVE_STATUSES,
    ContractRevisionRow,
    ContractRow,
    contracts_page,
    find_contract,
    live_contracts_of,
    replace_targets,
    revisions_of,
)

__all__ = [
    "amend",
    "apply_terms",
    "close_contract",
    "contract_model",
    "contract_not_found",
    "list_contracts",
    "load_contract",
    "model_with_revisions",
    "propose",
    "record_change",
    "terminate",
    "terminate_all_of",
]

_HOLDER_IS_PROVIDER = frozenset({PartyRole.CSO, PartyRole.CSP, PartyRole.V_CSO})


def contract_model(
    row: ContractRow, revisions: Sequence[ContractRevisionRow]
) -> FlexibilityServiceContract:
    """The wire form of a contract with its revision history."""
    pending = next((r.revision for r in revisions if r.status == "PENDING"), None)
    return FlexibilityServiceContract(
        fsc_id=row.fsc_id,
        revision=row.revision,
        fo_party_id=row.fo_party_id,
        provider_party_id=row.provider_party_id,
        holder_party_id=row.holder_party_id,
        holder_role=PartyRole(row.holder_role),
        status=ContractStatus(row.status),
        terms=ContractTerms.model_validate(row.terms),
        revisions=[
            ContractRevision(
                revision=r.revision,
                status=RevisionStatus(r.status),
                proposed_at=r.proposed_at,
                decided_at=r.decided_at,
                reason=r.decision_reason,
                terms=ContractTerms.model_validate(r.terms),
            )
            for r in revisions
        ],
        pending_revision=pending,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


async def model_with_revisions(
    session: AsyncSession, row: ContractRow
) -> FlexibilityServiceContract:
    await session.flush()  # the session does not autoflush: make new revisions visible
    return contract_model(row, (await revisions_of(session, [row.id]))[row.id])


def contract_not_found(fsc_id: str) -> NotFound:
    return NotFound(f"No contract {fsc_id} visible to you.", slug="contract-not-found")


async def load_contract(
    session: AsyncSession, principal: Principal, fsc_id: str
) -> FlexibilityServiceContract:
    """One contract the caller may see (404 for anyone else's)."""
    row = await find_contract(session, principal, fsc_id)
    if row is None:
        raise contract_not_found(fsc_id)
    return await model_with_revisions(session, row)


async def list_contracts(
    session: AsyncSession,
    principal: Principal,
    *,
    after_id: int | None,
    limit: int,
    status: ContractStatus | None = None,
    fo_party_id: str | None = None,
) -> tuple[list[FlexibilityServiceContract], int | None]:
    """A page of the caller's contracts, and the cursor key of the next page (None: last)."""
    rows = await contracts_page(
        session,
        principal,
        after_id=after_id,
        limit=limit + 1,
        status=status.value if status else None,
        fo_party_id=fo_party_id,
    )
    page, more = rows[:limit], len(rows) > limit
    revisions = await revisions_of(session, [row.id for row in page])
    items = [contract_model(row, revisions[row.id]) for row in page]
    return items, page[-1].id if more and page else None


async def record_change(
    session: AsyncSession, row: ContractRow, event: str, summary: str, revision: int, now: datetime
) -> None:
    """The event-log entry and the CONTRACT_CHANGED notification of one change."""
    row.updated_at = now
    await append_event(
        session,
        type=f"CONTRACT_{event}",
        object_ref=f"contract/{row.fo_party_id}/{row.fsc_id}",
        summary=summary,
        party_id=row.fo_party_id,
        payload={"fsc_id": row.fsc_id, "revision": revision, "status": row.status},
    )
    data = ContractChangedData(
        fsc_id=row.fsc_id, revision=revision, status=ContractStatus(row.status)
    )
    await enqueue_notification(
        session,
        fo_party_id=row.fo_party_id,
        type=NotificationType.CONTRACT_CHANGED.value,
        data=data.model_dump(mode="json"),
        occurred_at=now,
    )


def apply_terms(row: ContractRow, terms: ContractTerms, revision: int) -> None:
    row.revision = revision
    row.valid_from = terms.valid_from
    row.valid_to = terms.valid_to
    row.fs_types = [t.value for t in terms.fs_types]
    row.data_sharing_level = terms.data_sharing_level.value
    row.signature_required = terms.signature_required
    row.terms = terms.model_dump(mode="json")


def _check_holder(body: ContractProposal, provider_id: str) -> None:
    if body.holder_role in _HOLDER_IS_PROVIDER:
        if body.holder_party_id not in (None, provider_id):
            raise UnprocessableContent(
                f"A {body.holder_role.value} holder is the provider itself; leave "
                "holder_party_id empty.",
                slug="holder-party-invalid",
                errors=[
                    FieldError(
                        pointer="/body/holder_party_id",
                        detail="must be null or the provider",
                        code="holder_party_invalid",
                    )
                ],
            )
    elif body.holder_party_id is None:
        raise UnprocessableContent(
            f"A {body.holder_role.value} holder must be named.",
            slug="holder-party-required",
            errors=[
                FieldError(
                    pointer="/body/holder_party_id",
                    detail=f"required for holder_role {body.holder_role.value}",
                    code="holder_party_required",
                )
            ],
        )


async def propose(
    session: AsyncSession, principal: Principal, body: ContractProposal, *, now: datetime
) -> FlexibilityServiceContract:
    """The FO proposes a contract: revision 1, PROPOSED, awaiting the operator's decision."""
    server = await require_server_party(session)
    if body.provider_party_id != server.party_id:
        raise UnprocessableContent(
            f"This server serves party {server.party_id} only.",
            slug="unknown-provider",
            errors=[
                FieldError(
                    pointer="/body/provider_party_id",
                    detail=f"must be {server.party_id}",
                    code="unknown_provider",
                )
            ],
        )
    _check_holder(body, server.party_id)
    if await find_contract(session, principal, body.fsc_id) is not None:
        raise Conflict(f"You already have a contract {body.fsc_id}.", slug="contract-exists")
    terms = body.to_terms()
    await check_terms(session, principal.party_id, terms, now=now, as_fo=True)
    row = ContractRow(
        fo_party_id=principal.party_id,
        fsc_id=body.fsc_id,
        provider_party_id=server.party_id,
        holder_party_id=body.holder_party_id,
        holder_role=body.holder_role.value,
        status=ContractStatus.PROPOSED.value,
        created_at=now,
        updated_at=now,
    )
    apply_terms(row, terms, 1)
    session.add(row)
    await session.flush()
    session.add(_revision(row.id, 1, terms, now))
    await replace_targets(session, row.id, ((t.level.value, t.id) for t in terms.targets))
    await record_change(session, row, "PROPOSED", f"contract {row.fsc_id} proposed", 1, now)
    return await model_with_revisions(session, row)


def _revision(
    contract_id: int, number: int, terms: ContractTerms, now: datetime
) -> ContractRevisionRow:
    return ContractRevisionRow(
        contract_id=contract_id,
        revision=number,
        status=RevisionStatus.PENDING.value,
        terms=terms.model_dump(mode="json"),
        proposed_at=now,
    )


async def _live(session: AsyncSession, principal: Principal, fsc_id: str) -> ContractRow:
    row = await find_contract(session, principal, fsc_id, lock=True)
    if row is None:
        raise contract_not_found(fsc_id)
    if row.status not in LIVE_STATUSES:
        raise Conflict(
            f"Contract {fsc_id} is {row.status}; it can no longer change.",
            slug="contract-not-live",
        )
    return row


async def amend(
    session: AsyncSession,
    principal: Principal,
    fsc_id: str,
    body: ContractAmendment,
    *,
    now: datetime,
) -> FlexibilityServiceContract:
    """A new PENDING revision; the terms in force stay until the operator accepts it."""
    row = await _live(session, principal, fsc_id)
    terms = body.to_terms()
    await check_terms(session, row.fo_party_id, terms, now=now, exclude_id=row.id, as_fo=True)
    revisions = (await revisions_of(session, [row.id]))[row.id]
    for old in revisions:
        if old.status == RevisionStatus.PENDING.value:
            old.status = RevisionStatus.SUPERSEDED.value
            old.decided_at = now
            old.decision_reason = "replaced by a later amendment"
    number = max(r.revision for r in revisions) + 1
    session.add(_revision(row.id, number, terms, now))
    if row.status == ContractStatus.PROPOSED.value:
        apply_terms(row, terms, number)
        await replace_targets(session, row.id, ((t.level.value, t.id) for t in terms.targets))
    await record_change(session, row, "AMENDED", f"revision {number} proposed", number, now)
    await session.flush()
    return await model_with_revisions(session, row)


async def terminate(
    session: AsyncSession,
    principal: Principal,
    fsc_id: str,
    body: ContractTermination,
    *,
    now: datetime,
) -> FlexibilityServiceContract:
    """End the contract now, or schedule its end (`effective_at`)."""
    row = await _live(session, principal, fsc_id)
    effective = body.effective_at or now
    if effective >= row.valid_to:
        raise UnprocessableContent(
            "The contract ends by itself before that time.",
            slug="termination-after-end",
            errors=[
                FieldError(
                    pointer="/body/effective_at",
                    detail=f"must be before valid_to ({row.valid_to.isoformat()})",
                    code="termination_after_end",
                )
            ],
        )
    reason = body.reason or "terminated by the FO"
    if effective <= now:
        await close_contract(session, row, ContractStatus.TERMINATED, now, reason)
    else:
        row.ends_at = effective
        summary = f"contract {fsc_id} ends at {effective.isoformat()}: {reason}"
        await record_change(session, row, "TERMINATION_SCHEDULED", summary, row.revision, now)
    return await model_with_revisions(session, row)


async def close_contract(
    session: AsyncSession, row: ContractRow, status: ContractStatus, now: datetime, reason: str
) -> None:
    row.status = status.value
    row.ends_at = min(row.ends_at or now, now)
    for revision in (await revisions_of(session, [row.id]))[row.id]:
        if revision.status == RevisionStatus.PENDING.value:
            revision.status = RevisionStatus.SUPERSEDED.value
            revision.decided_at = now
            revision.decision_reason = f"contract {status.value.lower()} before a decision"
    await record_change(
        session, row, status.value, f"contract {row.fsc_id}: {reason}", row.revision, now
    )


async def terminate_all_of(
    session: AsyncSession, fo_party_id: str, *, now: datetime, reason: str
) -> int:
    """Terminate every live contract of an FO (its enrolment ended)."""
    rows = await live_contracts_of(session, fo_party_id)
    for row in rows:
        await close_contract(session, row, ContractStatus.TERMINATED, now, reason)
    return len(rows)
