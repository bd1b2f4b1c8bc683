"""Domain errors that carry their HTTP meaning, and the one place that renders every error.

Every error leaves the server as RFC 9457 `application/problem+json` (fcsbe.model.Problem):
validation errors list each bad field as a JSON pointer; unexpected errors say nothing but the
request id, which is in the logs with the traceback. Database outages answer 503 + Retry-After,
never 500, so a client knows to retry.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any, ClassVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path

from fcsbe.model import FieldError, Problem, problem_type
from fcsbe.server.platform.observability import current_request_id

__all__ = [
    "PROBLEM_JSON",
    "ApiError",
    "BadRequest",
    "Conflict",
    "Forbidden",
    "Gone",
    "NotFound",
    "PayloadTooLarge",
    "ServiceUnavailable",
    "TooManyRequests",
    "Unauthorized",
    "UnprocessableContent",
    "install_error_handlers",
    "is_database_unavailable",
    "json_pointer",
]

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger("fcsbe.errors")


class ApiError(StarletteHTTPException):
    """An error with a stable problem type; subclasses set the status, slug and title.

    It derives from Starlette's HTTPException so that FastAPI re-raises it unchanged from body
    parsing and dependencies instead of wrapping it as a generic 400.
    """

    status: ClassVar[int] = 500
    slug: ClassVar[str] = "internal-error"
    title: ClassVar[str] = "Internal error"

    def __init__(
        self,
        detail: str | None = None,
        *,
        slug: str | None = None,
        title: str | None = None,
        errors: Sequence[FieldError] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(self.status, detail, dict(headers) if headers else None)
        self.problem_slug = slug or self.slug
        self.problem_title = title or self.title
        self.errors = list(errors) if errors else None


class BadRequest(ApiError):
    status, slug, title = 400, "bad-request", "Bad request"


class Unauthorized(ApiError):
    status, slug, title = 401, "unauthorized", "Authentication required"

    def __init__(self, detail: str | None = None, *, slug: str | None = None) -> None:
        super().__init__(detail, slug=slug, headers={"WWW-Authenticate": "Bearer"})


class Forbidden(ApiError):
    status, slug, title = 403, "forbidden", "Forbidden"


class NotFound(ApiError):
    status, slug, title = 404, "not-found", "Not found"


class Conflict(ApiError):
    status, slug, title = 409, "conflict", "Conflict"


class Gone(ApiError):
    status, slug, title = 410, "gone", "No longer available"


class PayloadTooLarge(ApiError):
    status, slug, title = 413, "payload-too-large", "Request body too large"


class UnprocessableContent(ApiError):
    status, slug, title = 422, "validation-error", "Request validation failed"


class TooManyRequests(ApiError):
    status, slug, title = 429, "rate-limited", "Too many requests"

    def __init__(self, detail: str | None = None, *, retry_after_s: int = 1) -> None:
        super().__init__(detail, headers={"Retry-After": str(max(1, retry_after_s))})


class ServiceUnavailable(ApiError):
    status, slug, title = 503, "service-unavailable", "Service temporarily unavailable"

    def __init__(self, detail: str | None = None, *, retry_after_s: int = 1) -> None:
        super().__init__(detail, headers={"Retry-After": str(retry_after_s)})


_STATUS_SLUGS = {
    400: ("bad-request", "Bad request"),
    401: ("unauthorized", "Authentication required"),
    403: ("forbidden", "Forbidden"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    406: ("not-acceptable", "Not acceptable"),
    409: ("conflict", "Conflict"),
    413: ("payload-too-large", "Request body too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
    422: ("validation-error", "Request validation failed"),
    429: ("too-many-requests", "Too many requests"),
    503: ("service-unavailable", "Service temporarily unavailable"),
}


def json_pointer(location: Sequence[int | str]) -> str:
    """RFC 6901 pointer of a pydantic error location (`("body", "window", "end")`)."""
    parts = (str(part).replace("~", "~0").replace("/", "~1") for part in location)
    return "/" + "/".join(parts)


def problem_response(
    status: int,
    slug: str,
    title: str,
    detail: str | None = None,
    *,
    errors: Sequence[FieldError] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """Render one problem; `instance` is always the request id."""
    problem = Problem(
        type=problem_type(slug),
        title=title,
        status=status,
        detail=detail,
        instance=f"urn:request:{current_request_id()}",
        errors=list(errors) if errors else None,
    )
    return JSONResponse(
        problem.model_dump(mode="json", exclude_none=True),
        status_code=status,
        media_type=PROBLEM_JSON,
        headers=dict(headers) if headers else None,
    )


_ABSENT_MEMBER_ERRORS = frozenset({"missing", "union_tag_not_found"})
"""Error types about a member that is not in the document: the pointer names it in its parent."""


def _child(node: Any, part: Any) -> tuple[bool, Any]:
    """(True, the member or item `part` of `node`) when the document has it."""
    if isinstance(node, dict) and isinstance(part, str) and part in node:
        return True, node[part]
    if isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
        return True, node[part]
    return False, None


def _document_location(error: Mapping[str, Any], body: Any) -> list[int | str]:
    """The error's location as a path that exists in the submitted body.

    Pydantic's locations follow the *model*, not the document: they insert the tag of a tagged
    union (`/parameters/SETPOINT/resolution_s`), the member type of a plain union, and report a
    model validator's error at the model (`/body`). So: the location (plus the `pointer` that a
    located model error carries, `fcsbe.model._validation.invalid_at`) is walked through the
    body, and a part the body does not have is an inserted tag and dropped, except a member the
    error says is absent, which is named in the object that lacks it. A rejected union tag names
    the discriminator member.
    """
    location = list(error.get("loc", ()))
    if not location or location[0] != "body":
        return location
    if not isinstance(body, dict | list):
        return ["body"]  # no JSON document (malformed, or not an object): the body itself
    context = error.get("ctx") or {}
    parts: list[Any] = location[1:]
    located = context.get("pointer")
    if isinstance(located, str) and located.startswith("/"):
        for raw in located[1:].split("/"):
            text = raw.replace("~1", "/").replace("~0", "~")
            parts.append(int(text) if text.isdigit() else text)
    if error.get("type") in {"union_tag_invalid", "union_tag_not_found"}:
        discriminator = str(context.get("discriminator", "")).strip("'\"")
        if discriminator.isidentifier():
            parts.append(discriminator)
    node: Any = body
    path: list[int | str] = ["body"]
    for index, part in enumerate(parts):
        found, child = _child(node, part)
        if found:
            node = child
        elif (
            index == len(parts) - 1
            and isinstance(node, dict)
            and isinstance(part, str)
            and error.get("type") in _ABSENT_MEMBER_ERRORS
        ):
            path.append(part)
            break
        else:
            continue  # a tag pydantic inserted: not in the document
        path.append(part)
    return path


def _field_errors(raw: Sequence[Any], body: Any = None) -> list[FieldError]:
    errors = []
    for error in raw:
        errors.append(
            FieldError(
                pointer=json_pointer(_document_location(error, body)),
                detail=str(error.get("msg", "invalid value")),
                code=str(error.get("type", "value_error")),
            )
        )
    return errors


async def _on_validation_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = _field_errors(exc.errors(), exc.body)
    fields = ", ".join(error.pointer for error in errors[:5])
    return problem_response(
        422,
        "validation-error",
        "Request validation failed",
        f"{len(errors)} invalid field(s): {fields}",
        errors=errors,
    )


@cache
def _path_pattern(template: str) -> re.Pattern[str]:
    return compile_path(template)[0]


def _allowed_methods(request: Request, fallback: str) -> str:
    """Every method the path serves (RFC 9110 `Allow`), as the published document lists them.

    Starlette answers 405 from the first route whose path matches and lists only that route's
    methods, but FastAPI makes one route per method, so a path served by GET and PATCH would
    claim to allow GET alone.
    """
    path = request.scope.get("path", "")
    methods: set[str] = set()
    for template, operations in request.app.openapi().get("paths", {}).items():
        if _path_pattern(template).match(path):
            methods.update(method.upper() for method in operations)
    return ", ".join(sorted(methods)) or fallback


async def _on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 405:
        fallback = (exc.headers or {}).get("Allow", "")
        headers = {**(exc.headers or {}), "Allow": _allowed_methods(request, fallback)}
        return problem_response(405, "method-not-allowed", "Method not allowed", headers=headers)
    if isinstance(exc, ApiError):
        return problem_response(
            exc.status_code,
            exc.problem_slug,
            exc.problem_title,
            exc.detail,
            errors=exc.errors,
            headers=exc.headers,
        )
    slug, title = _STATUS_SLUGS.get(exc.status_code, ("http-error", "HTTP error"))
    detail = None if exc.detail == title else exc.detail
    return problem_response(exc.status_code, slug, title, detail, headers=exc.headers)


async def _on_integrity_error(_request: Request, exc: Exception) -> Response:
    log.info("integrity conflict: %s", exc.__class__.__name__)
    return problem_response(
        409, "conflict", "Conflict", "The request conflicts with the current state; retry it."
    )


_UNAVAILABLE_SQLSTATES = ("08", "57P01", "57P02", "57P03", "53300")
"""Connection exceptions, server shutting down or starting up, too many connections."""


def _causes(exc: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and len(chain) < 8 and current not in chain:
        chain.append(current)
        orig = current.orig if isinstance(current, DBAPIError) else None
        current = orig or current.__cause__ or current.__context__
    return chain


def is_database_unavailable(exc: BaseException) -> bool:
    """Whether `exc` means "the database cannot be reached now" (503), not a bug (500).

    Covers what SQLAlchemy and asyncpg actually raise when the database goes away: a
    `DBAPIError` with `connection_invalidated` (connection dropped mid-transaction), an
    `OperationalError`, an error whose SQLSTATE is a connection or shutdown state (e.g.
    asyncpg's ConnectionDoesNotExistError, 08003, wrapped as a plain DBAPIError), the pool's
    `TimeoutError`, and raw `ConnectionError`/`TimeoutError` (refused or timed-out connects,
    which storage/engine.py turns into `DatabaseUnreachable`, and statement timeouts).
    """
    if isinstance(exc, PoolTimeoutError | ConnectionError | TimeoutError):
        return True
    if isinstance(exc, DBAPIError) and (
        exc.connection_invalidated or isinstance(exc, OperationalError)
    ):
        return True
    for cause in _causes(exc):
        state = getattr(cause, "sqlstate", None) or getattr(cause, "pgcode", None)
        if isinstance(state, str) and state.startswith(_UNAVAILABLE_SQLSTATES):
            return True
        if isinstance(cause, ConnectionError | TimeoutError):
            return True
    return False


async def _on_database_unavailable(request: Request, exc: Exception) -> Response:
    if not is_database_unavailable(exc):
        return await _on_unexpected(request, exc)
    log.warning("database unavailable: %s", exc.__class__.__name__)
    return problem_response(
        503,
        "service-unavailable",
        "Service temporarily unavailable",
        "The database is not reachable; retry after the indicated delay.",
        headers={"Retry-After": "1"},
    )


async def _on_unexpected(_request: Request, exc: Exception) -> Response:
    log.error("unhandled error", exc_info=exc)
    return problem_response(500, "internal-error", "Internal error")


def install_error_handlers(app: FastAPI) -> None:
    """Register the problem+json rendering for every error the app can raise."""
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(IntegrityError, _on_integrity_error)
    app.add_exception_handler(OperationalError, _on_database_unavailable)
    app.add_exception_handler(DBAPIError, _on_database_unavailable)
    app.add_exception_handler(PoolTimeoutError, _on_database_unavailable)
    app.add_exception_handler(ConnectionError, _on_database_unavailable)
    app.add_exception_handler(TimeoutError, _on_database_unavailable)
    # Any other exception is rendered as a 500 by RequestContextMiddleware, inside the request
    # context (so the problem carries the request id).
