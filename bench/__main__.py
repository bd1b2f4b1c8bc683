"""Run every benchmark and write one report: `python -m bench` (or `make bench`).

Discovers the modules `bench/bench_*.py` that expose `run_for_report() -> list[BenchFigure]`,
runs them one after the other (each starts and stops what it needs), prints one table and
writes it to bench/results/latest.md with the run's date and machine. A module that fails is
reported as such and the others still run.

    .venv/bin/python -m bench                    # everything (about 2-3 minutes)
    .venv/bin/python -m bench --only accept,client
"""

from __future__ import annotations

import argparse
import importlib
import os
import platform
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path

from bench.report import BenchFigure, render_table

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "latest.md"


def discover() -> list[str]:
    """Names of the benchmark modules (`accept` for bench/bench_accept.py), sorted."""
    return sorted(path.stem.removeprefix("bench_") for path in HERE.glob("bench_*.py"))


def machine() -> str:
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, load average {load:.1f} at start"
    )


def run(names: list[str]) -> tuple[list[BenchFigure], list[str]]:
    figures: list[BenchFigure] = []
    notes: list[str] = []
    for name in names:
        module = importlib.import_module(f"bench.bench_{name}")
        report = getattr(module, "run_for_report", None)
        if report is None:
            notes.append(f"bench_{name}: no run_for_report(), skipped")
            continue
        started = time.perf_counter()
        print(f"== bench_{name}", file=sys.stderr, flush=True)
        try:
            produced = report()
        except Exception as exc:
            traceback.print_exc()
            notes.append(f"bench_{name}: failed ({exc.__class__.__name__}: {exc})")
            continue
        figures.extend(produced)
        notes.append(f"bench_{name}: {time.perf_counter() - started:.0f} s")
    return figures, notes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="comma-separated module names (e.g. accept,client)")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    names = discover()
    if args.only:
        wanted = {n.strip().removeprefix("bench_") for n in args.only.split(",")}
        names = [n for n in names if n in wanted]
    started = datetime.now(UTC)
    where = machine()
    figures, notes = run(names)
    table = render_table(figures)
    print(table)
    for note in notes:
        print(note)
    missed = [f"{f.goal_id} {f.figure}" for f in figures if f.met is False]
    document = [
        "# Benchmark results",
        "",
        f"Run {started:%Y-%m-%d %H:%M} UTC on {where}. Machines here are shared and noisy:",
        "compare ratios against the same-run baselines, not absolute figures across runs.",
        "Produced by `make bench` (`python -m bench`); see docs/operations.md.",
        "",
        table,
        "Goals missed: " + (", ".join(missed) if missed else "none") + ".",
        "",
        "Modules: " + "; ".join(notes) + ".",
        "",
    ]
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text("\n".join(document), encoding="utf-8")
    print(f"wrote {args.output}", file=sys.stderr)


if __name__ == "__main__":
    main()
