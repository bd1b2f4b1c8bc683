"""Worker loops (started for real, with tiny intervals) and the configuration docs table."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
from fastapi import FastAPI

from fcsbe.server.settings import settings_markdown
from fcsbe.server.workers import WorkerGroup


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

    group = WorkerGroup()
    group.add("probe", 0.001, step)
    group.start()
    await asyncio.wait_for(done.wait(), timeout=5)
    await group.stop()
    assert len(calls) >= 5
    assert group.tasks[0].last_error is None
    assert group.unhealthy() == []


async def test_readiness_reports_failing_workers(app: FastAPI, http: httpx.AsyncClient) -> None:
    task = app.state.workers.tasks[0]
    task.consecutive_errors = 9
    response = await http.get("/readyz")
    assert response.status_code == 503
    assert response.json()["workers"] == [task.name]


def test_configuration_doc_is_generated_from_settings() -> None:
    doc = (Path(__file__).resolve().parents[3] / "docs" / "configuration.md").read_text()
    assert settings_markdown() in doc, "regenerate the table in docs/configuration.md"
