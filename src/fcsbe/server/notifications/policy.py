"""When to try a webhook again: exponential backoff with jitter, `Retry-After`, dead-lettering.

The schedule is persistent (the next time is written to the outbox row), so retries survive
restarts and run on whichever replica is free. Delays double from `initial_s` up to `max_s`,
each drawn uniformly from its upper half ("equal jitter": spread out, yet never near zero, so a
receiver that is down is not hammered). A `Retry-After` from the receiver replaces the computed
delay (capped). A notification is dead-lettered once its retry window (at least 24 h from the
first attempt) has passed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

from fcsbe.server.settings import Settings

__all__ = ["RetryPolicy", "parse_retry_after"]


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a `Retry-After` header (delta-seconds or HTTP date), else None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """The retry schedule of webhook deliveries."""

    initial_s: float
    max_s: float
    retry_after_max_s: float
    window_s: float

    @classmethod
    def from_settings(cls, settings: Settings) -> RetryPolicy:
        return cls(
            initial_s=settings.notification_backoff_initial_s,
            max_s=settings.notification_backoff_max_s,
            retry_after_max_s=settings.notification_retry_after_max_s,
            window_s=settings.notification_retry_window_s,
        )

    def backoff_s(self, attempts: int, rng: random.Random) -> float:
        """Delay after the `attempts`-th failed attempt (1-based)."""
        ceiling = min(self.max_s, self.initial_s * 2 ** min(max(attempts - 1, 0), 40))
        return rng.uniform(ceiling / 2, ceiling)

    def next_attempt(
        self, attempts: int, now: datetime, retry_after_s: float | None, rng: random.Random
    ) -> datetime:
        """When to try again after a failure."""
        if retry_after_s is not None:
            delay = min(retry_after_s, self.retry_after_max_s)
        else:
            delay = self.backoff_s(attempts, rng)
        return now + timedelta(seconds=delay)

    def exhausted(self, first_attempt_at: datetime, now: datetime) -> bool:
        """True once the retry window since the first attempt has passed."""
        return now - first_attempt_at >= timedelta(seconds=self.window_s)
