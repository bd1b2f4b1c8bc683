"""Meter readings, FFR evidence samples, and the bounded buffer that can corrupt their delivery.

Readings are what the server turns into measurement series, detailed service records and proofs
of work, so the buffer can also misbehave on purpose, the way real meter back-ends do: drop a
reading, deliver it twice, or deliver it late (after newer ones). The reliability tests (R7) need
that, and need it reproducible, so faults draw from their own seeded generator and never disturb
the physics' random stream.

Readings are `NamedTuple`s: a fleet of 100,000 EVSEs emits 100,000 of them per meter interval,
and a tuple is the cheapest immutable record Python has.

This module must not know about EVSE physics; it only carries and delivers values.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Literal, NamedTuple

__all__ = [
    "QUALITY_MEASURED",
    "FaultOptions",
    "FfrSample",
    "MeterKind",
    "MeterReading",
    "ReadingBuffer",
]

QUALITY_MEASURED: Final = "MEASURED"
"""Same token as `fcsbe.model.enums.MeasurementQuality.MEASURED`."""

MeterKind = Literal["EVSE", "SITE", "PV", "STORAGE"]


class MeterReading(NamedTuple):
    """One reading of one meter. Energies are cumulative registers that never decrease.

    `meter_id` is the EVSE id, the site id (point of connection), or `<site_id>/PV` and
    `<site_id>/STORAGE` for the DERs of an EVSS. `soc_pct` is the connected EV's SoC (EVSE) or
    the storage SoC (SITE, STORAGE), None when there is none. `p_w` is the power during the last
    simulated step, positive for import.
    """

    meter_id: str
    kind: MeterKind
    at: datetime
    p_w: float
    q_var: float
    e_import_wh: float
    e_export_wh: float
    soc_pct: float | None
    f_hz: float
    u_v: float
    quality: str = QUALITY_MEASURED


class FfrSample(NamedTuple):
    """High-resolution evidence of one FFR activation at one EVSE (UC 2.4 proof of work).

    `delivered_w = p_w - baseline_w` is the response actually delivered; `commanded_delta_w` is
    what the local controller asked for at that instant (the ramp, then the full delta).
    """

    evse_id: str
    at: datetime
    f_hz: float
    p_w: float
    baseline_w: float
    commanded_delta_w: float
    delivered_w: float
    phase: Literal["TRIGGERED", "DETECTING", "ACTIVE", "DEACTIVATING", "ENDED", "DROOP"]


@dataclass(frozen=True, slots=True)
class FaultOptions:
    """Delivery faults, as independent shares of readings: dropped, duplicated, or late.

    The three are mutually exclusive per reading, so the counts add up exactly. A late reading is
    delivered `late_by_s` after its time, i.e. after newer readings of the same meter.
    """

    drop_rate: float = 0.0
    duplicate_rate: float = 0.0
    late_rate: float = 0.0
    late_by_s: float = 120.0
    seed: int = 0

    def __post_init__(self) -> None:
        rates = (self.drop_rate, self.duplicate_rate, self.late_rate)
        if any(not 0 <= r <= 1 for r in rates) or sum(rates) > 1:
            raise ValueError("fault rates must be within 0-1 and add up to at most 1")
        if self.late_by_s < 0:
            raise ValueError("late_by_s must be >= 0")


class ReadingBuffer:
    """Bounded FIFO of readings waiting for the adapter, with optional fault injection.

    When the adapter falls behind by more than `limit` readings the oldest are discarded and
    counted in `overflowed`: the simulator must keep running whatever its consumer does.
    """

    __slots__ = (
        "_faults",
        "_items",
        "_late",
        "_late_seq",
        "_limit",
        "_rng",
        "delayed",
        "dropped",
        "duplicated",
        "generated",
        "overflowed",
    )

    def __init__(self, limit: int, faults: FaultOptions | None = None) -> None:
        if limit <= 0:
            raise ValueError("limit must be > 0")
        self._limit = limit
        self._faults = faults
        self._rng = random.Random(faults.seed if faults else 0)  # noqa: S311 - fault injection
        self._items: list[MeterReading] = []
        self._late: list[tuple[int, int, MeterReading]] = []
        self._late_seq = 0
        self.generated = 0
        self.dropped = 0
        self.duplicated = 0
        self.delayed = 0
        self.overflowed = 0

    def offer(self, readings: list[MeterReading], now_us: int) -> None:
        """Take freshly measured readings, applying the configured delivery faults."""
        self.generated += len(readings)
        faults = self._faults
        if faults is None or not (faults.drop_rate or faults.duplicate_rate or faults.late_rate):
            self._items.extend(readings)
        else:
            self._offer_faulty(readings, now_us, faults)
        self._trim()

    def _offer_faulty(self, readings: Iterable[MeterReading], now_us: int, f: FaultOptions) -> None:
        drop = f.drop_rate
        dup = drop + f.duplicate_rate
        late = dup + f.late_rate
        late_us = round(f.late_by_s * 1_000_000)
        draw = self._rng.random
        items = self._items
        for reading in readings:
            r = draw()
            if r < drop:
                self.dropped += 1
            elif r < dup:
                items.append(reading)
                items.append(reading)
                self.duplicated += 1
            elif r < late:
                self._late_seq += 1
                heapq.heappush(self._late, (now_us + late_us, self._late_seq, reading))
                self.delayed += 1
            else:
                items.append(reading)

    def release_due(self, now_us: int) -> None:
        """Deliver the late readings whose delay has passed (they arrive out of order)."""
        late = self._late
        if not late or late[0][0] > now_us:
            return
        while late and late[0][0] <= now_us:
            self._items.append(heapq.heappop(late)[2])
        self._trim()

    def _trim(self) -> None:
        excess = len(self._items) - self._limit
        if excess > 0:
            del self._items[:excess]
            self.overflowed += excess

    def drain(self) -> list[MeterReading]:
        """Hand over everything delivered so far, oldest delivery first."""
        items, self._items = self._items, []
        return items

    @property
    def pending_late(self) -> int:
        """Readings held back by the late fault and not yet delivered."""
        return len(self._late)

    def __len__(self) -> int:
        return len(self._items)
