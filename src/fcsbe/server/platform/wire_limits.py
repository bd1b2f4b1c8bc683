"""Limits every request meets before any route runs: how long its body may take to arrive, how
large it may be, and which JSON values it may carry.

The body is read whole, under a deadline and the size cap, before the app sees the request, so
no route ever holds a database connection or transaction while it waits on the network: a
client trickling its body costs one socket and one coroutine, never the connection pool (on
SQLite the pool is a single connection, which every request and background loop shares).

The values checked here are the ones that pass JSON parsing but break what comes after it, on
every route alike (also where a signature is verified over the raw body before the route's
model is applied): integers beyond ±(2^53 - 1), which RFC 8785 canonical JSON (event-log hashes,
signatures) cannot represent exactly; non-finite numbers (`1e400` parses as infinity); and the
NUL character, which PostgreSQL text and jsonb cannot store. Each is refused with the JSON
pointer of the value.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import Message, Receive

__all__ = [
    "MAX_SAFE_INTEGER",
    "BodyTimedOut",
    "BodyTooLarge",
    "ClientGone",
    "WireFault",
    "json_faults",
    "path_fault",
    "query_faults",
    "read_body",
]

MAX_SAFE_INTEGER = 2**53 - 1
"""The largest integer RFC 8785 canonical JSON (IEEE 754 doubles) represents exactly."""

_SUSPECT = re.compile(rb"\d{16}|\\u0000|\x00|[eE][+-]?\d{3}|NaN|Infinity")
"""Cheap test of the raw body: only bodies that may hold a faulty value are parsed here (an
integer above 2^53 - 1 has 16 digits or more; an exponent of 3 digits may overflow)."""


class BodyTimedOut(Exception):
    """The body did not arrive within the deadline."""


class BodyTooLarge(Exception):
    """The body grew past the size cap."""


class ClientGone(Exception):
    """The client disconnected before its body was complete."""


async def read_body(receive: Receive, *, limit: int, timeout_s: float) -> bytes:
    """The whole request body, read within `timeout_s` in total and at most `limit` bytes.

    One deadline for the whole body, not one per chunk: a client sending a byte every few
    seconds would otherwise hold the request open for as long as it likes.
    """
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(timeout_s):
            while True:
                message: Message = await receive()
                if message["type"] == "http.disconnect":
                    raise ClientGone
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > limit:
                    raise BodyTooLarge
                chunks.append(chunk)
                if not message.get("more_body", False):
                    return b"".join(chunks)
    except TimeoutError as exc:
        raise BodyTimedOut from exc


@dataclass(frozen=True, slots=True)
class WireFault:
    """One refused value: where it is (JSON pointer), why, and a stable code."""

    pointer: str
    detail: str
    code: str


def _escape(part: str) -> str:
    return part.replace("~", "~0").replace("/", "~1")


def _value_faults(value: Any, pointer: str) -> Iterator[WireFault]:
    kind = type(value)
    if kind is str:
        if "\x00" in value:
            yield WireFault(pointer, "must not contain the NUL character (U+0000)", "string_nul")
    elif kind is int:
        if not -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
            yield WireFault(
                pointer,
                f"integers must lie within ±{MAX_SAFE_INTEGER} (2^53 - 1)",
                "int_out_of_range",
            )
    elif kind is float:
        if not math.isfinite(value):
            yield WireFault(pointer, "numbers must be finite", "finite_number")
    elif kind is dict:
        for key, item in value.items():
            child = f"{pointer}/{_escape(key)}"
            if "\x00" in key:
                yield WireFault(child, "names must not contain the NUL character", "string_nul")
            yield from _value_faults(item, child)
    elif kind is list:
        for index, item in enumerate(value):
            yield from _value_faults(item, f"{pointer}/{index}")


def json_faults(body: bytes, limit: int = 20) -> list[WireFault]:
    """The values of a JSON body no route may receive (at most `limit`); [] when the body is
    not JSON (the route refuses it on its own terms)."""
    if not body or _SUSPECT.search(body) is None:
        return []
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        return []
    faults: list[WireFault] = []
    try:
        for fault in _value_faults(document, "/body"):
            faults.append(fault)
            if len(faults) >= limit:
                break
    except RecursionError:  # nested deeper than any model allows: the route refuses it
        return faults
    return faults


def query_faults(query_string: bytes) -> list[WireFault]:
    """Query parameters carrying a NUL character (`%00`), which no stored text may hold."""
    if b"%00" not in query_string:
        return []
    faults = []
    for name, value in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True):
        if "\x00" in name or "\x00" in value:
            faults.append(
                WireFault(
                    f"/query/{_escape(name.replace(chr(0), ''))}",
                    "must not contain the NUL character (U+0000)",
                    "string_nul",
                )
            )
    return faults


def path_fault(path: str) -> WireFault | None:
    """A path carrying a NUL character (`%00` in a path parameter)."""
    if "\x00" not in path:
        return None
    return WireFault("/path", "must not contain the NUL character (U+0000)", "string_nul")
