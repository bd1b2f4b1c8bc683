"""The OCPP-J WebSocket endpoint: `ws(s)://HOST:PORT/ocpp/{station_id}`.

The handshake decides everything before a byte of OCPP flows:

- the subprotocol: the best the station offers of `ocpp2.1`, `ocpp2.0.1`, `ocpp1.6`; a
  station that offers none is refused (403);
- security profiles 1 and 2: HTTP Basic authentication, username = station id, checked against
  the stored hash (`fcsbe admin stations set-password`). A missing or wrong password, an
  unknown station and (unless `FCSBE_OCPP_UNKNOWN_STATIONS=pending`) a station the registry
  does not name are all refused alike with 401, so the answer tells nothing about which ids
  exist. TLS (profile 2) and client certificates (profile 3) are the TLS terminator's business
  (uvicorn's `--ssl-*` options, or a proxy): see docs/station-adapters.md. Password checks
  are cached, bounded and rate-limited per station id and source address (429 past the
  limit): see `security/station_logins.py`.

Then frames flow to the station's link (`link.py`); a frame larger than
`FCSBE_OCPP_MAX_FRAME_BYTES` closes the connection with 1009 (message too big).
"""

from __future__ import annotations

import base64
import binascii
import logging
from typing import Any

from starlette.responses import Response
from starlette.websockets import WebSocket, WebSocketDisconnect

from fcsbe.server.adapters.ocpp.adapter import OcppStations
from fcsbe.server.adapters.ocpp.link import LINK_CLASSES
from fcsbe.server.security.station_logins import LoginOutcome, StationLogins
from fcsbe.server.storage.ocpp_stations import credential_hashes

__all__ = ["OCPP_PATH", "FrameTooLarge", "StationGone", "WebSocketConnection", "ocpp_endpoint"]

log = logging.getLogger("fcsbe.stations.ocpp")

OCPP_PATH = "/ocpp/{station_id}"
_MAX_ID = 128


class FrameTooLarge(Exception):
    """A station sent a frame over the configured limit."""


class StationGone(ConnectionError):
    """The station's socket closed under a send: the connection ends as a disconnect.

    A `ConnectionError`, so that the link lets it through instead of answering it with an
    `InternalError` on the same closed socket (which Starlette raises as a RuntimeError that
    would reach the ASGI server)."""


class WebSocketConnection:
    """A Starlette WebSocket as the `ocpp` library's connection (text frames)."""

    def __init__(self, websocket: WebSocket, max_bytes: int) -> None:
        self.websocket = websocket
        self.max_bytes = max_bytes

    async def recv(self) -> str:
        """The next frame as text (a binary frame is decoded; what is not UTF-8 is passed on
        as it is and answered with a CALLERROR by the link)."""
        message = await self.websocket.receive()
        if message["type"] == "websocket.disconnect":
            raise WebSocketDisconnect(message.get("code", 1000))
        text = message.get("text")
        if text is None:
            data = message.get("bytes") or b""
            text = data.decode("utf-8", errors="replace")
        if len(text) > self.max_bytes:
            raise FrameTooLarge(len(text))
        return str(text)

    async def send(self, message: str) -> None:
        """Send a text frame; StationGone when the socket has closed meanwhile."""
        try:
            await self.websocket.send_text(message)
        except (WebSocketDisconnect, RuntimeError, OSError) as exc:
            raise StationGone(str(exc)) from exc


def _best_subprotocol(offered: list[str]) -> str | None:
    for name in LINK_CLASSES:
        if name in offered:
            return name
    return None


def _basic_credentials(websocket: WebSocket) -> tuple[str, str] | None:
    header = websocket.headers.get("authorization", "")
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, password = decoded.partition(":")
    return (user, password) if sep else None


async def _refuse(websocket: WebSocket, status: int) -> None:
    headers = {"WWW-Authenticate": 'Basic realm="OCPP"'} if status == 401 else None
    try:
        await websocket.send_denial_response(Response(status_code=status, headers=headers))
    except RuntimeError:  # the server cannot send an HTTP answer to a handshake: plain 403
        await websocket.close(code=1008)


def station_logins(state: Any) -> StationLogins:
    """The replica's login checks (made on first use, from the settings)."""
    logins = getattr(state, "station_logins", None)
    if not isinstance(logins, StationLogins):
        settings = state.settings
        logins = StationLogins(
            concurrency=settings.ocpp_login_concurrency,
            failures_per_station=settings.ocpp_login_failures_per_station,
            failures_per_source=settings.ocpp_login_failures_per_source,
        )
        state.station_logins = logins
    return logins


async def _check_login(websocket: WebSocket, station_id: str) -> LoginOutcome:
    """Check the handshake's Basic credentials (cached, bounded, rate-limited: see
    `security/station_logins.py`)."""
    state = websocket.app.state
    logins = station_logins(state)
    source = websocket.client.host if websocket.client else ""
    credentials = _basic_credentials(websocket)
    if credentials is None or credentials[0] != station_id:
        logins.fail(station_id, source)
        return LoginOutcome.REFUSED
    async with state.session_factory() as db:
        stored = (await credential_hashes(db, [station_id])).get(station_id)
        await db.rollback()
    return await logins.check(station_id, credentials[1], stored, source)


async def ocpp_endpoint(websocket: WebSocket) -> None:
    """Authenticate a station, pick the subprotocol and run its connection."""
    station_id = str(websocket.path_params.get("station_id", ""))
    state = websocket.app.state
    adapter = getattr(state, "adapter", None)
    if not isinstance(adapter, OcppStations) or not 0 < len(station_id) <= _MAX_ID:
        await _refuse(websocket, 404)
        return
    subprotocol = _best_subprotocol(list(websocket.scope.get("subprotocols") or []))
    if subprotocol is None:
        await _refuse(websocket, 403)
        return
    outcome = await _check_login(websocket, station_id)
    if outcome is not LoginOutcome.ACCEPTED:
        log.info("station %s refused: %s credentials", station_id[:64], outcome)
        await _refuse(websocket, 429 if outcome is LoginOutcome.LIMITED else 401)
        return
    if not adapter.knows(station_id):
        await adapter.refresh_registry([station_id])
    if not adapter.knows(station_id) and not adapter.admit_unknown:
        log.info("station %s refused: not in the registry", station_id)
        await _refuse(websocket, 401)
        return
    await websocket.accept(subprotocol=subprotocol)
    settings = state.settings
    connection = WebSocketConnection(websocket, settings.ocpp_max_frame_bytes)
    try:
        await adapter.serve(station_id, subprotocol, connection)
    except (WebSocketDisconnect, StationGone) as exc:
        log.info("station %s closed its connection (%s)", station_id, type(exc).__name__)
    except FrameTooLarge as exc:
        log.warning("station %s sent a frame of %s characters: closed", station_id, exc)
        await websocket.close(code=1009)
