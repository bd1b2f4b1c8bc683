"""Canonical JSON (RFC 8785) and the hash chain of the event log.

Here, not in the server, because an aggregator must be able to recompute digests and chain
hashes offline (proof-of-work verification) with nothing but `fcsbe.model`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import rfc8785

__all__ = ["GENESIS_HASH", "canonical_json", "chain_hash", "digest"]

GENESIS_HASH = "0" * 64
"""`prev_hash` of the first event-log entry."""


def canonical_json(value: Any) -> bytes:
    """RFC 8785 (JCS) canonical bytes of a JSON value: the input of every digest and signature."""
    data: bytes = rfc8785.dumps(value)
    return data


def digest(value: Any) -> str:
    """Hex SHA-256 of the canonical JSON of `value`."""
    return hashlib.sha256(canonical_json(value)).hexdigest()


def chain_hash(prev_hash: str, entry: Mapping[str, Any]) -> str:
    """Hash of an event-log entry: SHA-256 over `prev_hash` and the entry's canonical JSON.

    `entry` holds every field of the entry except `hash` itself (and includes `prev_hash`).
    """
    return hashlib.sha256(prev_hash.encode("ascii") + canonical_json(dict(entry))).hexdigest()
