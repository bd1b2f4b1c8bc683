"""Request ids, structured JSON logs and the ASGI middleware that ties them together.

The request id (taken from a valid `X-Request-ID` or made fresh) is echoed in the response,
written on every log line of the request and used as the `instance` of any problem.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fcsbe.server.platform.wire_limits import (
    BodyTimedOut,
    BodyTooLarge,
    ClientGone,
    WireFault,
    json_faults,
    path_fault,
    query_faults,
    read_body,
)

__all__ = [
    "RequestContextMiddleware",
    "configure_logging",
    "correlation_scope",
    "current_correlation_id",
    "current_request_id",
]

_request_id: ContextVar[str] = ContextVar("fcsbe_request_id", default="-")
_correlation_id: ContextVar[str | None] = ContextVar("fcsbe_correlation_id", default=None)
_VALID_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
access_log = logging.getLogger("fcsbe.access")
log = logging.getLogger("fcsbe.errors")


def current_request_id() -> str:
    """The id of the request being served (`-` outside a request)."""
    return _request_id.get()


def current_correlation_id() -> str | None:
    """The caller's `X-Correlation-ID`, carried into notifications."""
    return _correlation_id.get()


@contextmanager
def correlation_scope(correlation_id: str | None) -> Iterator[None]:
    """Carry a stored correlation id into work done outside its request (worker steps), so
    their log lines and notifications name it as the request's did."""
    token = _correlation_id.set(correlation_id)
    try:
        yield
    finally:
        _correlation_id.reset(token)


class JsonFormatter(logging.Formatter):
    """One JSON object per line, with the request id; easy to ship to any log store."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": _request_id.get(),
        }
        correlation = _correlation_id.get()
        if correlation:
            entry["correlation_id"] = correlation
        extra = getattr(record, "fields", None)
        if isinstance(extra, dict):
            entry.update(extra)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(level: str, as_json: bool) -> None:
    """Send the `fcsbe` loggers to stderr, as JSON lines or plain text."""
    logger = logging.getLogger("fcsbe")
    logger.setLevel(level)
    for handler in list(logger.handlers):
        if getattr(handler, "_fcsbe", False):
            logger.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler._fcsbe = True  # type: ignore[attr-defined]
    handler.setFormatter(
        JsonFormatter()
        if as_json
        else logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s")
    )
    logger.addHandler(handler)
    logger.propagate = False


def _replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that hands the app the body read up front, then waits on the client (a
    disconnect) as the original does."""
    pending = True

    async def replay() -> Message:
        nonlocal pending
        if pending:
            pending = False
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            text: str = value.decode("latin-1")
            return text
    return None


class RequestContextMiddleware:
    """Pure ASGI middleware: request id + correlation id + access log + body limits.

    Pure ASGI (not BaseHTTPMiddleware) because it sits on every request of the hot path. An
    oversize body is refused from the Content-Length header before anything is read. Every
    body is then read whole here, within `body_timeout_s` and `max_body_bytes`, and replayed to
    the app: nothing downstream (authentication, a database session, a transaction) starts
    before the client has sent its last byte (platform/wire_limits.py says why). Values no
    route may receive (integers beyond 2^53 - 1, NUL characters) are refused here too.
    """

    def __init__(self, app: ASGIApp, max_body_bytes: int, body_timeout_s: float = 10.0) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.body_timeout_s = body_timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        offered = _header(scope, b"x-request-id")
        request_id = offered if offered and _VALID_ID.match(offered) else uuid.uuid4().hex
        correlation = _header(scope, b"x-correlation-id")
        rid_token = _request_id.set(request_id)
        cid_token = _correlation_id.set(
            correlation if correlation and _VALID_ID.match(correlation) else None
        )
        started = time.perf_counter()
        status_holder = [0]
        request_id_header = (b"x-request-id", request_id.encode())

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder[0] = message["status"]
                message["headers"] = [*message.get("headers", []), request_id_header]
            await send(message)

        try:
            length = _header(scope, b"content-length")
            if length is not None and length.isdigit() and int(length) > self.max_body_bytes:
                await self._too_large(send_with_id, request_id)
                return
            try:
                body = await read_body(
                    receive, limit=self.max_body_bytes, timeout_s=self.body_timeout_s
                )
            except ClientGone:
                return
            except BodyTooLarge:
                await self._too_large(send_with_id, request_id)
                return
            except BodyTimedOut:
                await self._problem(
                    send_with_id,
                    request_id,
                    408,
                    "request-timeout",
                    "Request body too slow",
                    f"The request body did not arrive within {self.body_timeout_s:g} s.",
                )
                return
            fault = path_fault(scope["path"])
            faults = [fault] if fault else []
            faults += query_faults(scope.get("query_string", b""))
            faults += json_faults(body)
            if faults:
                pointers = ", ".join(f.pointer for f in faults[:5])
                await self._problem(
                    send_with_id,
                    request_id,
                    422,
                    "validation-error",
                    "Request validation failed",
                    f"{len(faults)} invalid field(s): {pointers}",
                    errors=faults,
                )
                return
            await self.app(scope, _replay(body, receive), send_with_id)
        except Exception:
            # Rendered here, inside the request context, so the 500 carries the request id;
            # the traceback goes to the log only.
            log.exception("unhandled error")
            if status_holder[0] == 0:
                await self._problem(
                    send_with_id, request_id, 500, "internal-error", "Internal error"
                )
        finally:
            if access_log.isEnabledFor(logging.INFO):
                access_log.info(
                    "%s %s %s",
                    scope["method"],
                    scope["path"],
                    status_holder[0],
                    extra={
                        "fields": {
                            "method": scope["method"],
                            "path": scope["path"],
                            "status": status_holder[0],
                            "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                        }
                    },
                )
            _request_id.reset(rid_token)
            _correlation_id.reset(cid_token)

    async def _too_large(self, send: Send, request_id: str) -> None:
        """The 413 of a body over the limit, whether its `Content-Length` says so before it is
        read or it grows past the limit while being read."""
        await self._problem(
            send,
            request_id,
            413,
            "payload-too-large",
            "Request body too large",
            f"The request body exceeds {self.max_body_bytes} bytes.",
        )

    @staticmethod
    async def _problem(
        send: Send,
        request_id: str,
        status: int,
        slug: str,
        title: str,
        detail: str | None = None,
        *,
        errors: list[WireFault] | None = None,
    ) -> None:
        problem: dict[str, Any] = {
            "type": f"https://fcsbe.org/problems/{slug}",
            "title": title,
            "status": status,
            "instance": f"urn:request:{request_id}",
        }
        if detail:
            problem["detail"] = detail
        if errors:
            problem["errors"] = [
                {"pointer": e.pointer, "detail": e.detail, "code": e.code} for e in errors
            ]
        body = json.dumps(problem).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/problem+json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
