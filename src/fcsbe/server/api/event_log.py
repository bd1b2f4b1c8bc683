"""Event-log routes: the entries that concern the caller, the signed tree head, and RFC 9162
inclusion and consistency proofs (`/v1/event-log`, `/head`, `/proof`).

An FO reads only entries whose `party_id` is its own and gets inclusion proofs only for those;
tree heads and consistency proofs carry hashes only and are open to every authenticated FO.
The operator sees everything. EV users have no access.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from fcsbe.model import (
    MAX_SAFE_INTEGER,
    ConsistencyProof,
    EventLogEntry,
    FieldError,
    Id,
    InclusionProof,
    Page,
    SignedTreeHead,
)
from fcsbe.server.api.edge.authentication import any_with_scope
from fcsbe.server.api.edge.paging import (
    Cursor,
    Limit,
    decode_cursor,
    invalid_cursor,
    page_response,
)
from fcsbe.server.api.edge.problems import problem_responses
from fcsbe.server.deps import DbSession, ServerSigningKeys
from fcsbe.server.errors import Forbidden, UnprocessableContent
from fcsbe.server.security.principal import Principal, Role
from fcsbe.server.services.event_log.log import list_events
from fcsbe.server.services.event_log.tree import (
    checked_consistency_proof,
    checked_inclusion_proof,
    current_tree_head,
)

__all__ = ["router"]

LogReader = Annotated[Principal, any_with_scope("records")]
"""The event log is part of the records: an FO needs the `records` scope."""

router = APIRouter(prefix="/v1/event-log", tags=["event-log"])

MAX_SEQ = MAX_SAFE_INTEGER
"""Sequence numbers and sizes stop at 2^53 - 1, as every integer on the wire (a larger query
value is a 422, not a 500)."""
Seq = Annotated[
    int | None, Query(ge=1, le=MAX_SEQ, description="Entry to prove (inclusion proof).")
]
Size = Annotated[
    int | None, Query(ge=1, le=MAX_SEQ, description="Tree size; default: the latest head.")
]


def reader(principal: Principal) -> str | None:
    """The party whose entries the caller may read; None for the operator (all)."""
    if principal.role is Role.OPERATOR:
        return None
    if principal.role is Role.FO:
        return principal.party_id
    raise Forbidden("The event log is for FOs and the operator.", slug="wrong-role")


@router.get(
    "",
    operation_id="list_event_log",
    response_model=Page[EventLogEntry],
    responses=problem_responses(401, 403),
)
async def list_event_log(
    request: Request,
    response: Response,
    session: DbSession,
    principal: LogReader,
    after_seq: Annotated[int, Query(ge=0, le=MAX_SEQ, description="Entries after this seq.")] = 0,
    fs_id: Annotated[Id | None, Query(description="Only entries of this FS.")] = None,
    type: Annotated[
        str | None, Query(min_length=1, max_length=64, description="Only this event type.")
    ] = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> Page[EventLogEntry]:
    """Chained entries that concern the caller, oldest first (the operator sees all)."""
    position = decode_cursor(request, cursor)
    if position is not None and (not isinstance(position, int) or not 0 <= position <= MAX_SEQ):
        raise invalid_cursor()
    page, last = await list_events(
        session,
        party_id=reader(principal),
        after_seq=position if position is not None else after_seq,
        limit=limit,
        fs_id=fs_id,
        type=type,
    )
    return page_response(request, response, Page[EventLogEntry], page.items, last)


@router.get(
    "/head",
    operation_id="get_event_log_head",
    response_model=SignedTreeHead,
    responses=problem_responses(401, 403, 404, 503),
)
async def get_event_log_head(
    session: DbSession,
    principal: LogReader,
    keys: ServerSigningKeys,
    tree_size: Annotated[
        int | None,
        Query(ge=0, le=MAX_SEQ, description="A past head of exactly this size; default: latest."),
    ] = None,
) -> SignedTreeHead:
    """The latest signed tree head (or the one of `tree_size`): size, root, time, signature."""
    reader(principal)
    return await current_tree_head(session, keys, tree_size)


@router.get(
    "/proof",
    operation_id="get_event_log_proof",
    response_model=InclusionProof | ConsistencyProof,
    responses=problem_responses(401, 403, 404, 503),
)
async def get_event_log_proof(
    session: DbSession,
    principal: LogReader,
    seq: Seq = None,
    tree_size: Size = None,
    first: Annotated[
        int | None, Query(ge=0, le=MAX_SEQ, description="Older tree size (consistency proof).")
    ] = None,
    second: Annotated[
        int | None,
        Query(ge=1, le=MAX_SEQ, description="Newer tree size; default: the latest head."),
    ] = None,
) -> InclusionProof | ConsistencyProof:
    """`?seq=&tree_size=`: inclusion proof of an entry the caller may read;
    `?first=&second=`: consistency proof between two tree sizes."""
    party = reader(principal)
    if seq is not None and first is None and second is None:
        return await checked_inclusion_proof(session, party, seq, tree_size)
    if first is not None and seq is None and tree_size is None:
        return await checked_consistency_proof(session, first, second)
    raise UnprocessableContent(
        "Ask either `seq` (with an optional `tree_size`) or `first` (with an optional `second`).",
        slug="proof-kind-ambiguous",
        errors=[
            FieldError(
                pointer="/query/seq" if seq is None else "/query/first",
                detail="give seq[&tree_size] or first[&second]",
                code="proof_parameters",
            )
        ],
    )
