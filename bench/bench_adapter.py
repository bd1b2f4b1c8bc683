"""Station adapter benchmark: the simulator stepped and steered through the `StationAdapter`.

Goal (issue 5): one step of 100,000 EVSEs <= 1 s, measured here through the adapter (with its
command bookkeeping and expiry check) next to the raw simulator step, plus a 100,000-setpoint
fan-out as adapter commands (what the FS execution hands over every 4 s). Figures are medians,
also printed as ratios against a same-run baseline (the raw simulator step), never asserted.

    .venv/bin/python -m bench.bench_adapter [--evses 100000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import time
from collections.abc import Callable
from datetime import timedelta

from fcsbe.server.adapters.base import Command, ControlLevel, ControlTarget, SetpointCommand
from fcsbe.server.adapters.simulated import SimulatedStations
from fcsbe.sim import SimOptions, VirtualClock
from fcsbe.sim.scenarios import large_fleet

GOAL_STEP_S = 1.0


def _median_s(action: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        gc.collect()
        t0 = time.perf_counter()
        action()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    """Build the fleet behind the adapter, time the operations, print a table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--evses", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    n, repeat = args.evses, args.repeat
    fleet = large_fleet(n, seed=1)
    clock = VirtualClock(fleet.start)
    t0 = time.perf_counter()
    stations = SimulatedStations(fleet, clock, options=SimOptions(meter_resolution_s=3600.0))
    loaded_s = time.perf_counter() - t0
    sim = stations.simulator
    sim.step(1.0)

    raw_s = _median_s(lambda: sim.step(1.0), repeat)
    adapter_s = _median_s(lambda: stations.advance(1.0), repeat)
    ids = sim.evse_ids
    commands = [
        Command(ControlTarget(ControlLevel.EVSE, e), SetpointCommand(-5_000.0 + (k % 16) * 1_000.0))
        for k, e in enumerate(ids)
    ]
    loop = asyncio.new_event_loop()
    fan_out_s = _median_s(lambda: loop.run_until_complete(stations.apply_many(commands)), repeat)
    managed_s = _median_s(lambda: stations.advance(1.0), repeat)
    until = sim.now + timedelta(hours=1)
    expiring = [Command(c.target, c.control, fs_id="fs-bench", valid_until=until) for c in commands]
    slow_s = _median_s(lambda: loop.run_until_complete(stations.apply_many(expiring)), 3)
    sessions_s = _median_s(lambda: loop.run_until_complete(stations.sessions()), 3)
    loop.close()

    rows = [
        ("baseline: raw simulator step(1 s)", raw_s, "same-run reference"),
        ("adapter advance(1 s), unmanaged", adapter_s, f"goal <= {GOAL_STEP_S:.1f} s"),
        ("adapter apply_many(100k setpoints)", fan_out_s, "fast path"),
        ("adapter advance(1 s), setpoints in force", managed_s, f"goal <= {GOAL_STEP_S:.1f} s"),
        ("apply_many(100k, with valid_until)", slow_s, "fast path, one expiry"),
        ("sessions() snapshot of every EV", sessions_s, "what the sync step reads"),
    ]
    print(
        f"station adapter benchmark: {n:,} EVSEs in {len(fleet.sites):,} sites, "
        f"{len(fleet.initial_sessions):,} EVs; adapter built in {loaded_s:.2f} s; "
        f"median of {repeat} runs"
    )
    print(f"{'operation':42} {'seconds':>9} {'x baseline':>11}  note")
    for name, seconds, note in rows:
        print(f"{name:42} {seconds:9.4f} {seconds / raw_s:11.2f}  {note}")
    worst = max(adapter_s, managed_s)
    verdict = "meets" if worst <= GOAL_STEP_S else "MISSES"
    print(f"step goal: {worst:.3f} s per step through the adapter {verdict} <= {GOAL_STEP_S} s")


if __name__ == "__main__":
    main()
