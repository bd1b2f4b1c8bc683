"""The FO (aggregator) client of an FCSBE, built on httpx and the shared model: the async
`FcsbeClient`, and `SyncFcsbeClient` for scripts and notebooks."""

from fcsbe.client.client import FcsbeClient
from fcsbe.client.errors import (
    AuthenticationError,
    BadRequestError,
    ConflictError,
    FcsbeConnectionError,
    FcsbeError,
    FcsbeStatusError,
    FcsbeTimeoutError,
    FsDecisionTimeoutError,
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
from fcsbe.client.raw import RawResponse
from fcsbe.client.sync import SyncFcsbeClient
from fcsbe.client.sync_runtime import EventLoopThread, SyncPager
from fcsbe.client.transport import RetryPolicy

__all__ = [
    "AsyncPager",
    "AuthenticationError",
    "BadRequestError",
    "ConflictError",
    "EventLoopThread",
    "FcsbeClient",
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
    "RawResponse",
    "RetryPolicy",
    "ServiceUnavailableError",
    "SyncFcsbeClient",
    "SyncPager",
    "UnprocessableEntityError",
]
