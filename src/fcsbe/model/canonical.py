"""Canonical JSON (RFC 8785) and the hash chain of the event log.

Here, not in the server, because an aggregator must be able to recompute digests and chain
hashes offline (proof-of-work verification) with nothing but `fcsbe.model`.

`canonical_json` takes a fast path through the C JSON encoder for the values where its output is
provably the RFC 8785 one (floats whose shortest repr has no exponent, integral floats and ints
within 2^53, object keys in the Basic Multilingual Plane) and hands anything else to the
reference `rfc8785` package, so the bytes are always RFC 8785's (a property test compares them).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

import rfc8785

__all__ = ["GENESIS_HASH", "canonical_json", "chain_hash", "digest"]

GENESIS_HASH = "0" * 64
"""`prev_hash` of the first event-log entry."""

_SAFE_INT = 2**53 - 1
_ENCODE = json.JSONEncoder(
    ensure_ascii=False, allow_nan=False, sort_keys=True, separators=(",", ":")
).encode


class _Unsafe(Exception):
    """This value needs the reference implementation."""


def _number(value: Any, kind: type) -> Any:
    """A float or int as it must print in RFC 8785, or `_Unsafe`."""
    if kind is float:
        if value == 0:
            return 0
        size = abs(value)
        if value.is_integer():
            if size <= _SAFE_INT:
                return int(value)
        elif 1e-4 <= size < 1e16:
            return value
    elif -_SAFE_INT <= value <= _SAFE_INT:
        return value
    raise _Unsafe


def _item(value: Any) -> Any:
    kind = type(value)
    if kind is str or value is None or kind is bool:
        return value
    if kind is float or kind is int:
        return _number(value, kind)
    if kind is dict:
        return _object(value)
    if kind is list or kind is tuple:
        return [_item(v) for v in value]
    raise _Unsafe


def _object(value: dict[Any, Any]) -> dict[str, Any]:
    plain: dict[str, Any] = {}
    for key, item in value.items():
        if type(key) is not str or not (key.isascii() or all(ord(c) <= 0xFFFF for c in key)):
            raise _Unsafe
        kind = type(item)
        if kind is str or item is None or kind is bool:
            plain[key] = item
        elif kind is float or kind is int:
            plain[key] = _number(item, kind)
        else:
            plain[key] = _item(item)
    return plain


def canonical_json(value: Any) -> bytes:
    """RFC 8785 (JCS) canonical bytes of a JSON value: the input of every digest and signature."""
    try:
        return _ENCODE(_item(value)).encode("utf-8")
    except (_Unsafe, UnicodeEncodeError, ValueError):
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
