"""Worker loops (started for real, with tiny intervals) and the configuration docs table."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from fcsbe.server import workers
from fcsbe.server.settings import settings_markdown
from fcsbe.server.storage.engine import DatabaseUnreachable
from fcsbe.server.workers import WorkerGroup


async def _run_until(
    done: asyncio.Event, interval_s: float, step: Callable[[], Awaitable[int]]
) -> WorkerGroup:
    """Run `step` in a loop of its own until it sets `done`; the stopped group."""
    group = WorkerGroup()
    group.add("probe", interval_s, step)
    group.start()
    await asyncio.wait_for(done.wait(), timeout=5)
    await group.stop()
    return group


async def test_loop_repeats_while_there_is_work_and_survives_errors() -> None:
    calls: list[int] = []
    done = asyncio.Event()

    async def step() -> int:
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("transient")
        if len(calls) >= 5:
            done.set()
            return 0
        return 1

    group = await _run_until(done, 0.001, step)
    assert len(calls) >= 5
    assert group.tasks[0].last_error is None
    assert group.unhealthy() == []


async def test_an_idle_loop_runs_again_when_its_next_work_is_due() -> None:
    """Work due sooner than the interval (an FS window that starts) shortens the wait; work
    already overdue does not (the loop would spin on a row it cannot do now)."""
    loop = asyncio.get_running_loop()
    due_at = loop.time() + 0.2
    ran: dict[str, list[float]] = {"soon": [], "overdue": []}

    def probe(name: str) -> Callable[[], Awaitable[int]]:
        async def step() -> int:
            ran[name].append(loop.time())
            return 0

        return step

    group = WorkerGroup()
    group.add("soon", 30.0, probe("soon"), due_in=lambda: due_at - loop.time())
    group.add("overdue", 30.0, probe("overdue"), due_in=lambda: -1.0)
    group.start()
    await asyncio.sleep(0.6)
    await group.stop()
    soon = ran["soon"]
    assert len(soon) == 2, soon  # at start, then when due (not again: nothing else is due)
    assert soon[1] >= due_at - 0.01
    assert len(ran["overdue"]) == 1


async def test_a_listening_idle_loop_waits_for_work_not_its_interval() -> None:
    """While work notifications arrive, an idle loop waits for one (or its idle interval, or
    its next known work), not its short polling interval: an idle replica stays idle."""
    runs: list[str] = []

    def probe(name: str) -> Callable[[], Awaitable[int]]:
        async def step() -> int:
            runs.append(name)
            return 0

        return step

    group = WorkerGroup(listening=lambda: True)
    group.add("nothing-due", 0.01, probe("nothing-due"), idle_interval_s=30.0, due_in=lambda: None)
    group.add("far-off", 0.01, probe("far-off"), idle_interval_s=30.0, due_in=lambda: 3600.0)
    group.start()
    await asyncio.sleep(0.3)
    await group.stop()
    assert sorted(runs) == ["far-off", "nothing-due"], runs  # once each, at start


async def test_a_lost_database_is_retried_within_seconds_other_failures_back_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """After an outage a loop resumes soon after the database is back (its pauses stay short),
    while a step that fails for any other reason backs off to the longest pause."""
    pauses: list[float] = []
    pause = asyncio.sleep

    async def sleep(seconds: float) -> None:
        pauses.append(seconds)
        await pause(0)

    monkeypatch.setattr(workers.asyncio, "sleep", sleep)
    failures: list[Exception] = [DatabaseUnreachable("cannot connect: OSError")] * 6
    failures += [RuntimeError("a bug")] * 6
    done = asyncio.Event()

    async def step() -> int:
        if failures:
            raise failures.pop(0)
        done.set()
        return 0

    await _run_until(done, 2.0, step)
    outage, bug = pauses[:6], pauses[6:12]
    assert max(outage) == workers.OUTAGE_RETRY_S
    assert max(bug) == workers.MAX_BACKOFF_S


async def test_readiness_reports_failing_workers(app: FastAPI, http: httpx.AsyncClient) -> None:
    task = app.state.workers.tasks[0]
    task.consecutive_errors = 9
    response = await http.get("/readyz")
    assert response.status_code == 503
    assert response.json()["workers"] == [task.name]


def test_configuration_doc_is_generated_from_settings() -> None:
    doc = (Path(__file__).resolve().parents[3] / "docs" / "configuration.md").read_text()
    assert settings_markdown() in doc, "regenerate the table in docs/configuration.md"
