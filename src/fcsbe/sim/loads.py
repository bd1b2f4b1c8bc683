"""Non-EV power behind a point of connection: household or building load, and PV.

A site's point-of-connection meter measures EV charging plus everything else behind it: a
home's kettle and heat pump, an office's lighting, a roof's PV. Congestion limits (UC 2.7) and
the zero-export rule of V2H (UC 2.6) are judged on that meter, so the simulator needs the other
load too, and it must be deterministic (same seed, same curve) and cheap (it runs for every
site at every step).

- **Load**: a daily curve per kind of site (`LOAD_SHAPES`: a household's evening peak, an
  office building's working day) as a share of the site's peak, interpolated linearly between
  hourly points so that it moves smoothly. Each site gets its own seeded variation: a scale
  (±10 %), a shift of up to ±30 minutes, and a ±5 % step per quarter hour, so two homes of one
  street do not draw the same watt at the same second.
- **PV**: clear sky, a half sine from 06:00 to 18:00 local time (`pv_fraction`); a cloud is
  an override of the irradiance (`Simulator.set_irradiance`).

This module must not read clocks; the local hour arrives as an argument.
"""

from __future__ import annotations

import math
import random
from typing import Literal

__all__ = ["LOAD_SHAPES", "LoadKind", "LoadProfile", "pv_fraction"]

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

_QUARTERS = 96


def pv_fraction(local_hour: float) -> float:
    """Clear-sky PV output as a share of peak: a half sine from 06:00 to 18:00 local time."""
    if 6.0 < local_hour < 18.0:
        return math.sin(math.pi * (local_hour - 6.0) / 12.0)
    return 0.0


class LoadProfile:
    """The daily load curve of one site, with its seeded variation (W at a local hour)."""

    __slots__ = ("_noise", "_points", "_shift_h")

    def __init__(self, kind: str, peak_w: float, seed: int | str, site_id: str) -> None:
        shape = LOAD_SHAPES[kind]
        rng = random.Random(f"{seed}:{site_id}:load")  # noqa: S311 - simulation, not security
        scale = peak_w * rng.uniform(0.9, 1.1)
        self._shift_h = rng.uniform(-0.5, 0.5)
        self._points = [scale * v for v in (*shape, shape[0])]
        self._noise = [rng.uniform(0.95, 1.05) for _ in range(_QUARTERS)]

    def at(self, local_hour: float) -> float:
        """Load (W) at `local_hour` (0-24): the curve between hourly points, times the step of
        its quarter hour."""
        h = (local_hour - 0.5 - self._shift_h) % 24.0
        k = int(h)
        frac = h - k
        points = self._points
        base = points[k] + (points[k + 1] - points[k]) * frac
        return base * self._noise[int(local_hour * 4.0) % _QUARTERS]
