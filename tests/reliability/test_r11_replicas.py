"""R11 (and R1, R8 across replicas): three `fcsbe serve` processes on one PostgreSQL.

The operator guide's layout: replica S holds the (simulated) stations, A and B serve the API
only; B reaches the database through a loopback proxy that can be cut. The FOs use the real
client through a transport that sends each request to the next replica when one does not
answer (or answers 503), as a load balancer does. While FS requests are sent across the three:

- A is killed with `kill -9` and started again, B is cut from the database and restored;
- a dynamic setpoint is sent to B (no stations): it answers 202 with a station command, which
  must become APPLIED, and the power measured at the stations must follow the setpoint;
- an FO falls silent past its contract's offline timeout: S runs no fallback loop here, so an
  API replica decides the SAFE_LIMIT fallback and S must apply it (measured import at the
  stations within the safe limit).

Then: every acknowledged FS exists once and replays byte for byte; every FS accepted for a
window that has passed was started once and recorded once; nothing is left PENDING in the
command queue; the event log verifies (`fcsbe admin event-log verify`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from fcsbe.client import FcsbeClient, FcsbeConnectionError, FcsbeStatusError, RetryPolicy
from fcsbe.model import (
    FlexibilityServiceRequest,
    FsResult,
    FsState,
    Quantity,
    SetpointUpdate,
    StationCommand,
    StationCommandState,
)
from fcsbe.server.storage.base import utcnow
from fcsbe.server.storage.event_log import EventLogRow
from fcsbe.server.storage.records import ServiceRecordRow
from fcsbe.server.storage.station_commands import StationCommandRow
from tests.reliability.tcp_proxy import TcpProxy
from tests.support.factories import make_fo
from tests.support.fs_fixtures import make_contract, request_body
from tests.support.served import free_port

pytestmark = pytest.mark.slow

PATH = "/v1/flexibility-services"
FCSBE = Path(sys.executable).with_name("fcsbe")
LOAD_FS = 36
SENDERS = 4
SAFE_LIMIT_W = 3_000.0
REQUESTED_W = 30_000.0
SETPOINT_W = 12_000.0
"""The dynamic setpoint sent to the SETPOINT FS (within the power it was committed)."""
SLOTS = 6
SLOT_S = 3
"""The load FS share 2 sites by 6 windows of 3 s: three requests per site and window, of
which the decisions (on any replica) may accept one (one FS steers an EVSE at a time). S runs
its execution pass every 0.5 s, so an FS starts within about 1 s of its window's start even on
a busy 2-core machine: well within the window."""
LOAD_START_S = 18
"""When the first load window starts. The load (with A killed and B cut meanwhile) takes about
3 s on an idle machine and up to 16 s on a busy 2-core one; each request is decided as it
arrives, so its decision comes before its window opens."""
OFFLINE_TIMEOUT_S = 12
"""FO-B's offline timeout, counted from its enrolment: past the start of its FS (5 s), so the
FS runs under the FO's plan before the fallback takes over."""
DEADLINE_S = 90.0
"""Longest wait for any one condition (the whole test takes well under a minute when idle)."""


