"""EV sessions: `GET /v1/sessions`, `GET /v1/sessions/{session_ref}`."""

from __future__ import annotations

from urllib.parse import quote

from fcsbe.client.operations import operation
from fcsbe.client.paging import AsyncPager
from fcsbe.client.transport import Transport
from fcsbe.model import EvSession

__all__ = ["SessionsResource"]


class SessionsResource:
    """Pseudonymous EV sessions, at the SESSION data-sharing level of the caller's contracts."""

    def __init__(self, transport: Transport) -> None:
        self._t = transport

    @operation("list_sessions")
    def list(
        self,
        *,
        site_id: str | None = None,
        cs_id: str | None = None,
        evse_id: str | None = None,
        include_ended: bool = False,
        page_size: int | None = None,
    ) -> AsyncPager[EvSession]:
        """Iterate the connected EV sessions the caller may see.

        Args:
            site_id: Only sessions on this site.
            cs_id: Only sessions at this charging station.
            evse_id: Only sessions at this EVSE.
            include_ended: Also sessions that have ended.
            page_size: Items per request (server default 100, at most 500).

        Returns:
            A pager of `EvSession` (fields beyond the pseudonym only as the contracts allow).
        """
        params = {
            "site_id": site_id,
            "cs_id": cs_id,
            "evse_id": evse_id,
            "include_ended": "true" if include_ended else None,
        }
        return AsyncPager(self._t, "/v1/sessions", EvSession, params=params, page_size=page_size)

    @operation("get_session")
    async def get(self, session_ref: str) -> EvSession:
        """Read one EV session by its pseudonym.

        Args:
            session_ref: The session's pseudonym (`ps_...`).

        Returns:
            The session.

        Raises:
            NotFoundError: unknown, or not covered at SESSION level.
        """
        response = await self._t.request("GET", f"/v1/sessions/{quote(session_ref, safe='')}")
        return EvSession.model_validate_json(response.content)
