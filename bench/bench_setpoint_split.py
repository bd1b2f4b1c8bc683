"""P3 part: splitting one aggregate setpoint over N EVSEs (the dynamic-update fast path).

Prints, for 10,000 and 100,000 EVSEs, the best-of-N time of
- `split_setpoint` over a prepared `SplitBasis` (the cost of every dynamic update),
- `SplitBasis.for_setpoint` (the cost of preparing it, once per FS or EV change),
and their ratio to a same-run baseline: one plain list comprehension over the same EVSEs.

Run: .venv/bin/python -m bench.bench_setpoint_split
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from bench.report import BenchFigure
from fcsbe.server.planning import EvseState, SplitBasis, split_setpoint

NOW = datetime(2026, 3, 2, 17, 0, tzinfo=UTC)
REPEATS = 7


def fleet(n: int, seed: int = 63382) -> list[EvseState]:
    """N connected EVSEs with varied headroom, V2G rights and departure needs."""
    rng = random.Random(seed)
    evses = []
    for i in range(n):
        v2g = rng.random() < 0.3
        evses.append(
            EvseState(
                evse_id=f"NL*ABC*E{i}*1",
                site_id=f"site-{i // 20}",
                connected=True,
                p_w=rng.uniform(0, 11_000),
                max_import_w=rng.choice((3_700.0, 7_400.0, 11_000.0, 22_000.0)),
                max_export_w=rng.choice((0.0, 7_400.0, 11_000.0)) if v2g else 0.0,
                v2g_allowed=v2g,
                departure=NOW + timedelta(minutes=rng.randint(30, 600)),
                energy_to_min_soc_wh=rng.choice((0.0, 0.0, 5_000.0, 20_000.0)),
            )
        )
    return evses


def best(work: Callable[[], object]) -> float:
    """Best wall time of REPEATS runs, in seconds."""
    times = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return min(times)


GOALS_MS = {10_000: 100.0, 100_000: 1000.0}


def measure(n: int) -> tuple[float, float, float]:
    """(baseline, split, basis build) best times in seconds for N EVSEs."""
    evses = fleet(n)
    basis = SplitBasis.for_setpoint(evses, NOW)
    total = 0.6 * basis.sum_hi
    hi = [e.max_import_w for e in evses]
    baseline = best(lambda: [h * 0.6 for h in hi])
    split = best(lambda: split_setpoint(total, basis))
    build = best(lambda: SplitBasis.for_setpoint(evses, NOW))
    shares = split_setpoint(total, basis)
    assert abs(sum(shares) - total) < 1e-6 * abs(total)
    return baseline, split, build


def main() -> None:
    print(f"P3 setpoint split (best of {REPEATS})")
    for n in (10_000, 100_000):
        baseline, split, build = measure(n)
        print(
            f"N={n:>7,}: baseline list comprehension {baseline * 1e3:7.2f} ms | "
            f"split_setpoint {split * 1e3:7.2f} ms ({split / baseline:4.2f}x) | "
            f"SplitBasis.for_setpoint {build * 1e3:7.2f} ms ({build / baseline:4.2f}x)"
        )


def run_for_report() -> list[BenchFigure]:
    """P3 (split part) for `python -m bench`: the split alone, and split plus basis."""
    figures = []
    for n, goal_ms in GOALS_MS.items():
        baseline, split, build = measure(n)
        label = "list comprehension over the EVSEs"
        figures.append(
            BenchFigure(
                "P3",
                f"split one setpoint over {n:,} EVSEs (prepared basis)",
                split * 1e3,
                "ms",
                f"<= {goal_ms:,.0f} ms (split part)",
                split * 1e3 <= goal_ms,
                baseline * 1e3,
                label,
            )
        )
        figures.append(
            BenchFigure(
                "P3",
                f"prepare the split basis of {n:,} EVSEs",
                build * 1e3,
                "ms",
                "once per FS or EV change",
                None,
                baseline * 1e3,
                label,
            )
        )
    return figures


if __name__ == "__main__":
    main()
