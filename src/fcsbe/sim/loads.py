"""Non-EV power behind a point of connection: household or building load, and PV.

A site's point-of-connection meter measures EV charging plus everything else behind it: a
home's kettle and heat pump, an office's lighting, a roof's PV. Congestion limits (UC 2.7) and
the zero-export rule of V2H (UC 2.6) are judged on that meter, so the simulator needs the other
load too, and it must be deterministic (same seed, same curve) and cheap (it runs for every
site at every step).

- **Load**: a daily curve per kind of site (`LOAD_SHAPES`: a household's evening peak, an
  office building's working day) as a share of the site's peak, interpolated linearly between
  hourly points and held for each quarter hour. Each site gets its own seeded variation: a
  scale (±10 %), a shift of up to ±30 minutes, and ±5 % per quarter hour, so two homes of one
  street do not draw the same watt at the same second. Precomputed per site (96 values), so a
  step only looks one up.
- **PV**: clear sky, a half sine from 06:00 to 18:00 local time (`pv_fraction`); a cloud is
  an override of the irradiance (`Simulator.set_irradiance`).

This module must not read clocks; the local hour arrives as an argument.
"""

from __future__ import annotations

import math
import random
from typing import Literal

__all__ = ["LOAD_SHAPES", "QUARTERS", "LoadKind", "LoadProfile", "pv_fraction"]

LoadKind = Literal["HOUSEHOLD", "BUILDING"]

LOAD_SHAPES: dict[str, tuple[float, ...]] = {
    "HOUSEHOLD": (
        0.35, 0.3, 0.3, 0.3, 0.3, 0.35, 0.5, 0.7, 0.65, 0.5, 0.45, 0.5,
        0.55, 0.5, 0.45, 0.45, 0.55, 0.75, 0.95, 1.0, 0.9, 0.75, 0.55, 0.45,
    ),
    "BUILDING": (
        0.3, 0.3, 0.3, 0.3, 0.3, 0.35, 0.5, 0.75, 0.95, 1.0, 1.0, 0.95,
        0.9, 0.95, 1.0, 0.95, 0.85, 0.7, 0.5, 0.4, 0.35, 0.3, 0.3, 0.3,
    ),
}  # fmt: skip
"""Load per local hour (value at the middle of the hour) as a share of the site's peak."""

QUARTERS = 96
"""The load changes every quarter hour (the settlement period of most European markets)."""


def pv_fraction(local_hour: float) -> float:
    """Clear-sky PV output as a share of peak: a half sine from 06:00 to 18:00 local time."""
    if 6.0 < local_hour < 18.0:
        return math.sin(math.pi * (local_hour - 6.0) / 12.0)
    return 0.0


class LoadProfile:
    """The daily load curve of one site, with its seeded variation: one value per quarter hour
    (the curve at the quarter's middle times the quarter's step), looked up, never computed,
    at each step."""

    __slots__ = ("quarters",)

    def __init__(self, kind: str, peak_w: float, seed: int | str, site_id: str) -> None:
        shape = LOAD_SHAPES[kind]
        rng = random.Random(f"{seed}:{site_id}:load")  # noqa: S311 - simulation, not security
        scale = peak_w * rng.uniform(0.9, 1.1)
        shift_h = rng.uniform(-0.5, 0.5)
        points = [scale * v for v in (*shape, shape[0])]
        self.quarters: list[float] = []
        for q in range(QUARTERS):
            h = ((q + 0.5) / 4.0 - 0.5 - shift_h) % 24.0
            k = int(h)
            base = points[k] + (points[k + 1] - points[k]) * (h - k)
            self.quarters.append(base * rng.uniform(0.95, 1.05))

    def at(self, local_hour: float) -> float:
        """Load (W) at `local_hour` (0-24)."""
        return self.quarters[int(local_hour * 4.0) % QUARTERS]
