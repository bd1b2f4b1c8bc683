"""Heartbeat: tell the server you are alive (and learn its clock)."""

from __future__ import annotations

from datetime import UTC, datetime

from fcsbe.client.operations import operation
from fcsbe.client.transport import Transport
from fcsbe.model import HeartbeatRequest, HeartbeatResponse

__all__ = ["HeartbeatResource"]


class HeartbeatResource:
    """Liveness of the link; send one every `heartbeat_interval_s`."""

    def __init__(self, transport: Transport) -> None:
        self._t = transport

    @operation("send_heartbeat")
    async def send(self, sent_at: datetime | None = None) -> HeartbeatResponse:
        """Send a heartbeat.

        Args:
            sent_at: Your clock when sending (default: now), for skew detection.

        Returns:
            The server time, the agreed timing and when the next heartbeat is due.
        """
        body = HeartbeatRequest(sent_at=sent_at or datetime.now(UTC))
        response = await self._t.request("POST", "/v1/heartbeat", json=body.model_dump(mode="json"))
        return HeartbeatResponse.model_validate_json(response.content)
