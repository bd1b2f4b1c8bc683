"""Use cases of FS requests: submit, read, supersede and cancel.

Submitting only validates and stores (RECEIVED, answered 202 at once); the decision follows from
the decision step (`decision.py`). Domain refusals are REJECTED decisions with reasons,
never HTTP errors: an HTTP error here means the request itself is malformed or conflicts with the
FS's state (e.g. cancelling a completed FS, an fs_id already in use).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from fcsbe.model import (
    FlexibilityService,
    FlexibilityServiceRequest,
    FlexibilityServiceResponse,
    FsAccepted,
    FsState,
    FsTransition,
)
from fcsbe.server.errors import Conflict, NotFound
from fcsbe.server.platform.observability import current_correlation_id
from fcsbe.server.security.principal import Principal
from fcsbe.server.services.event_log.log import event_values
from fcsbe.server.services.flexibility_services.lifecycle import CANCELLABLE, move
from fcsbe.server.storage.contracts import contract_pk
from fcsbe.server.storage.fast.accept import insert_received_fs
from fcsbe.server.storage.fast.accept_many import insert_received_many, lite_statements
from fcsbe.server.storage.fast.group_commit import GroupCommit
from fcsbe.server.storage.flexibility_services import (
    FlexibilityServiceRow,
    FsTransitionRow,
    get_fs,
    transitions_of,
    transitions_of_many,
)

__all__ = ["cancel_fs", "load_fs", "submit_fs", "supersede_fs", "to_model", "to_models"]


def _deadline(request: FlexibilityServiceRequest, now: datetime, default_s: int) -> datetime:
    """When the decision is due: the FO's deadline if earlier than ours, never in the past."""
    ours = now + timedelta(seconds=default_s)
    asked = request.response_deadline
    return max(now, min(ours, asked)) if asked else ours


def _entry(session: AsyncSession, fs: FlexibilityServiceRow, now: datetime) -> None:
    session.add(
        FsTransitionRow(
            fs_pk=fs.id, revision=fs.revision, from_state=None, to_state="RECEIVED", at=now
        )
    )


async def submit_fs(
    session: AsyncSession,
    principal: Principal,
    request: FlexibilityServiceRequest,
    now: datetime,
    decision_timeout_s: int,
    key_row: Callable[[FsAccepted], dict[str, Any]] | None = None,
    *,
    writer: GroupCommit | None = None,
) -> FsAccepted:
    """Store a new FS request as RECEIVED (one transaction with its transition and event).

    `key_row` gives the idempotency-key row for the answer, written in the same statement (the
    answer depends only on the request and `now`, so it is known before the insert).

    With `writer`, the rows are written by the group committer, in a transaction shared with
    other requests' writes, and this returns once that transaction committed; `session` is not
    written to (the caller ends its transaction first, so that its connection is free).

    This is the hot path of the API: one storage call (one statement on PostgreSQL), the
    contract resolved inside the INSERT, and the unique (party, fs_id) constraint instead of a
    look-up first.
    """
    deadline = _deadline(request, now, decision_timeout_s)
    document = request.model_dump(mode="json")
    event = event_values(
        type="FS_RECEIVED",
        object_ref=f"fs/{request.fs_id}/1",
        summary=f"{request.fs_type.value} request over {len(request.targets)} target(s)",
        party_id=principal.party_id,
        fs_id=request.fs_id,
        payload=document,
    )
    values = {
        "fo_party_id": principal.party_id,
        "fs_id": request.fs_id,
        "fsc_id": request.fsc_id,
        "fs_type": request.fs_type.value,
        "window_start": request.window.start,
        "window_end": request.window.end,
        "response_deadline": deadline,
        "request": document,
        "correlation_id": current_correlation_id(),
        "created_at": now,
    }
    accepted = FsAccepted(
        fs_id=request.fs_id, revision=1, state=FsState.RECEIVED, response_deadline=deadline
    )
    key = key_row(accepted) if key_row is not None else None
    try:
        if writer is None:
            await insert_received_fs(session, values, event, key)
        else:
            await writer.run(
                lambda batch: insert_received_fs(batch, values, event, key),
                order=(principal.party_id, request.fs_id),
                bulk=insert_received_many,
                item=(values, event, key),
                one_statement=True,
                lite_bulk=lite_statements,
            )
    except IntegrityError as exc:
        raise Conflict(
            f"FS {request.fs_id} exists; supersede it with PUT to change it.", slug="fs-exists"
        ) from exc
    return accepted


