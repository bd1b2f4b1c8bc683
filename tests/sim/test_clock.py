from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from fcsbe.sim import Clock, SystemClock, VirtualClock
from fcsbe.sim.clock import from_us, to_us


def test_virtual_clock_advances_exactly_in_microseconds() -> None:
    clock = VirtualClock(datetime(2025, 1, 1, tzinfo=UTC))
    for _ in range(10_000):
        clock.advance(0.1)
    assert clock.now() == datetime(2025, 1, 1, 0, 16, 40, tzinfo=UTC)


def test_virtual_clock_refuses_naive_times_and_going_back() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        VirtualClock(datetime(2025, 1, 1))
    clock = VirtualClock(datetime(2025, 1, 1, tzinfo=UTC))
    with pytest.raises(ValueError, match="backwards"):
        clock.advance(-1)
    clock.advance_to(datetime(2024, 1, 1, tzinfo=UTC))
    assert clock.now() == datetime(2025, 1, 1, tzinfo=UTC)


def test_times_are_normalised_to_utc() -> None:
    cet = timezone(timedelta(hours=1))
    clock = VirtualClock(datetime(2025, 1, 1, 1, 0, tzinfo=cet))
    assert clock.now() == datetime(2025, 1, 1, tzinfo=UTC)
    assert clock.now().utcoffset() == timedelta(0)
    assert from_us(to_us(clock.now())) == clock.now()


def test_both_clocks_satisfy_the_protocol() -> None:
    assert isinstance(SystemClock(), Clock)
    assert isinstance(VirtualClock(datetime(2025, 1, 1, tzinfo=UTC)), Clock)
    assert SystemClock().now().tzinfo is not None
