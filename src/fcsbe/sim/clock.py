"""Clocks for the simulator: a virtual one for tests and fast-forward, a real one for serving.

The simulator never reads the wall clock itself; it is handed a `Clock`, so the same engine runs
faster than real time under tests (a `VirtualClock` advanced by the simulator's own steps) and in
real time under `fcsbe serve` (a `SystemClock` paced by `RealTimeRunner`). Times are always
timezone-aware UTC: a naive time is ambiguous across the CSO/FO boundary, so it is refused here.

This module must not sleep and must not import anything outside the standard library.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Final, Protocol, runtime_checkable

__all__ = ["EPOCH", "Clock", "SystemClock", "VirtualClock", "from_us", "to_us"]

EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
"""Origin of the integer-microsecond time line the simulator keeps internally."""


def to_us(when: datetime) -> int:
    """Integer microseconds since the epoch: exact, so reading boundaries never drift."""
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError("time must be timezone-aware (UTC)")
    delta = when.astimezone(UTC) - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_us(us: int) -> datetime:
    """The aware UTC datetime of an integer-microsecond instant (inverse of `to_us`)."""
    return EPOCH + timedelta(microseconds=us)


@runtime_checkable
class Clock(Protocol):
    """Anything that tells the current time as an aware UTC datetime."""

    def now(self) -> datetime:
        """The current time (aware, UTC)."""
        ...


class SystemClock:
    """The wall clock, for `fcsbe serve`; satisfies `Clock`."""

    def now(self) -> datetime:
        """The current UTC time."""
        return datetime.now(UTC)


class VirtualClock:
    """A clock that only moves when told to, so tests never sleep and runs are reproducible.

    Time is kept as integer microseconds: adding 0.1 s ten thousand times lands exactly where it
    should, which keeps meter-reading instants on their grid.
    """

    __slots__ = ("_us",)

    def __init__(self, start: datetime) -> None:
        self._us = to_us(start)

    def now(self) -> datetime:
        """The current virtual time."""
        return from_us(self._us)

    def now_us(self) -> int:
        """The current virtual time in integer microseconds since the epoch."""
        return self._us

    def advance(self, seconds: float) -> None:
        """Move forward by `seconds` (never backwards: time going back would corrupt meters)."""
        if seconds < 0:
            raise ValueError("a clock cannot go backwards")
        self._us += round(seconds * 1_000_000)

    def advance_to(self, when: datetime | int) -> None:
        """Move forward to `when` (datetime or integer microseconds); an earlier time is a no-op."""
        target = when if isinstance(when, int) else to_us(when)
        self._us = max(target, self._us)