class Replica:
    """`fcsbe serve` as a child process on its own port."""

    def __init__(self, name: str, database_url: str, data_dir: Path, **env: str) -> None:
        self.name = name
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "FCSBE_DATABASE_URL": database_url,
            "FCSBE_DATA_DIR": str(data_dir),  # shared: one signing key for the deployment
            "FCSBE_AUTO_MIGRATE": "false",
            "FCSBE_SIMULATOR_ENABLED": "false",
            "FCSBE_RATE_LIMIT_PER_S": "0",
            "FCSBE_LOG_LEVEL": "WARNING",
            "FCSBE_RECORD_DELAY_S": "2",
            "FCSBE_OFFLINE_CHECK_INTERVAL_S": "1",
            "FCSBE_DB_POOL_SIZE": "5",
            **env,
        }
        self.log = data_dir.parent / f"{name}.log"
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> float:
        """Start and wait until `/readyz` answers 200; returns the seconds it took."""
        started = time.monotonic()
        with self.log.open("ab") as out:
            self.process = await asyncio.create_subprocess_exec(
                str(FCSBE),
                "serve",
                "--port",
                str(self.port),
                env=self.env,
                stdout=out,
                stderr=asyncio.subprocess.STDOUT,
            )
        async with httpx.AsyncClient(base_url=self.url, timeout=1.0) as probe:
            while time.monotonic() - started < DEADLINE_S:
                with contextlib.suppress(httpx.TransportError):
                    if (await probe.get("/readyz")).status_code == 200:
                        return time.monotonic() - started
                if self.process.returncode is not None:
                    raise AssertionError(f"{self.name} exited:\n{self.log.read_text()[-3000:]}")
                await asyncio.sleep(0.1)
        raise AssertionError(f"{self.name} not ready in time")

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.returncode is None

    async def kill9(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        await self.process.wait()

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.terminate()
            try:
                await asyncio.wait_for(self.process.wait(), timeout=10)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()


class Failover(httpx.AsyncBaseTransport):
    """Round robin over the replicas; a request a replica cannot serve (no answer, or 503 when
    it has lost the database) goes to the next one, with the same body and Idempotency-Key.
    Keeps the raw answers of FS requests per key, to compare the replays."""

    def __init__(self, replicas: list[Replica]) -> None:
        self.replicas = replicas
        self.inner = httpx.AsyncHTTPTransport()
        self.turn = 0
        self.answers: dict[str, list[tuple[int, bytes]]] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        last: Exception | None = None
        for _ in range(len(self.replicas)):
            self.turn = (self.turn + 1) % len(self.replicas)
            port = self.replicas[self.turn].port
            attempt = httpx.Request(
                request.method,
                request.url.copy_with(port=port),
                headers=request.headers,
                content=body,
                extensions=request.extensions,
            )
            try:
                response = await self.inner.handle_async_request(attempt)
                content = await response.aread()
            except httpx.TransportError as exc:
                last = exc
                continue
            if response.status_code == 503:
                continue
            key = request.headers.get("idempotency-key")
            if request.method == "POST" and request.url.path == PATH and key:
                self.answers.setdefault(key, []).append((response.status_code, content))
            return httpx.Response(
                response.status_code, headers=response.headers, content=content, request=request
            )
        raise last or httpx.ConnectError("every replica answered 503", request=request)

    async def aclose(self) -> None:
        await self.inner.aclose()


async def until(what: str, check: Callable[[], Awaitable[Any]]) -> Any:
    """Poll `check` until it returns a truthy value (a deadline, not a timed assertion)."""
    deadline = time.monotonic() + DEADLINE_S
    while True:
        value = await check()
        if value:
            return value
        assert time.monotonic() < deadline, f"gave up waiting for {what} (last seen: {SEEN})"
        await asyncio.sleep(0.5)


async def site_import_w(client: FcsbeClient, fs_id: str, after: Any) -> float | None:
    """The FS's EVSEs' import now as the stations' meters report it (the latest reading of
    each EVSE taken after `after`; None until every EVSE has one)."""
    series = await client.flexibility_services.measurements(fs_id, [Quantity.P_W])
    latest = []
    for s in series:
        points = [p for p in s.points if p.value is not None and p.time > after]
        if not points:
            return None
        latest.append(points[-1].value or 0.0)
    return sum(latest) if latest else None


@pytest.fixture
async def replicas(app: FastAPI, tmp_path: Path) -> AsyncIterator[tuple[Replica, ...]]:
    if app.state.engine.dialect.name != "postgresql":
        pytest.skip("replicas share one PostgreSQL database")
    url = app.state.settings.database_url
    proxy = TcpProxy("127.0.0.1", app.state.engine.url.port or 5432)
    await proxy.start()
    proxied = url.replace(
        f"@{app.state.engine.url.host}:{app.state.engine.url.port or 5432}/",
        f"@127.0.0.1:{proxy.port}/",
    )
    assert proxied != url
    data = tmp_path / "var"
    stations = Replica(
        "S",
        url,
        data,
        FCSBE_SIMULATOR_ENABLED="true",
        FCSBE_SIMULATOR_METER_RESOLUTION_S="2",
        FCSBE_TELEMETRY_INTERVAL_S="1",
        FCSBE_EXECUTION_INTERVAL_S="0.5",  # the load's windows are short (SLOT_S)
        FCSBE_OFFLINE_CHECK_INTERVAL_S="3600",  # the fallback is decided by an API replica
    )
    api_a = Replica("A", url, data)
    api_b = Replica("B", proxied, data, FCSBE_DB_CONNECT_TIMEOUT_S="2")
    running = (stations, api_a, api_b)
    try:
        await asyncio.gather(*(replica.start() for replica in running))
        running[2].proxy = proxy  # type: ignore[attr-defined]
        yield running
    finally:
        for replica in running:
            await replica.stop()
        await proxy.close()


async def test_replicas_apply_every_accepted_command_at_the_stations(
    app: FastAPI, replicas: tuple[Replica, Replica, Replica]
) -> None:
    stations, api_a, api_b = replicas
    proxy: TcpProxy = api_b.proxy  # type: ignore[attr-defined]
    factory = app.state.session_factory
    started = time.monotonic()
    token_a = await make_fo(factory, "FO-A")
    await make_contract(
        factory,
        "FO-A",
        targets=[("SITE", "SITE-DEPOT"), ("SITE", "SITE-EC"), ("SITE", "SITE-HOME-1")],
    )
    token_b = await make_fo(factory, "FO-B")  # enrolled now and silent from now on
    await make_contract(
        factory,
        "FO-B",
        "fsc-b",
        targets=[("SITE", "SITE-CARPARK")],
        fallback={
            "policy": "SAFE_LIMIT",
            "safe_limit_w": SAFE_LIMIT_W,
            "offline_timeout_s": OFFLINE_TIMEOUT_S,
        },
    )
    transport = Failover(list(replicas))
    retry = RetryPolicy(max_attempts=6)
    fo_a = FcsbeClient(stations.url, token=token_a, transport=transport, retry=retry)
    fo_b = FcsbeClient(stations.url, token=token_b, transport=transport, retry=retry)

    # Two FS that the checks below steer and watch, starting in a few seconds.
    now = utcnow()
    for client, fs_id, fsc_id, site in (
        (fo_a, "fs-setpoint", "fsc-1", "SITE-DEPOT"),
        (fo_b, "fs-fallback", "fsc-b", "SITE-CARPARK"),
    ):
        body = request_body(
            fs_id,
            fsc_id=fsc_id,
            p_w=REQUESTED_W,
            targets=[("SITE", site)],
            now=now,
            start_in=timedelta(seconds=5),
            duration=timedelta(seconds=150),
            minimum_acceptance_pct=1,
        )
        await client.flexibility_services.create(
            FlexibilityServiceRequest.model_validate(body), idempotency_key=f"key-{fs_id}"
        )

    # Load across the replicas; A is killed and B cut from the database while it runs.
    bodies = {
        f"load-{n:03d}": FlexibilityServiceRequest.model_validate(
            request_body(
                f"fs-load-{n:03d}",
                p_w=1_000.0,
                now=now,
                minimum_acceptance_pct=1,
                targets=[("SITE", _slot(n)[0])],
                start_in=timedelta(seconds=LOAD_START_S + _slot(n)[1] * SLOT_S),
                duration=timedelta(seconds=SLOT_S),
            )
        )
        for n in range(LOAD_FS)
    }
    acked: set[str] = set()
    queue = list(bodies)
    cut: list[bool] = []

    async def sender() -> None:
        while queue:
            key = queue.pop(0)
            with contextlib.suppress(FcsbeConnectionError, FcsbeStatusError):
                await fo_a.flexibility_services.create(bodies[key], idempotency_key=key)
                acked.add(key)
            if len(acked) == LOAD_FS // 4 and api_a.running:
                await api_a.kill9()
            if len(acked) == LOAD_FS // 2 and not cut:
                cut.append(True)
                await proxy.cut()

    await asyncio.gather(*(sender() for _ in range(SENDERS)))
    if api_a.running:
        await api_a.kill9()
    await proxy.cut()
    restart = asyncio.create_task(api_a.start())  # meanwhile S and B serve
    await proxy.restore()
    load_s = time.monotonic() - started

    # A dynamic setpoint sent to B, which holds no stations: 202, then applied at the stations.
    await until(
        "the SETPOINT FS to run",
        lambda: _state_is(fo_a, "fs-setpoint", FsState.ACTIVE),
    )
    direct = FcsbeClient(api_b.url, token=token_a, retry=retry)
    answer = await direct.flexibility_services.update_setpoint(
        "fs-setpoint", SetpointUpdate(p_w=SETPOINT_W, sequence=1), idempotency_key="sp-1"
    )
    assert isinstance(answer, StationCommand), "a replica without stations answered 200"
    assert answer.state is StationCommandState.PENDING
    replay = await direct.flexibility_services.update_setpoint(
        "fs-setpoint", SetpointUpdate(p_w=SETPOINT_W, sequence=1), idempotency_key="sp-1"
    )
    assert isinstance(replay, StationCommand)
    assert replay.command_id == answer.command_id

    async def applied() -> StationCommand | None:
        command = await direct.flexibility_services.command("fs-setpoint", answer.command_id)
        assert command.state is not StationCommandState.FAILED, command.reason
        return command if command.state is StationCommandState.APPLIED else None

    command = await until("the setpoint to reach the stations", applied)
    assert (command.applied_evses or 0) > 0
    assert command.completed_at is not None
    measured_sp = await until(
        "the stations to follow the setpoint",
        lambda: _near(site_import_w(fo_a, "fs-setpoint", command.completed_at), SETPOINT_W),
    )

    # FO-B is silent: an API replica applies the SAFE_LIMIT fallback through the stations.
    await until("the fallback", lambda: _fallback_logged(app))
    fallback_commands = await _commands(app, "fs-fallback", "SAFE_LIMIT")
    outcomes = [(c.state, c.reason) for c in fallback_commands]
    assert all(c.state == "APPLIED" for c in fallback_commands), outcomes
    assert all((c.applied_evses or 0) > 0 for c in fallback_commands)
    first_done = min(c.completed_at for c in fallback_commands if c.completed_at)
    measured_fb = await until(
        "the stations to hold the safe limit",
        lambda: _within(site_import_w(fo_b, "fs-fallback", first_done), SAFE_LIMIT_W),
    )

    # Replays of every request answer as the first answer did; each key made one FS.
    restart_s = await restart
    # The first acknowledgement (2xx): a request still running on another replica answers a
    # transient 409 `idempotency-key-in-use` first, which is not an answer to replay.
    first = {key: next(a for a in transport.answers[key] if a[0] < 300) for key in acked}
    for key, body in bodies.items():
        receipt = await fo_a.flexibility_services.create(body, idempotency_key=key)
        assert receipt.fs_id == body.fs_id
    for key in acked:
        assert transport.answers[key][-1] == first[key], f"replay of {key} differs"
    listed = [fs async for fs in fo_a.flexibility_services.list()]
    load_ids = [fs.fs_id for fs in listed if fs.fs_id.startswith("fs-load-")]
    assert sorted(load_ids) == sorted(b.fs_id for b in bodies.values())  # none lost, no dupes

    # Every accepted load FS ran once and was recorded once.
    async def all_recorded() -> bool:
        states = [await fo_a.flexibility_services.get(b.fs_id) for b in bodies.values()]
        return all(s.state in (FsState.RECORDED, FsState.PROVEN, FsState.REJECTED) for s in states)

    await until("every load FS to be recorded", all_recorded)
    accepted = [
        b.fs_id
        for b in bodies.values()
        if (fs := await fo_a.flexibility_services.get(b.fs_id)).response is not None
        and fs.response.result in (FsResult.ACCEPTED, FsResult.PARTIALLY_ACCEPTED)
    ]
    assert accepted, "no load FS was accepted"
    per_slot = [_slot(int(fs_id.rsplit("-", 1)[1])) for fs_id in accepted]
    assert len(per_slot) == len(set(per_slot)), "two FS accepted for one EVSE and window"
    async with factory() as session:
        records = dict(
            (
                await session.execute(
                    select(ServiceRecordRow.fs_id, func.count())
                    .where(ServiceRecordRow.fs_id.like("fs-load-%"))
                    .group_by(ServiceRecordRow.fs_id)
                )
            ).all()
        )
        starts = dict(
            (
                await session.execute(
                    select(EventLogRow.fs_id, func.count())
                    .where(
                        EventLogRow.type == "FS_EXECUTION_STARTED",
                        EventLogRow.fs_id.like("fs-load-%"),
                    )
                    .group_by(EventLogRow.fs_id)
                )
            ).all()
        )
        pending = await session.scalar(
            select(func.count()).where(StationCommandRow.state == "PENDING")
        )
    assert {fs_id: records.get(fs_id) for fs_id in accepted} == dict.fromkeys(accepted, 1)
    assert {fs_id: starts.get(fs_id) for fs_id in accepted} == dict.fromkeys(accepted, 1)
    assert pending == 0, "a command was left in the queue"

    audit = await until("the event log to verify", lambda: _verify(stations))
    print(
        f"\nR11 replicas: {len(acked)}/{LOAD_FS} load FS acknowledged during kill -9 and cut "
        f"({load_s:.1f} s), A ready again in {restart_s:.2f} s; {len(accepted)} accepted, each "
        f"started once and recorded once; setpoint {SETPOINT_W / 1000:g} kW via B applied to "
        f"{command.applied_evses} EVSEs, measured {measured_sp / 1000:.1f} kW; SAFE_LIMIT "
        f"{SAFE_LIMIT_W / 1000:g} kW applied by S in {len(fallback_commands)} command(s), "
        f"measured {measured_fb / 1000:.2f} kW; event log {audit['entries']} entries intact; "
        f"{time.monotonic() - started:.0f} s in all"
    )
    for client in (fo_a, fo_b, direct):
        await client.aclose()
    await transport.aclose()


def _slot(n: int) -> tuple[str, int]:
    """The site and window of load FS number `n`."""
    return ("SITE-EC" if n % 2 else "SITE-HOME-1"), (n // 2) % SLOTS


async def _state_is(client: FcsbeClient, fs_id: str, state: FsState) -> bool:
    return (await client.flexibility_services.get(fs_id)).state is state


SEEN: list[float | None] = []
"""The last measurements read, for the message of a failed wait."""


async def _near(measured: Awaitable[float | None], wanted_w: float) -> float | None:
    value = await measured
    SEEN[:] = [value]
    return value if value is not None and abs(value - wanted_w) <= 0.15 * wanted_w else None


async def _within(measured: Awaitable[float | None], limit_w: float) -> float | None:
    value = await measured
    SEEN[:] = [value]
    return value if value is not None and value <= limit_w * 1.05 + 100 else None


async def _fallback_logged(app: FastAPI) -> bool:
    async with app.state.session_factory() as session:
        count = await session.scalar(
            select(func.count()).where(
                EventLogRow.type == "FS_FALLBACK_APPLIED", EventLogRow.fs_id == "fs-fallback"
            )
        )
    return bool(count)


async def _commands(app: FastAPI, fs_id: str, kind: str) -> list[StationCommandRow]:
    async def settled() -> list[StationCommandRow] | None:
        async with app.state.session_factory() as session:
            rows = list(
                (
                    await session.execute(
                        select(StationCommandRow).where(
                            StationCommandRow.fs_id == fs_id, StationCommandRow.kind == kind
                        )
                    )
                ).scalars()
            )
        return rows if rows and all(r.state != "PENDING" for r in rows) else None

    result: list[StationCommandRow] = await until(f"{kind} commands to settle", settled)
    return result


async def _verify(replica: Replica) -> dict[str, Any] | None:
    process = await asyncio.create_subprocess_exec(
        str(FCSBE),
        "admin",
        "event-log",
        "verify",
        "--json",
        env=replica.env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    out, _ = await process.communicate()
    audit: dict[str, Any] = json.loads(out)
    assert audit["intact"], audit
    return audit if audit["heads_checked"] > 0 else None
