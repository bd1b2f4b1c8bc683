"""Runs the demo's steps in order: each is timed and reported, and the first failure ends the
story, because every step needs the ones before it (no contract, no FS; no FS, no record); the
steps after a failure are reported as skipped.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from fcsbe.demo.outcome import (
    STEPS,
    DemoOptions,
    DemoReport,
    Reporter,
    StepResult,
    StepStatus,
    failure_reason,
)
from fcsbe.demo.story import Story

__all__ = ["run_story"]


async def run_story(options: DemoOptions, reporter: Reporter) -> DemoReport:
    """Run every step in order; a failure stops the story and skips the rest."""
    story = Story(options, reporter)
    failed = False
    try:
        for key, title in STEPS:
            if failed:
                result = StepResult(key, title, "skipped", 0.0, "")
                story.report.steps.append(result)
                reporter.step_finished(result)
                continue
            reporter.step_started(key, title)
            started = time.monotonic()
            step: Callable[[], Awaitable[str]] = getattr(story, key)
            try:
                detail = await step()
                status: StepStatus = "ok"
            except Exception as exc:  # any failure is reported, and ends the story
                detail, status, failed = failure_reason(exc), "failed", True
            result = StepResult(key, title, status, time.monotonic() - started, detail)
            story.report.steps.append(result)
            reporter.step_finished(result)
    finally:
        story.report.services = story.services
        await story.close()
    return story.report