async def load_fs(
    session: AsyncSession, principal: Principal, fs_id: str, *, for_update: bool = False
) -> FlexibilityServiceRow:
    """The caller's FS, or 404 (also for other parties' ids)."""
    fs = await get_fs(session, principal.party_id, fs_id, for_update=for_update)
    if fs is None:
        raise NotFound(f"No flexibility service {fs_id}.", slug="fs-not-found")
    return fs


async def supersede_fs(
    session: AsyncSession,
    principal: Principal,
    fs_id: str,
    request: FlexibilityServiceRequest,
    now: datetime,
    decision_timeout_s: int,
) -> FsAccepted:
    """Replace an FS by a new revision (same fs_id, revision + 1), decided afresh."""
    if request.fs_id != fs_id:
        raise Conflict("The body's fs_id differs from the path.", slug="fs-id-mismatch")
    fs = await load_fs(session, principal, fs_id, for_update=True)
    await move(session, fs, FsState.SUPERSEDED, f"superseded by revision {fs.revision + 1}", at=now)
    deadline = _deadline(request, now, decision_timeout_s)
    fs.revision += 1
    fs.state = FsState.RECEIVED.value
    fs.contract_id = await contract_pk(session, principal.party_id, request.fsc_id)
    fs.fs_type = request.fs_type.value
    fs.window_start = request.window.start
    fs.window_end = request.window.end
    fs.response_deadline = deadline
    fs.committed_w = None
    fs.request = request.model_dump(mode="json")
    fs.correlation_id = current_correlation_id()
    fs.response = None
    # The new revision starts where the old one ended: never before its last transition.
    fs.updated_at = max(now, fs.updated_at)
    _entry(session, fs, fs.updated_at)
    return FsAccepted(
        fs_id=fs.fs_id, revision=fs.revision, state=FsState.RECEIVED, response_deadline=deadline
    )


async def cancel_fs(
    session: AsyncSession, principal: Principal, fs_id: str, reason: str | None, now: datetime
) -> FlexibilityServiceRow:
    """Cancel an FS that has not ended; the stations are released by the executor."""
    fs = await load_fs(session, principal, fs_id, for_update=True)
    if FsState(fs.state) not in CANCELLABLE:
        raise Conflict(f"An FS in state {fs.state} cannot be cancelled.", slug="illegal-transition")
    await move(session, fs, FsState.CANCELLED, reason or "cancelled by the FO", at=now)
    return fs


async def to_model(session: AsyncSession, fs: FlexibilityServiceRow) -> FlexibilityService:
    """The wire form of an FS with its transitions."""
    return _model(fs, await transitions_of(session, fs.id))


async def to_models(
    session: AsyncSession, rows: list[FlexibilityServiceRow]
) -> list[FlexibilityService]:
    """The wire forms of a page of FS, their transitions read in one query for all."""
    transitions = await transitions_of_many(session, [fs.id for fs in rows])
    return [_model(fs, transitions[fs.id]) for fs in rows]


def _model(fs: FlexibilityServiceRow, rows: list[FsTransitionRow]) -> FlexibilityService:
    """The wire form of an FS from its row and its transitions (read by the caller, so that a
    page of FS reads them all at once)."""
    transitions = [
        FsTransition(
            revision=t.revision,
            from_state=FsState(t.from_state) if t.from_state else None,
            to_state=FsState(t.to_state),
            at=t.at,
            reason=t.reason,
        )
        for t in rows
    ]
    request = FlexibilityServiceRequest.model_validate(fs.request)
    return FlexibilityService(
        fs_id=fs.fs_id,
        revision=fs.revision,
        supersedes=fs.revision - 1 if fs.revision > 1 else None,
        fsc_id=request.fsc_id,
        fs_type=request.fs_type,
        state=FsState(fs.state),
        request=request,
        response=FlexibilityServiceResponse.model_validate(fs.response) if fs.response else None,
        response_deadline=fs.response_deadline,
        created_at=fs.created_at,
        updated_at=fs.updated_at,
        transitions=transitions,
    )
