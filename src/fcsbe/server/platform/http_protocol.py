"""uvicorn's HTTP protocol with a deadline on the request head.

uvicorn closes an idle keep-alive connection after `timeout_keep_alive`, and the app bounds the
time a request body may take (`request_body_timeout_s`), but nothing bounds the time between a
connection being opened (or a new request on it beginning) and the end of its headers. A client
that connects and sends nothing, or trickles a request head or a WebSocket upgrade (a charger's
`/ocpp/{station_id}` handshake) byte by byte, would hold its socket and file descriptor forever;
a few thousand of them exhaust the replica (slowloris). This protocol gives every request head
`request_header_timeout_s` to arrive, then closes the connection without an answer: nothing has
been parsed that an answer could refer to, and the app has not been called, so nothing is held.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

__all__ = ["HEADER_TIMEOUT_ENV", "PROTOCOL", "HeadDeadlineProtocol"]

HEADER_TIMEOUT_ENV = "FCSBE_REQUEST_HEADER_TIMEOUT_S"
"""The setting, read from the environment: uvicorn builds the protocol from an import string,
in every worker process, so the class cannot be handed a value (`fcsbe serve` exports the
loaded setting before it starts uvicorn)."""
PROTOCOL = "fcsbe.server.platform.http_protocol:HeadDeadlineProtocol"
"""What `fcsbe serve` passes to uvicorn as `http`."""


class HeadDeadlineProtocol(HttpToolsProtocol):
    """`HttpToolsProtocol` that closes a connection whose request head is late."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.head_timeout_s = float(os.environ.get(HEADER_TIMEOUT_ENV, "10"))
        self._head_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm()  # the next request on a kept-alive connection gets its own deadline

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        if self._head_deadline is None:
            self._head_deadline = self.loop.call_later(self.head_timeout_s, self._head_too_late)

    def _disarm(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None

    def _head_too_late(self) -> None:
        self._head_deadline = None
        if not self.transport.is_closing():
            self.transport.close()
