"""Notification routes: the FO's replayable feed, and the operator's view of delivery.

`GET /v1/notifications` serves the same notifications that are pushed as webhooks, in `seq`
order, for an FO that missed pushes. `/admin/v1/notifications...` lists the outbox with its
delivery state, shows the delivery log of one notification and schedules redeliveries.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from fcsbe.model import (
    MAX_SAFE_INTEGER,
    DeliveryAttempt,
    DeliveryStatus,
    Id,
    NotificationFeedPage,
    NotificationRecord,
    Page,
    RedeliveryRequest,
    RedeliveryResult,
)
from fcsbe.server.api.edge.authentication import OperatorPrincipal, fo_with_scope
from fcsbe.server.api.edge.idempotency import (
    IdempotencyKey,
    Outcome,
    run_idempotent,
)
from fcsbe.server.api.edge.paging import (
    DEFAULT_PAGE_SIZE,
    Cursor,
    Limit,
    decode_cursor,
    invalid_cursor,
    page_response,
)
from fcsbe.server.api.edge.problems import problem_responses
from fcsbe.server.deps import DbSession
from fcsbe.server.notifications import outbox as notifications
from fcsbe.server.security.principal import Principal

__all__ = ["admin_router", "router"]

FeedPrincipal = Annotated[Principal, fo_with_scope("notifications")]

router = APIRouter(prefix="/v1", tags=["notifications"])
admin_router = APIRouter(prefix="/admin/v1", tags=["admin"])

_WORDING = {
    401: "Missing, unknown, expired or revoked credential",
    403: "The credential has the wrong role",
    404: "No such notification",
    410: "The position is older than the retention (`feed-position-expired`)",
    422: "Invalid query parameter or body (problem names the field)",
}
"""How the notification routes describe their problems."""


def _position(request: Request, cursor: str | None, fallback: int) -> int:
    """The integer position a cursor encodes (a cursor wins over `after_seq`)."""
    if cursor is None:
        return fallback
    value = decode_cursor(request, cursor)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise invalid_cursor()
    return value


@router.get(
    "/notifications",
    operation_id="list_notifications",
    response_model=NotificationFeedPage,
    # The items are served as stored: a field a notification was written without stays absent.
    response_model_exclude_unset=True,
    responses=problem_responses(401, 403, 410, 422, described=_WORDING),
)
async def list_notifications(
    request: Request,
    response: Response,
    session: DbSession,
    principal: FeedPrincipal,
    limit: Limit = DEFAULT_PAGE_SIZE,
    cursor: Cursor = None,
    after_seq: Annotated[
        int,
        Query(
            ge=0,
            le=MAX_SAFE_INTEGER,
            description="Serve notifications with a `seq` above this one.",
        ),
    ] = 0,
) -> NotificationFeedPage:
    """The caller's notifications in `seq` order: replay what a webhook push missed.

    Notifications are kept at least 7 days (`FCSBE_OUTBOX_RETENTION_DAYS`, 30 by default);
    a position older than the oldest kept one answers 410 `feed-position-expired`.
    """
    start = _position(request, cursor, after_seq)
    pointer = "/query/cursor" if cursor is not None else "/query/after_seq"
    items, last = await notifications.feed_page(
        session, principal.party_id, start, limit, pointer=pointer
    )
    return page_response(request, response, NotificationFeedPage, items, last)


@admin_router.get(
    "/notifications",
    operation_id="admin_list_notifications",
    response_model=Page[NotificationRecord],
    responses=problem_responses(401, 403, 422, described=_WORDING),
)
async def admin_list_notifications(
    request: Request,
    response: Response,
    session: DbSession,
    _operator: OperatorPrincipal,
    limit: Limit = DEFAULT_PAGE_SIZE,
    cursor: Cursor = None,
    status: Annotated[
        DeliveryStatus | None, Query(description="Only notifications in this state.")
    ] = None,
    fo_party_id: Annotated[Id | None, Query(description="Only notifications for this FO.")] = None,
) -> Page[NotificationRecord]:
    """The outbox with delivery states, oldest first (`status=DEAD`: the dead letters)."""
    items, last = await notifications.list_notifications(
        session,
        after_id=_position(request, cursor, 0),
        limit=limit,
        status=status,
        fo_party_id=fo_party_id,
    )
    return page_response(request, response, Page[NotificationRecord], items, last)


@admin_router.get(
    "/notifications/{notification_id}/attempts",
    operation_id="admin_list_delivery_attempts",
    response_model=Page[DeliveryAttempt],
    responses=problem_responses(401, 403, 404, 422, described=_WORDING),
)
async def admin_list_delivery_attempts(
    request: Request,
    response: Response,
    session: DbSession,
    _operator: OperatorPrincipal,
    notification_id: Annotated[Id, Path(description="The notification.")],
    limit: Limit = DEFAULT_PAGE_SIZE,
    cursor: Cursor = None,
) -> Page[DeliveryAttempt]:
    """The delivery log of one notification, oldest attempt first."""
    items, last = await notifications.delivery_attempts(
        session, notification_id, _position(request, cursor, 0), limit
    )
    return page_response(request, response, Page[DeliveryAttempt], items, last)


@admin_router.post(
    "/notifications/redeliver",
    operation_id="admin_redeliver_notifications",
    response_model=RedeliveryResult,
    responses=problem_responses(401, 403, 422, idempotent=True, described=_WORDING),
)
async def admin_redeliver_notifications(
    request: Request,
    session: DbSession,
    operator: OperatorPrincipal,
    body: RedeliveryRequest,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Push the selected notifications again now, with a fresh retry window."""

    async def handler() -> Outcome:
        return 200, await notifications.redeliver(session, body), {}

    return await run_idempotent(request, session, operator.party_id, idempotency_key, handler)
