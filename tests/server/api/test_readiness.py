"""`/readyz` reports a stalled pool and stalled background loops (issue 17, item 1), on both
backends: before, it waited for a connection as long as any request (30 s on SQLite) and knew
only of loops whose steps failed, so a held pool or a loop stuck in a step read as ready."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from fcsbe.server.settings import Settings
from fcsbe.server.workers import WorkerGroup


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "db_pool_size": 1,
            "db_max_overflow": 0,
            "readiness_timeout_s": 0.2,
            "worker_stall_s": 0.01,
        }
    )


async def test_a_held_pool_is_not_ready(app: FastAPI, http: httpx.AsyncClient) -> None:
    assert (await http.get("/readyz")).status_code == 200
    async with app.state.engine.connect() as held:  # the only connection, as a stuck request
        await held.execute(text("SELECT 1"))
        ready = await http.get("/readyz")
    assert ready.status_code == 503
    assert ready.headers["retry-after"]
    assert "stalled" in ready.json()["database"]
    assert (await http.get("/readyz")).status_code == 200


async def test_a_loop_stuck_in_a_step_is_not_ready(app: FastAPI, http: httpx.AsyncClient) -> None:
    started = asyncio.Event()
    release = asyncio.Event()

    async def stuck() -> int:
        started.set()
        await release.wait()
        return 0

    async def idle() -> int:
        return 0

    group = WorkerGroup()
    group.add("stuck-loop", 0.001, stuck)
    group.add("idle-loop", 0.001, idle)
    app.state.workers = group
    group.start()
    try:
        await started.wait()
        await asyncio.sleep(0.05)  # past worker_stall_s (0.01 s) and 3 intervals
        ready = await http.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["stalled_workers"] == ["stuck-loop"]
        release.set()
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        assert group.stalled(0.01) == []
    finally:
        await group.stop()
