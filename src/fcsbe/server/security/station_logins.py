"""What an OCPP station login costs, and who may try again.

A station password is stored as a memory-hard scrypt hash (`station_passwords`), which costs
tens to hundreds of milliseconds of CPU to check. Paid on every login, that makes a fleet's
reconnection (after a network cut or a replica restart) burn minutes of CPU, starving the
connections already up, and makes a flood of wrong passwords a cheap denial of service. So:

- a station that logs in again with the password it last logged in with is recognised by a
  keyed digest (HMAC-SHA256 under a secret made at process start, never stored) of what it
  presented, remembered with the stored hash it was checked against: the hash stays strong at
  rest, and the cache holds nothing a stolen memory dump could replay elsewhere. A new stored
  hash (`fcsbe admin stations set-password`, from any process) no longer matches the
  remembered one, so the next login is checked in full;
- at most `concurrency` hash checks run at once, each in a thread (the event loop, and with it
  every connected station's pings, never waits on one);
- failed logins are counted per station id and per source address over a sliding minute;
  past the limit a login is refused before any hash is computed.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from enum import StrEnum

from fcsbe.server.security.station_passwords import verify_password

__all__ = ["LoginOutcome", "StationLogins"]

_WINDOW_S = 60.0


class LoginOutcome(StrEnum):
    """The answer to one login attempt."""

    ACCEPTED = "accepted"
    REFUSED = "refused"
    """Wrong, missing or unknown credentials."""
    LIMITED = "limited"
    """Too many failed attempts for this station id or source address: not even checked."""


class _Failures:
    """Failure times per key over the last window (bounded: old keys are dropped)."""

    def __init__(self, limit: int, max_keys: int) -> None:
        self.limit = limit
        self.max_keys = max_keys
        self._times: OrderedDict[str, deque[float]] = OrderedDict()

    def _recent(self, key: str, now: float) -> deque[float] | None:
        times = self._times.get(key)
        if times is None:
            return None
        while times and times[0] <= now - _WINDOW_S:
            times.popleft()
        if not times:
            del self._times[key]
            return None
        return times

    def exceeded(self, key: str, now: float) -> bool:
        times = self._recent(key, now)
        return self.limit > 0 and times is not None and len(times) >= self.limit

    def add(self, key: str, now: float) -> None:
        times = self._recent(key, now) or deque()
        times.append(now)
        self._times[key] = times
        self._times.move_to_end(key)
        while len(self._times) > self.max_keys:
            self._times.popitem(last=False)


class StationLogins:
    """One replica's station login checks (see the module's docstring)."""

    def __init__(
        self,
        *,
        concurrency: int = 2,
        failures_per_station: int = 10,
        failures_per_source: int = 100,
        max_entries: int = 200_000,
        verify: Callable[[str, str | None], bool] = verify_password,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._secret = secrets.token_bytes(32)
        self._verified: OrderedDict[str, tuple[bytes, str]] = OrderedDict()
        self._max_entries = max_entries
        self._slots = asyncio.Semaphore(concurrency)
        self._by_station = _Failures(failures_per_station, max_entries)
        self._by_source = _Failures(failures_per_source, max_entries)
        self._verify = verify
        self._clock = clock
        self.hash_checks = 0
        """How many full hash checks ran (what the cache and the limits save)."""

    def _digest(self, station_id: str, password: str) -> bytes:
        message = f"{station_id}\0{password}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).digest()

    async def check(
        self, station_id: str, password: str, stored: str | None, source: str
    ) -> LoginOutcome:
        """Whether `password` is `station_id`'s (whose stored hash is `stored`, None when it
        has none), presented from address `source`."""
        now = self._clock()
        if self._by_station.exceeded(station_id, now) or self._by_source.exceeded(source, now):
            return LoginOutcome.LIMITED
        digest = self._digest(station_id, password)
        known = self._verified.get(station_id)
        if (
            stored is not None
            and known is not None
            and known[1] == stored
            and hmac.compare_digest(known[0], digest)
        ):
            self._verified.move_to_end(station_id)
            return LoginOutcome.ACCEPTED
        async with self._slots:
            self.hash_checks += 1
            valid = await asyncio.to_thread(self._verify, password, stored)
        if not valid or stored is None:
            self._verified.pop(station_id, None)
            now = self._clock()
            self._by_station.add(station_id, now)
            self._by_source.add(source, now)
            return LoginOutcome.REFUSED
        self._verified[station_id] = (digest, stored)
        self._verified.move_to_end(station_id)
        while len(self._verified) > self._max_entries:
            self._verified.popitem(last=False)
        return LoginOutcome.ACCEPTED

    def fail(self, station_id: str, source: str) -> None:
        """Count a login refused before any check (no or malformed credentials)."""
        now = self._clock()
        self._by_station.add(station_id, now)
        self._by_source.add(source, now)

    def forget(self, station_id: str) -> None:
        """Check the station's next login in full (its password was changed here)."""
        self._verified.pop(station_id, None)
