"""The demo on a terminal: `rich` progress while the story runs, then the summary tables."""

from __future__ import annotations

import asyncio
from types import TracebackType
from typing import Self

from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from fcsbe.demo.outcome import STEPS, DemoOptions, DemoReport, StepResult
from fcsbe.demo.runner import run_story
from fcsbe.model import FsResult

__all__ = ["ConsoleReporter", "fs_table", "run_demo", "steps_table"]

_DECISIONS = {FsResult.PARTIALLY_ACCEPTED: "PARTIAL"}
_MARKS = {"ok": "[green]✔[/]", "failed": "[red]✘[/]", "skipped": "[dim]-[/]"}


class ConsoleReporter:
    """Shows one progress bar over the steps, the running step, and a line per step done."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total}"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )
        self._task: TaskID | None = None
        self._title = ""

    def __enter__(self) -> Self:
        self._progress.start()
        self._task = self._progress.add_task("starting", total=len(STEPS))
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._progress.stop()

    def _describe(self, text: str) -> None:
        if self._task is not None:
            self._progress.update(self._task, description=text)

    def step_started(self, key: str, title: str) -> None:
        self._title = title
        self._describe(title)

    def step_note(self, text: str) -> None:
        self._describe(f"{self._title}: [dim]{text}[/]")

    def step_finished(self, result: StepResult) -> None:
        if self._task is not None:
            self._progress.advance(self._task)
        if result.status == "skipped":
            return
        timing = f"[dim]{result.seconds:5.1f} s[/]"
        self.console.print(f"{_MARKS[result.status]} {timing} {result.title}: {result.detail}")


def steps_table(report: DemoReport) -> Table:
    """Every step: status, time, what happened."""
    table = Table(title=f"fcsbe demo: aggregator {report.party_id}", title_justify="left")
    table.add_column("", no_wrap=True)
    table.add_column("Step")
    table.add_column("Time", justify="right", no_wrap=True)
    table.add_column("Result")
    for step in report.steps:
        table.add_row(_MARKS[step.status], step.title, f"{step.seconds:.1f} s", step.detail)
    return table


def fs_table(report: DemoReport) -> Table:
    """Every FS: where it ran, the decision, what the FO did, the record and the proof."""
    table = Table(title="Flexibility services", title_justify="left")
    table.add_column("FS type", no_wrap=True)
    table.add_column("Site", no_wrap=True)
    table.add_column("Decision", no_wrap=True)
    table.add_column("Committed", justify="right", no_wrap=True)
    table.add_column("Control", no_wrap=True)
    table.add_column("State", no_wrap=True)
    table.add_column("Notif.", justify="right")
    table.add_column("Delivered", justify="right", no_wrap=True)
    table.add_column("Proof of work", no_wrap=True)
    for fs in report.services:
        table.add_row(
            fs.fs_type.value,
            fs.planned.site_id,
            _DECISIONS.get(fs.result, fs.result.value) if fs.result else "-",
            f"{fs.committed_w / 1000:.1f} kW" if fs.committed_w is not None else "-",
            fs.control or "-",
            fs.state.value if fs.state else "-",
            str(fs.notifications),
            f"{fs.delivered_wh:.1f} Wh" if fs.delivered_wh is not None else "-",
            fs.proof or "-",
        )
    return table


def run_demo(options: DemoOptions, console: Console | None = None) -> DemoReport:
    """Run the story with progress on `console`, then print the tables; returns the report."""
    if console is None:
        console = Console()
        if not console.is_terminal:  # a log or a pipe: wide enough for the tables
            console = Console(width=120)
    console.print(f"fcsbe demo against [bold]{options.server}[/] as {options.party_id}")
    with ConsoleReporter(console) as reporter:
        report = asyncio.run(run_story(options, reporter))
    console.print()
    console.print(steps_table(report))
    if report.services:
        console.print(fs_table(report))
    verdict = "[green]all steps passed[/]" if report.ok else "[red]the demo failed[/]"
    console.print(verdict)
    return report
