"""Routes of flexibility services (UC 2.1-2.7): request, read, list, supersede, cancel,
dynamic setpoints, reserve activations, measured series and the high-resolution evidence of
locally executed responses (samples, summary, plot)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from fcsbe.model import (
    MAX_PAGE_SIZE,
    EvidenceSample,
    EvidenceSummary,
    FlexibilityService,
    FlexibilityServiceRequest,
    FsAccepted,
    FsCancellation,
    FsState,
    FsType,
    MeasurementSeries,
    Page,
    Quantity,
    ReserveActivation,
    SetpointUpdate,
    StationCommand,
    StationCommandState,
)
from fcsbe.server.adapters.base import StationAdapter
from fcsbe.server.api.edge.authentication import fo_with_scope
from fcsbe.server.api.edge.idempotency import (
    IdempotencyKey,
    KeyRecord,
    Outcome,
    run_idempotent,
    run_idempotent_recorded,
)
from fcsbe.server.api.edge.paging import (
    Cursor,
    Limit,
    cursor_key,
    decode_cursor,
    fetch_page,
    page_response,
)
from fcsbe.server.api.edge.problems import problem_responses
from fcsbe.server.api.edge.signatures import (
    Signed,
    SignedRequest,
    verify_body_signature,
    verify_signature_for_contract,
    verify_signature_for_fs,
)
from fcsbe.server.deps import DbSession, GroupWriter, ServerSettings, state_adapter
from fcsbe.server.security.principal import Principal
from fcsbe.server.services.flexibility_services import commands as fs_commands
from fcsbe.server.services.flexibility_services import control as fs_control
from fcsbe.server.services.flexibility_services import evidence as fs_evidence
from fcsbe.server.services.flexibility_services import requests as service
from fcsbe.server.services.flexibility_services.measurements import measurement_series
from fcsbe.server.settings import Settings
from fcsbe.server.storage.base import utcnow
from fcsbe.server.storage.fast.driver import reads_outside_transaction
from fcsbe.server.storage.fast.group_commit import GroupCommit
from fcsbe.server.storage.flexibility_services import FlexibilityServiceRow, list_fs
from fcsbe.server.storage.station_commands import StationCommandRow

__all__ = ["FS_SCOPE", "accept", "router"]

FS_SCOPE = "flexibility-services"
"""The API scope an FO's enrolment must grant for the FS routes."""
FsPrincipal = Annotated[Principal, fo_with_scope(FS_SCOPE)]

router = APIRouter(prefix="/v1/flexibility-services", tags=["flexibility-services"])

FsId = Annotated[str, Path(max_length=128, description="Id of the FS.")]
_WORDING = {
    401: "Missing or invalid credentials",
    403: "Not an FO credential",
    404: "No such FS for this FO",
    409: "Conflicts with the FS's state",
    422: "Invalid request",
}
"""How the FS routes describe their problems."""
_ERRORS = problem_responses(401, 403, 404, 409, 422, described=_WORDING)
_CHANGES = problem_responses(401, 403, 404, 409, 422, idempotent=True, described=_WORDING)
"""A change of an FS: its 409 is first a conflict with the FS's state."""
_QUEUED: dict[int | str, dict[str, Any]] = {
    202: {
        "model": StationCommand,
        "description": "Queued for the server replica that holds the stations: the station "
        "command; `Location` reads its outcome",
    }
}


async def _reads_outside_transaction(session: DbSession) -> None:
    """The accept only reads before its rows go to the group committer: on PostgreSQL its reads
    need no transaction of their own (storage/fast/driver.reads_outside_transaction). Declared
    before the credential dependency, so that the credential query is one of them."""
    reads_outside_transaction(session)


