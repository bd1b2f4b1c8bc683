"""The async FO (aggregator) client of an FCSBE, built on httpx and the shared model."""

from fcsbe.client.client import FcsbeClient
from fcsbe.client.errors import (
    AuthenticationError,
    BadRequestError,
    ConflictError,
    FcsbeConnectionError,
    FcsbeError,
    FcsbeStatusError,
    FcsbeTimeoutError,
    GoneError,
    InternalServerError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    RateLimitError,
    ServiceUnavailableError,
    UnprocessableEntityError,
)
from fcsbe.client.paging import AsyncPager
from fcsbe.client.transport import RetryPolicy

__all__ = [
    "AsyncPager",
    "AuthenticationError",
    "BadRequestError",
    "ConflictError",
    "FcsbeClient",
    "FcsbeConnectionError",
    "FcsbeError",
    "FcsbeStatusError",
    "FcsbeTimeoutError",
    "GoneError",
    "InternalServerError",
    "NotFoundError",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "RateLimitError",
    "RetryPolicy",
    "ServiceUnavailableError",
    "UnprocessableEntityError",
]
