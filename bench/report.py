"""The benchmark report: one `BenchFigure` per measured goal, one table for all of them.

Every benchmark module `bench/bench_*.py` exposes `run_for_report() -> list[BenchFigure]`;
`python -m bench` (`make bench`) runs them all, prints the table and writes
bench/results/latest.md. A figure carries its same-run baseline (machines here are shared and
noisy, so the ratio is the figure to compare across runs), the goal in words, and whether it was
met; `met` is None where a figure is informative only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["BenchFigure", "render_table"]


@dataclass(frozen=True, slots=True)
class BenchFigure:
    """One measured figure against its goal."""

    goal_id: str
    """Quality goal id (P1..P7) or another short tag."""
    figure: str
    value: float
    unit: str
    goal: str
    """The goal in words, e.g. "≥ 35 % of baseline"."""
    met: bool | None
    baseline: float | None = None
    baseline_label: str = ""

    @property
    def ratio(self) -> float | None:
        """value / baseline, when there is a baseline."""
        if self.baseline is None or self.baseline == 0 or math.isnan(self.baseline):
            return None
        return self.value / self.baseline


def _number(value: float) -> str:
    if math.isnan(value):
        return "n/a"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}"


def _ratio(figure: BenchFigure) -> str:
    ratio = figure.ratio
    if ratio is None:
        return ""
    return f"{ratio * 100:.1f} %" if ratio < 1 else f"{ratio:,.2f}x"


def render_table(figures: list[BenchFigure]) -> str:
    """A Markdown table: goal, figure, value, same-run baseline, ratio, goal, met?"""
    lines = [
        "| goal | figure | value | same-run baseline | ratio | goal | met? |",
        "|---|---|---|---|---|---|---|",
    ]
    for f in figures:
        baseline = ""
        if f.baseline is not None:
            baseline = f"{_number(f.baseline)} {f.unit} ({f.baseline_label})"
        met = {True: "yes", False: "**no**", None: "-"}[f.met]
        lines.append(
            f"| {f.goal_id} | {f.figure} | {_number(f.value)} {f.unit} | {baseline} | "
            f"{_ratio(f)} | {f.goal} | {met} |"
        )
    return "\n".join(lines) + "\n"