@router.post(
    "",
    operation_id="create_flexibility_service",
    status_code=202,
    response_model=FsAccepted,
    responses=_CHANGES,
)
async def create_flexibility_service(
    body: FlexibilityServiceRequest,
    request: Request,
    _reads: Annotated[None, Depends(_reads_outside_transaction)],
    signed: Signed,
    principal: FsPrincipal,
    session: DbSession,
    settings: ServerSettings,
    writer: GroupWriter,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Request an FS. Answers 202 at once; the decision follows as a notification and on GET.
    Signed (`X-Fcsbe-Signature`) when the contract requires it."""
    return await accept(
        body, request, signed, principal, session, settings, writer, idempotency_key
    )


async def accept(
    body: FlexibilityServiceRequest,
    request: Request,
    signed: SignedRequest,
    principal: Principal,
    session: AsyncSession,
    settings: Settings,
    writer: GroupCommit,
    idempotency_key: str | None,
) -> Response:
    """What `create_flexibility_service` does once its parameters are resolved; served by
    `fs_accept.AcceptRoute` without FastAPI's dependency machinery (the API's hot path)."""
    await verify_signature_for_contract(signed, session, principal, body.fsc_id)
    await verify_body_signature(signed, session, principal, body.signature)

    async def handler(record: KeyRecord) -> Outcome:
        headers = {"location": f"/v1/flexibility-services/{body.fs_id}"}
        # The reads are done: end their transaction so that its connection is free (SQLite has
        # one) while the rows wait for the next group commit (storage/fast/group_commit.py).
        if session.in_transaction():
            await session.commit()
        accepted = await service.submit_fs(
            session,
            principal,
            body,
            utcnow(),
            settings.fs_decision_timeout_s,
            key_row=lambda answer: record.row(202, answer, headers),
            writer=writer,
        )
        return 202, accepted, headers

    return await run_idempotent_recorded(
        request, session, principal.party_id, idempotency_key, handler
    )


@router.get(
    "",
    operation_id="list_flexibility_services",
    response_model=Page[FlexibilityService],
    responses=problem_responses(401, 403, 422, described=_WORDING),
)
async def list_flexibility_services(
    request: Request,
    response: Response,
    principal: FsPrincipal,
    session: DbSession,
    limit: Limit = 100,
    cursor: Cursor = None,
    state: Annotated[FsState | None, Query(description="Only FS in this state.")] = None,
    fs_type: Annotated[FsType | None, Query(description="Only FS of this type.")] = None,
) -> Page[FlexibilityService]:
    """The caller's FS, oldest first."""
    after = cursor_key(request, cursor, int)
    rows, next_key = await fetch_page(
        limit,
        lambda size: list_fs(
            session,
            principal.party_id,
            after_id=after,
            limit=size,
            state=state.value if state else None,
            fs_type=fs_type.value if fs_type else None,
        ),
        key=lambda row: row.id,
    )
    items = await service.to_models(session, rows)
    return page_response(request, response, Page[FlexibilityService], items, next_key)


@router.get(
    "/{fs_id}",
    operation_id="get_flexibility_service",
    response_model=FlexibilityService,
    responses=_ERRORS,
)
async def get_flexibility_service(
    fs_id: FsId, principal: FsPrincipal, session: DbSession
) -> FlexibilityService:
    """State, decision and transitions of one FS."""
    return await service.to_model(session, await service.load_fs(session, principal, fs_id))


