"""R2: PostgreSQL cut and restored under load: 503 + Retry-After fast, no acknowledged loss.

A loopback TCP proxy stands between the app and PostgreSQL. Eight senders post FS requests
through the in-process app; the proxy is cut (open connections dropped, new ones refused) for
two seconds, then restored. Goals (quality-goals.md, R2): every refusal during the outage is a
503 problem with Retry-After, answered within 1 s, never a 500; every FS acknowledged with a 2xx
is in the database afterwards; a request succeeds within 5 s of the restore; a retry of a
refused request with the same Idempotency-Key then succeeds exactly once. PostgreSQL only
(the embedded SQLite has no network to lose); bounded, self-stopping, well under a minute.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from fcsbe.server.app import create_app
from fcsbe.server.settings import Settings
from fcsbe.server.storage.flexibility_services import FlexibilityServiceRow
from tests.reliability.tcp_proxy import TcpProxy
from tests.support.databases import empty_all
from tests.support.factories import make_fo
from tests.support.fs_fixtures import make_contract, make_site, request_body

pytestmark = pytest.mark.slow

SENDERS = 8
OUTAGE_S = 2.0
FAIL_FAST_S = 1.0
RECOVERY_GOAL_S = 5.0
PROBLEM_JSON = "application/problem+json"


@dataclass(frozen=True)
class Outcome:
    fs_id: str
    started: float
    finished: float
    status: int
    retry_after: str | None
    content_type: str


@dataclass
class Load:
    """Senders posting fresh FS requests until stopped; every outcome is kept."""

    http: httpx.AsyncClient
    token: str
    outcomes: list[Outcome] = field(default_factory=list)
    stopping: bool = False
    bodies: dict[str, dict[str, Any]] = field(default_factory=dict)

    async def post(self, fs_id: str) -> Outcome:
        started = time.perf_counter()
        # A retry sends the very same request: a 503 can come after a commit whose answer was
        # lost with the connection, and then only the same body replays the stored receipt.
        body = self.bodies.setdefault(fs_id, request_body(fs_id))
        response = await self.http.post(
            "/v1/flexibility-services",
            json=body,
            headers={"authorization": f"Bearer {self.token}", "idempotency-key": f"k-{fs_id}"},
        )
        return Outcome(
            fs_id,
            started,
            time.perf_counter(),
            response.status_code,
            response.headers.get("retry-after"),
            response.headers.get("content-type", ""),
        )

    async def _sender(self) -> None:
        while not self.stopping:
            self.outcomes.append(await self.post(f"fs-{uuid.uuid4().hex[:12]}"))
            await asyncio.sleep(0.005)  # bounded load: at most ~200 req/s per sender

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        senders = [asyncio.create_task(self._sender()) for _ in range(SENDERS)]
        try:
            yield
        finally:
            self.stopping = True
            await asyncio.wait_for(asyncio.gather(*senders), timeout=10)

    def acknowledged(self) -> set[str]:
        return {o.fs_id for o in self.outcomes if 200 <= o.status < 300}


def _after(outcomes: list[Outcome], restored_at: float) -> str:
    """What the requests sent after the restore got (a failure message's detail)."""
    later = [o for o in outcomes if o.started >= restored_at]
    statuses = sorted({o.status for o in later})
    slowest = max((o.finished - o.started for o in later), default=0.0)
    return f"{len(later)} answered, statuses {statuses}, slowest {slowest:.2f} s"


async def until(condition: Callable[[], bool], timeout_s: float) -> bool:
    """Poll `condition` in short steps until it holds or `timeout_s` passes."""
    deadline = time.perf_counter() + timeout_s
    while not condition():
        if time.perf_counter() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True


async def pause(seconds: float) -> None:
    """Let the load run for `seconds` (the outage is deliberately timed)."""
    end = time.perf_counter() + seconds
    await until(lambda: time.perf_counter() >= end, seconds + 1)


def _settings(database_url: str, proxy_port: int, data_dir: Path) -> Settings:
    proxied = make_url(database_url).set(host="127.0.0.1", port=proxy_port)
    return Settings(
        database_url=proxied.render_as_string(hide_password=False),
        auto_migrate=False,
        data_dir=data_dir,
        log_level="ERROR",
        workers_enabled=False,
        db_pool_timeout_s=0.5,
        db_connect_timeout_s=0.5,
        db_command_timeout_s=2.0,
    )


async def _stored(database_url: str, fs_ids: set[str]) -> dict[str, int]:
    """How many rows each fs_id has, read straight from PostgreSQL (not through the proxy)."""
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            statement = (
                select(FlexibilityServiceRow.fs_id, func.count())
                .where(FlexibilityServiceRow.fs_id.in_(sorted(fs_ids)))
                .group_by(FlexibilityServiceRow.fs_id)
            )
            return {fs_id: int(n) for fs_id, n in (await connection.execute(statement)).all()}
    finally:
        await engine.dispose()


@asynccontextmanager
async def proxied_app(
    postgresql_url: str, tmp_path: Path
) -> AsyncIterator[tuple[FastAPI, TcpProxy]]:
    direct = create_async_engine(postgresql_url)
    await empty_all(direct)
    await direct.dispose()
    url = make_url(postgresql_url)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    await proxy.start()
    app = create_app(_settings(postgresql_url, proxy.port, tmp_path / "var"))
    try:
        async with app.router.lifespan_context(app):
            yield app, proxy
    finally:
        await proxy.close()


async def test_database_outage_answers_503_fast_and_loses_nothing_acknowledged(
    postgresql_url: str, tmp_path: Path
) -> None:
    async with proxied_app(postgresql_url, tmp_path) as (app, proxy):
        factory = app.state.session_factory
        token = await make_fo(factory, "FO-A")
        await make_site(factory, "s1")
        await make_contract(factory, "FO-A")
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://fcsbe.test") as http:
            load = Load(http, token)
            async with load.running():
                assert await until(lambda: len(load.acknowledged()) >= SENDERS, 30)
                await proxy.cut()
                cut_at = time.perf_counter()
                await pause(OUTAGE_S)
                await proxy.restore()
                restored_at = time.perf_counter()
                assert await until(
                    lambda: any(
                        o.status == 202 and o.started >= restored_at for o in load.outcomes
                    ),
                    RECOVERY_GOAL_S + 5,
                ), f"no request succeeded after the restore: {_after(load.outcomes, restored_at)}"
            outcomes = load.outcomes

            statuses = {o.status for o in outcomes}
            assert statuses <= {202, 503}, f"unexpected statuses: {statuses}"
            refused = [o for o in outcomes if o.status == 503]
            during = [
                o for o in outcomes if cut_at + 0.05 <= o.started and o.finished <= restored_at
            ]
            assert refused, "the outage was not observed"
            assert during, "no request was sent during the outage"
            assert all(o.status == 503 for o in during)
            for outcome in refused:
                assert outcome.retry_after is not None
                assert int(outcome.retry_after) >= 1
                assert outcome.content_type.startswith(PROBLEM_JSON)
            slowest = max(o.finished - o.started for o in refused)
            assert slowest < FAIL_FAST_S, f"a 503 took {slowest:.2f} s"

            recovered = min(
                o.finished for o in outcomes if o.status == 202 and o.started >= restored_at
            )
            assert recovered - restored_at <= RECOVERY_GOAL_S

            acknowledged = load.acknowledged()
            stored = await _stored(postgresql_url, acknowledged)
            assert set(stored) == acknowledged, f"lost: {sorted(acknowledged - set(stored))[:5]}"

            retried = [o.fs_id for o in refused[:20]]
            replays = [await load.post(fs_id) for fs_id in retried]
            assert {r.status for r in replays} == {202}
            assert set((await _stored(postgresql_url, set(retried))).values()) == {1}
            assert (await http.get("/readyz")).status_code == 200
