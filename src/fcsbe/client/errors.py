"""Exceptions of the FO client, split by HTTP status, each carrying the decoded Problem.

Catch `FcsbeStatusError` for any error answer, a subclass for one kind, or `FcsbeError` for
everything including network failures.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx
from pydantic import ValidationError

from fcsbe.model import Problem

if TYPE_CHECKING:
    from fcsbe.model import FlexibilityService

__all__ = [
    "AuthenticationError",
    "BadRequestError",
    "ConflictError",
    "FcsbeConnectionError",
    "FcsbeError",
    "FcsbeStatusError",
    "FcsbeTimeoutError",
    "FsDecisionTimeoutError",
    "GoneError",
    "InternalServerError",
    "NotFoundError",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "RateLimitError",
    "ServiceUnavailableError",
    "UnprocessableEntityError",
    "error_for_response",
]


class FcsbeError(Exception):
    """Base of every error the client raises."""


class FcsbeConnectionError(FcsbeError):
    """The server could not be reached (after the retries)."""


class FcsbeTimeoutError(FcsbeConnectionError):
    """The request timed out (after the retries)."""


class FsDecisionTimeoutError(FcsbeError, TimeoutError):
    """`wait_for_decision` gave up: the FS was still RECEIVED; `fs` is how it was last seen."""

    def __init__(self, fs: FlexibilityService, timeout_s: float) -> None:
        self.fs = fs
        self.timeout_s = timeout_s
        super().__init__(f"FS {fs.fs_id} still {fs.state} after {timeout_s:g} s")


class FcsbeStatusError(FcsbeError):
    """The server answered with an error status; `problem` is its RFC 9457 body."""

    def __init__(self, response: httpx.Response, problem: Problem) -> None:
        self.response = response
        self.status_code = response.status_code
        self.problem = problem
        self.request_id = response.headers.get("x-request-id")
        detail = f": {problem.detail}" if problem.detail else ""
        super().__init__(
            f"{response.status_code} {problem.title}{detail} (request {self.request_id})"
        )


class BadRequestError(FcsbeStatusError):
    """400: the request is malformed (e.g. a missing Idempotency-Key)."""


class AuthenticationError(FcsbeStatusError):
    """401: missing, unknown, expired or revoked credentials, or a bad signature."""


class PermissionDeniedError(FcsbeStatusError):
    """403: authenticated, but not allowed to do this."""


class NotFoundError(FcsbeStatusError):
    """404: no such object visible to the caller."""


class ConflictError(FcsbeStatusError):
    """409: the request conflicts with the current state (illegal transition, key in use)."""


class GoneError(FcsbeStatusError):
    """410: what was asked for is no longer kept (a feed position older than the retention)."""


class PayloadTooLargeError(FcsbeStatusError):
    """413: the request body is over the server's limit."""


class UnprocessableEntityError(FcsbeStatusError):
    """422: validation failed; `problem.errors` points at each bad field."""


class RateLimitError(FcsbeStatusError):
    """429: too many requests (after the retries)."""


class ServiceUnavailableError(FcsbeStatusError):
    """503: the server is temporarily unavailable (after the retries)."""


class InternalServerError(FcsbeStatusError):
    """5xx other than 503."""


_BY_STATUS: dict[int, type[FcsbeStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    410: GoneError,
    413: PayloadTooLargeError,
    422: UnprocessableEntityError,
    429: RateLimitError,
    503: ServiceUnavailableError,
}


def _problem_of(response: httpx.Response) -> Problem:
    try:
        return Problem.model_validate_json(response.content)
    except ValidationError:
        return Problem(
            title=response.reason_phrase or "HTTP error",
            status=response.status_code,
            detail=response.text[:500] or None,
        )


def error_for_response(response: httpx.Response) -> FcsbeStatusError:
    """The exception for an error response, with its problem decoded (or synthesised)."""
    status = response.status_code
    cls = _BY_STATUS.get(status) or (InternalServerError if status >= 500 else FcsbeStatusError)
    return cls(response, _problem_of(response))