@router.put(
    "/{fs_id}",
    operation_id="supersede_flexibility_service",
    status_code=202,
    response_model=FsAccepted,
    responses=_CHANGES,
)
async def supersede_flexibility_service(
    fs_id: FsId,
    body: FlexibilityServiceRequest,
    request: Request,
    signed: Signed,
    principal: FsPrincipal,
    session: DbSession,
    settings: ServerSettings,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Replace the FS by a new revision (revision + 1), decided afresh."""
    await verify_signature_for_contract(signed, session, principal, body.fsc_id)
    await verify_body_signature(signed, session, principal, body.signature)

    async def handler() -> Outcome:
        accepted = await service.supersede_fs(
            session, principal, fs_id, body, utcnow(), settings.fs_decision_timeout_s
        )
        return 202, accepted, {}

    return await run_idempotent(request, session, principal.party_id, idempotency_key, handler)


@router.post(
    "/{fs_id}/cancel",
    operation_id="cancel_flexibility_service",
    response_model=FlexibilityService,
    responses=_CHANGES,
)
async def cancel_flexibility_service(
    fs_id: FsId,
    body: FsCancellation,
    request: Request,
    signed: Signed,
    principal: FsPrincipal,
    session: DbSession,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Cancel the FS; the stations are released (stamped on the stations' clock, which its
    execution and record use)."""
    await verify_signature_for_fs(signed, session, principal, fs_id)
    now = state_adapter(request).now()

    async def handler() -> Outcome:
        fs = await service.cancel_fs(session, principal, fs_id, body.reason, now)
        return 200, await service.to_model(session, fs), {}

    return await run_idempotent(request, session, principal.party_id, idempotency_key, handler)


_Apply = Callable[
    [AsyncSession, StationAdapter, FlexibilityServiceRow, Any, datetime],
    Awaitable[StationCommandRow],
]
"""A control service: `control.update_setpoint` or `control.activate_reserve`."""


async def _control(
    signed: SignedRequest,
    session: AsyncSession,
    principal: Principal,
    fs_id: str,
    idempotency_key: str | None,
    apply: _Apply,
    body: BaseModel,
) -> Response:
    """A control of a running FS: signed, idempotent, applied on the stations' clock.

    Where this replica holds the stations the command is applied before the answer: 200 with
    the FS. Elsewhere it is queued for the replica that does: 202 with the station command and
    `Location` of its outcome (never a 200 for an effect that has not happened)."""
    request = signed.request
    await verify_signature_for_fs(signed, session, principal, fs_id)

    async def handler() -> Outcome:
        fs = await service.load_fs(session, principal, fs_id, for_update=True)
        adapter = state_adapter(request)
        command = await apply(session, adapter, fs, body, adapter.now())
        if command.state == StationCommandState.PENDING.value:
            location = f"{router.prefix}/{fs_id}/commands/{command.command_id}"
            return 202, fs_commands.to_model(command), {"Location": location}
        return 200, await service.to_model(session, fs), {}

    return await run_idempotent(request, session, principal.party_id, idempotency_key, handler)


@router.post(
    "/{fs_id}/setpoints",
    operation_id="update_flexibility_service_setpoint",
    response_model=FlexibilityService,
    responses={**_QUEUED, **_CHANGES},
)
async def update_setpoint(
    fs_id: FsId,
    body: SetpointUpdate,
    signed: Signed,
    principal: FsPrincipal,
    session: DbSession,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """New aggregate setpoint for a running SETPOINT FS (aFRR-like, every few seconds); 202
    with the queued station command from a replica that does not hold the stations."""
    return await _control(
        signed, session, principal, fs_id, idempotency_key, fs_control.update_setpoint, body
    )


@router.post(
    "/{fs_id}/activations",
    operation_id="activate_flexibility_service",
    response_model=FlexibilityService,
    responses={**_QUEUED, **_CHANGES},
)
async def activate(
    fs_id: FsId,
    body: ReserveActivation,
    signed: Signed,
    principal: FsPrincipal,
    session: DbSession,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Activate reserved capacity of a RESERVE FS (UC 2.5); 202 with the queued station
    command from a replica that does not hold the stations."""
    return await _control(
        signed, session, principal, fs_id, idempotency_key, fs_control.activate_reserve, body
    )


@router.get(
    "/{fs_id}/commands/{command_id}",
    operation_id="get_flexibility_service_command",
    response_model=StationCommand,
    responses=_ERRORS,
)
async def get_command(
    fs_id: FsId,
    command_id: Annotated[str, Path(max_length=36, description="Id of the station command.")],
    principal: FsPrincipal,
    session: DbSession,
) -> StationCommand:
    """A station command of the FS (a queued setpoint or activation) and its outcome."""
    fs = await service.load_fs(session, principal, fs_id)
    return await fs_commands.read_command(session, fs, command_id)


@router.get(
    "/{fs_id}/measurements",
    operation_id="get_flexibility_service_measurements",
    response_model=list[MeasurementSeries],
    responses=_ERRORS,
)
async def measurements(
    fs_id: FsId,
    principal: FsPrincipal,
    session: DbSession,
    quantity: Annotated[
        list[Quantity] | None, Query(description="Quantities wanted (default: P_W).")
    ] = None,
) -> list[MeasurementSeries]:
    """Measured series of the FS's EVSEs over its window (from the stations' meters)."""
    fs = await service.load_fs(session, principal, fs_id)
    return await measurement_series(session, fs, quantity or [Quantity.P_W])


@router.get(
    "/{fs_id}/evidence",
    operation_id="list_flexibility_service_evidence",
    responses=_ERRORS,
)
async def evidence(
    request: Request,
    response: Response,
    fs_id: FsId,
    principal: FsPrincipal,
    session: DbSession,
    limit: Limit = MAX_PAGE_SIZE,
    cursor: Cursor = None,
) -> Page[EvidenceSample]:
    """High-resolution samples (100 ms or finer) of the FS's locally executed response around
    each frequency event: frequency, power, base, ordered and delivered change, oldest first."""
    fs = await service.load_fs(session, principal, fs_id)
    after = decode_cursor(request, cursor)
    key = tuple(after) if isinstance(after, list) and len(after) == 3 else None
    items, next_key = await fs_evidence.evidence_page(session, fs, key, limit)
    next_cursor_key = list(next_key) if next_key is not None else None
    return page_response(request, response, Page[EvidenceSample], items, next_cursor_key)


@router.get(
    "/{fs_id}/evidence/summary",
    operation_id="get_flexibility_service_evidence_summary",
    response_model=EvidenceSummary,
    responses=_ERRORS,
)
async def evidence_summary(
    fs_id: FsId, principal: FsPrincipal, session: DbSession
) -> EvidenceSummary:
    """Per target and frequency event: ordered and delivered change, response time to 90 % of
    the ordered change, and the largest deviation while it was held."""
    fs = await service.load_fs(session, principal, fs_id)
    return await fs_evidence.evidence_summary(session, fs)


@router.get(
    "/{fs_id}/evidence/plot",
    operation_id="get_flexibility_service_evidence_plot",
    response_class=Response,
    responses=_ERRORS | {200: {"content": {"image/svg+xml": {}}, "description": "The plot (SVG)."}},
)
async def evidence_plot(
    fs_id: FsId,
    principal: FsPrincipal,
    session: DbSession,
    event: Annotated[int, Query(ge=0, le=10_000, description="Which event (0: the first).")] = 0,
) -> Response:
    """Ordered vs delivered power (and frequency) of one frequency event, as SVG."""
    fs = await service.load_fs(session, principal, fs_id)
    svg = await fs_evidence.evidence_svg(session, fs, event)
    return Response(content=svg, media_type="image/svg+xml")
