"""Scheduled grid signals: frequency events (explicit or seeded-random) for droop and FFR tests.

A frequency event sets a site's (or every site's) frequency at an exact instant and restores the
nominal frequency when it ends. The engine splits its steps at these instants, so an FFR trigger is
seen exactly when the event starts whatever step size the caller uses. Random events come from a
generator with its own seed, independent of EV arrivals, so adding frequency events to a scenario
does not change which EVs arrive.

This module only keeps the schedule; the engine applies the values to its sites.
"""

from __future__ import annotations

import heapq
import random
from dataclasses import dataclass

__all__ = ["FrequencyEventOptions", "SignalSchedule"]

ALL_SITES = -1


@dataclass(frozen=True, slots=True)
class FrequencyEventOptions:
    """Random frequency excursions: Poisson in time, uniform depth and duration.

    The default draws under-frequency dips (49.5-49.8 Hz), what FFR is armed for; give levels
    above nominal for over-frequency events.
    """

    events_per_hour: float
    min_hz: float = 49.5
    max_hz: float = 49.8
    min_duration_s: float = 5.0
    max_duration_s: float = 30.0
    seed: int = 0
    site_id: str | None = None
    """Restrict the events to one site; None means the whole synchronous area (every site)."""

    def __post_init__(self) -> None:
        if self.events_per_hour < 0 or self.min_hz > self.max_hz:
            raise ValueError("events_per_hour must be >= 0 and min_hz <= max_hz")
        if not 0 <= self.min_duration_s <= self.max_duration_s:
            raise ValueError("durations must satisfy 0 <= min_duration_s <= max_duration_s")


class SignalSchedule:
    """Time-ordered frequency changes: (instant, site index or ALL_SITES, Hz or None = nominal)."""

    __slots__ = ("_heap", "_next_random_us", "_options", "_rng", "_seq", "_site")

    def __init__(self, options: FrequencyEventOptions | None, site: int, start_us: int) -> None:
        self._heap: list[tuple[int, int, int, float | None]] = []
        self._seq = 0
        self._options = options
        self._site = site
        self._rng = random.Random(options.seed if options else 0)  # noqa: S311 - simulation
        self._next_random_us: int | None = None
        if options is not None and options.events_per_hour > 0:
            self._next_random_us = start_us + self._gap_us()

    def _gap_us(self) -> int:
        assert self._options is not None
        return max(1, round(self._rng.expovariate(self._options.events_per_hour) * 3.6e9))

    def schedule(self, at_us: int, site: int, hz: float, duration_us: int | None) -> None:
        """Set `site`'s frequency to `hz` at `at_us`; back to nominal after `duration_us`."""
        self._push(at_us, site, hz)
        if duration_us is not None:
            self._push(at_us + duration_us, site, None)

    def _push(self, at_us: int, site: int, hz: float | None) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (at_us, self._seq, site, hz))

    def next_at(self) -> int | None:
        """The next instant something changes (the engine ends a step there)."""
        first = self._heap[0][0] if self._heap else None
        random_at = self._next_random_us
        if first is None or (random_at is not None and random_at < first):
            return random_at
        return first

    def pop_due(self, t_us: int) -> list[tuple[int, float | None]]:
        """The (site, Hz) changes due at or before `t_us`, in order; random events get scheduled."""
        while self._next_random_us is not None and self._next_random_us <= t_us:
            opts = self._options
            assert opts is not None
            level = self._rng.uniform(opts.min_hz, opts.max_hz)
            duration = self._rng.uniform(opts.min_duration_s, opts.max_duration_s)
            self.schedule(self._next_random_us, self._site, level, round(duration * 1e6))
            self._next_random_us += self._gap_us()
        out: list[tuple[int, float | None]] = []
        heap = self._heap
        while heap and heap[0][0] <= t_us:
            _, _, site, hz = heapq.heappop(heap)
            out.append((site, hz))
        return out
