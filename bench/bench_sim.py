"""Simulator benchmark: one step of 100,000 EVSEs, and a 100,000-setpoint fan-out into it.

Goal (quality-goals.md, simulator issue): one `step()` of 100,000 EVSEs takes <= 1 s. Machines
here are shared and noisy, so every figure is a median of several runs and is also printed as a
ratio against a baseline measured in the same run: a plain Python loop that reads and writes
100,000 floats (roughly the least any per-EVSE Python loop can cost). Figures are printed, never
asserted.

    .venv/bin/python -m bench.bench_sim [--evses 100000] [--repeat 7]
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
from collections.abc import Callable
from datetime import timedelta

from bench.report import BenchFigure
from fcsbe.sim import SetpointControl, SimOptions, Simulator
from fcsbe.sim.scenarios import large_fleet

GOAL_STEP_S = 1.0


def _median_s(action: Callable[[], object], repeat: int) -> float:
    """Median wall time of `action` over `repeat` runs (garbage collected before each)."""
    times = []
    for _ in range(repeat):
        gc.collect()
        t0 = time.perf_counter()
        action()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _baseline(n: int) -> Callable[[], None]:
    """Read two floats, compute, write one back, for n elements: the floor of a per-item loop."""
    soc = [50.0] * n
    power = [11_000.0] * n

    def loop() -> None:
        dt_h = 1.0 / 3600.0
        for i in range(n):
            soc[i] = soc[i] + power[i] * dt_h

    return loop


def run_for_report(n: int = 100_000, repeat: int = 3) -> list[BenchFigure]:
    """The simulator's step goal for `python -m bench`: the same operations as `main`, fewer
    of them (a step unmanaged, a step with a setpoint on every EVSE, the setpoint fan-out)."""
    fleet = large_fleet(n, seed=1)
    sim = Simulator.from_scenario(fleet, options=SimOptions(meter_resolution_s=3600.0))
    sim.step(1.0)
    baseline_s = _median_s(_baseline(n), repeat)
    step_s = _median_s(lambda: sim.step(1.0), repeat)
    values = [(-5_000.0 + (k % 16) * 1_000.0) for k in range(n)]
    group = sim.group(sim.evse_ids)
    fan_out_s = _median_s(lambda: sim.apply_setpoints(group, values), repeat)
    managed_s = _median_s(lambda: sim.step(1.0), repeat)
    label = "loop over floats"
    goal = f"<= {GOAL_STEP_S:.0f} s"
    return [
        BenchFigure(
            "SIM",
            f"simulator step(1 s) of {n:,} EVSEs, unmanaged",
            step_s * 1e3,
            "ms",
            goal,
            step_s <= GOAL_STEP_S,
            baseline_s * 1e3,
            label,
        ),
        BenchFigure(
            "SIM",
            f"simulator step(1 s) of {n:,} EVSEs, a setpoint on each",
            managed_s * 1e3,
            "ms",
            goal,
            managed_s <= GOAL_STEP_S,
            baseline_s * 1e3,
            label,
        ),
        BenchFigure(
            "SIM",
            f"apply {n:,} setpoints to the simulator",
            fan_out_s * 1e3,
            "ms",
            "informative",
            None,
            baseline_s * 1e3,
            label,
        ),
    ]


def main() -> None:
    """Build the fleet, time the operations, print a table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--evses", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    n, repeat = args.evses, args.repeat

    t0 = time.perf_counter()
    fleet = large_fleet(n, seed=1)
    built_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    sim = Simulator.from_scenario(fleet, options=SimOptions(meter_resolution_s=3600.0))
    loaded_s = time.perf_counter() - t0
    connected = len(fleet.initial_sessions)
    sim.step(1.0)  # warm up: first bounds, first site balance

    baseline_s = _median_s(_baseline(n), repeat)
    step_s = _median_s(lambda: sim.step(1.0), repeat)

    metered = Simulator.from_scenario(fleet, options=SimOptions(meter_resolution_s=1.0))
    readings_s = _median_s(lambda: (metered.step(1.0), metered.drain_readings()), 3)

    ids = sim.evse_ids
    values = [(-5_000.0 + (k % 16) * 1_000.0) for k in range(n)]
    batch = [(e, SetpointControl(p)) for e, p in zip(ids, values, strict=True)]
    apply_s = _median_s(lambda: sim.apply_many(batch), repeat)
    build_apply_s = _median_s(
        lambda: sim.apply_many((e, SetpointControl(p)) for e, p in zip(ids, values, strict=True)),
        repeat,
    )
    group = sim.group(ids)
    floats_s = _median_s(lambda: sim.apply_setpoints(group, values), repeat)
    step_managed_s = _median_s(lambda: sim.step(1.0), repeat)
    aggregate_s = _median_s(lambda: sim.aggregate(group, with_headroom=False), repeat)
    headroom_s = _median_s(lambda: sim.aggregate(group), 3)
    minute_s = _median_s(lambda: sim.run_until(sim.now + timedelta(minutes=1), 4.0), 3)

    rows = [
        ("baseline: loop over floats", baseline_s, "same-run reference"),
        ("step(1 s), unmanaged", step_s, f"goal <= {GOAL_STEP_S:.1f} s"),
        ("step(1 s), 100k setpoints in force", step_managed_s, f"goal <= {GOAL_STEP_S:.1f} s"),
        ("step(1 s) + readings of every meter", readings_s, "a meter instant"),
        ("apply_many(setpoints), prebuilt", apply_s, "fan-out into the sim"),
        ("apply_many(setpoints), built inline", build_apply_s, "incl. SetpointControl()"),
        ("apply_setpoints(group, floats)", floats_s, "fastest fan-out"),
        ("aggregate(p) over all EVSEs", aggregate_s, ""),
        ("aggregate(p + headroom) over all", headroom_s, ""),
        ("1 min of sim time in 4 s steps", minute_s, "15 steps"),
    ]
    print(
        f"fcsbe.sim benchmark: {n:,} EVSEs in {len(fleet.sites):,} sites, {connected:,} EVs"
        f" connected; fleet built in {built_s:.2f} s, loaded in {loaded_s:.2f} s;"
        f" median of {repeat} runs"
    )
    print(f"{'operation':40} {'seconds':>9} {'x baseline':>11}  note")
    for name, seconds, note in rows:
        print(f"{name:40} {seconds:9.4f} {seconds / baseline_s:11.1f}  {note}")
    worst = max(step_s, step_managed_s)
    verdict = "meets" if worst <= GOAL_STEP_S else "MISSES"
    print(f"step goal: {worst:.3f} s per step of {n:,} EVSEs {verdict} the <= {GOAL_STEP_S} s goal")


if __name__ == "__main__":
    main()
