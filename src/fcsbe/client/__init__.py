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
from fcsbe.client.proofs import (
    ProofVerdict,
    ProofVerificationError,
    verify_decision,
    verify_entry_inclusion,
    verify_heads_consistent,
    verify_proof_of_work,
    verify_tree_head,
)
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
    "ProofVerdict",
    "ProofVerificationError",
    "RateLimitError",
    "RetryPolicy",
    "ServiceUnavailableError",
    "UnprocessableEntityError",
    "verify_decision",
    "verify_entry_inclusion",
    "verify_heads_consistent",
    "verify_proof_of_work",
    "verify_tree_head",
]
