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
from fcsbe.client.proofs import (
    ProofVerdict,
    ProofVerificationError,
    verify_decision,
    verify_entry_inclusion,
    verify_heads_consistent,
    verify_proof_of_work,
    verify_tree_head,
)
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
    "ProofVerdict",
    "ProofVerificationError",
    "RateLimitError",
    "RawResponse",
    "RetryPolicy",
    "ServiceUnavailableError",
    "SyncFcsbeClient",
    "SyncPager",
    "UnprocessableEntityError",
    "verify_decision",
    "verify_entry_inclusion",
    "verify_heads_consistent",
    "verify_proof_of_work",
    "verify_tree_head",
]
