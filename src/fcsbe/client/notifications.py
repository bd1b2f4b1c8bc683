"""Notifications: the replayable feed (`GET /v1/notifications`) and the operator's outbox view.

Webhooks are the fast path; the feed is the complete one. An FO that notices a gap in `seq`
(or was offline) reads the feed from the last `seq` it processed.
"""

from __future__ import annotations

from fcsbe.client.operations import operation
from fcsbe.client.paging import AsyncPager
from fcsbe.client.transport import Transport
from fcsbe.model import (
    DeliveryAttempt,
    DeliveryStatus,
    Notification,
    NotificationFeedPage,
    NotificationRecord,
    RedeliveryRequest,
    RedeliveryResult,
)

__all__ = ["NotificationsResource"]


class NotificationsResource:
    """The FO's notification feed, and (with an operator token) delivery administration."""

    def __init__(self, transport: Transport) -> None:
        self._t = transport

    @operation("list_notifications")
    def feed(self, *, after_seq: int = 0, page_size: int | None = None) -> AsyncPager[Notification]:
        """Iterate the caller's notifications in `seq` order.

        Args:
            after_seq: Start after this `seq` (the last one processed; 0 for everything).
            page_size: Items per request (server default when None).

        Returns:
            An async pager: `async for n in client.notifications.feed(after_seq=41): ...`.
            Each item is the subclass of `Notification` for its `type` (e.g.
            `FsDeviationNotification`), whose `data` is that type's model.
        """
        return AsyncPager(
            self._t,
            "/v1/notifications",
            Notification,
            {"after_seq": after_seq},
            page_size,
            page_type=NotificationFeedPage,
        )

    @operation("admin_list_notifications")
    def admin_list(
        self,
        *,
        status: DeliveryStatus | None = None,
        fo_party_id: str | None = None,
        page_size: int | None = None,
    ) -> AsyncPager[NotificationRecord]:
        """List the outbox with delivery states (operator credential).

        Args:
            status: Only notifications in this state (`DEAD` for the dead letters).
            fo_party_id: Only notifications for this FO.
            page_size: Items per request.

        Returns:
            An async pager of records, oldest first.
        """
        params = {"status": status.value if status else None, "fo_party_id": fo_party_id}
        return AsyncPager(self._t, "/admin/v1/notifications", NotificationRecord, params, page_size)

    @operation("admin_list_delivery_attempts")
    def admin_attempts(
        self, notification_id: str, *, page_size: int | None = None
    ) -> AsyncPager[DeliveryAttempt]:
        """The delivery log of one notification (operator credential).

        Args:
            notification_id: The notification (its webhook-id).
            page_size: Items per request.

        Returns:
            An async pager of attempts, oldest first.

        Raises:
            NotFoundError: no such notification.
        """
        path = f"/admin/v1/notifications/{notification_id}/attempts"
        return AsyncPager(self._t, path, DeliveryAttempt, None, page_size)

    @operation("admin_redeliver_notifications")
    async def admin_redeliver(
        self, request: RedeliveryRequest, *, idempotency_key: str | None = None
    ) -> RedeliveryResult:
        """Push notifications again now, with a fresh retry window (operator credential).

        Args:
            request: Which notifications: named ids, or every one in a state (DEAD/PARKED).
            idempotency_key: Reused on retries; a fresh UUID when None.

        Returns:
            How many notifications were made due.
        """
        response = await self._t.request(
            "POST",
            "/admin/v1/notifications/redeliver",
            json=request.model_dump(mode="json", exclude_none=True),
            idempotency_key=idempotency_key,
        )
        return RedeliveryResult.model_validate_json(response.content)
