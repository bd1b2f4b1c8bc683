"""Bearer secrets: generation and the one-way hash under which they are stored.

Secrets are 256-bit random values; only their SHA-256 is stored. Lookups go by hash (through a
unique index), so no stored secret is ever compared byte by byte with a presented one; where two
secrets must be compared directly, `secrets_equal` is constant-time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

__all__ = [
    "ACCESS_TOKEN_PREFIX",
    "ENROLMENT_TOKEN_PREFIX",
    "EV_USER_TOKEN_PREFIX",
    "OPERATOR_TOKEN_PREFIX",
    "hash_secret",
    "new_secret",
    "secrets_equal",
]

ACCESS_TOKEN_PREFIX = "fcsbe_at_"  # noqa: S105 - a prefix, not a secret
ENROLMENT_TOKEN_PREFIX = "fcsbe_et_"  # noqa: S105 - a prefix, not a secret
EV_USER_TOKEN_PREFIX = "fcsbe_ev_"  # noqa: S105 - a prefix, not a secret
OPERATOR_TOKEN_PREFIX = "fcsbe_op_"  # noqa: S105 - a prefix, not a secret


def new_secret(prefix: str) -> str:
    """A fresh 256-bit secret; the prefix makes leaked tokens recognisable to secret scanners."""
    return prefix + secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    """The stored form of a secret (hex SHA-256)."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def secrets_equal(a: str, b: str) -> bool:
    """Constant-time comparison of two secrets or hashes."""
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))
