"""`SyncFcsbeClient`: the async client's namespaces, blocking, through the real server.

The server runs on the client's loop thread (shared through `loop_thread`), as a served app
runs on its own loop: the test itself is plain synchronous code, like a script.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from fcsbe.client import (
    EventLoopThread,
    FcsbeClient,
    NotFoundError,
    RetryPolicy,
    SyncFcsbeClient,
    SyncPager,
)
from fcsbe.client.client import NAMESPACES
from fcsbe.client.sync_codegen import TARGET, render
from fcsbe.model import FsState, VersionDetails
from fcsbe.server.app import create_app
from fcsbe.server.settings import Settings
from fcsbe.server.workers import decision_step
from tests.client.fs_world import fs_request, setup_fo
from tests.support.databases import empty_all


@pytest.fixture
def served(settings: Settings) -> Iterator[tuple[FastAPI, EventLoopThread]]:
    """The app, started on a loop thread of its own."""
    loop_thread = EventLoopThread()
    app = create_app(settings)
    lifespan = app.router.lifespan_context(app)
    loop_thread.run(lifespan.__aenter__())
    loop_thread.run(empty_all(app.state.engine))
    try:
        yield app, loop_thread
    finally:
        loop_thread.run(lifespan.__aexit__(None, None, None))
        loop_thread.close()


async def _no_sleep(_seconds: float) -> None:
    return None


def test_sync_client_through_the_real_server(served: tuple[FastAPI, EventLoopThread]) -> None:
    app, loop_thread = served
    token = loop_thread.run(setup_fo(app))
    with SyncFcsbeClient(
        "http://fcsbe.test",
        token=token,
        transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
        retry=RetryPolicy(max_attempts=2),
        sleep=_no_sleep,
        loop_thread=loop_thread,
    ) as client:
        assert isinstance(client.discovery.version_details(), VersionDetails)
        receipt = client.flexibility_services.create(fs_request("fs-1"))
        assert receipt.state is FsState.RECEIVED
        for fs_id in ("fs-2", "fs-3"):
            client.flexibility_services.create(fs_request(fs_id))
        pager = client.flexibility_services.list(page_size=2)
        assert isinstance(pager, SyncPager)
        assert [fs.fs_id for fs in pager] == ["fs-1", "fs-2", "fs-3"]
        assert [len(page.items) for page in pager.pages()] == [2, 1]
        first = next(iter(client.flexibility_services.list(page_size=1)))  # left unfinished
        assert first.fs_id == "fs-1"
        with pytest.raises(NotFoundError):
            client.flexibility_services.get("fs-none")

        loop_thread.run(decision_step(app.state.session_factory, app.state.keys)())
        decided = client.flexibility_services.wait_for_decision("fs-1", timeout_s=0)
        assert decided.state is not FsState.RECEIVED

        raw = client.with_options(headers={"x-request-id": "sync-0001"}).with_raw_response
        answer = raw.flexibility_services.get("fs-2")
        assert (answer.status_code, answer.headers["x-request-id"]) == (200, "sync-0001")
        assert answer.parsed.fs_id == "fs-2"
        assert client.run(lambda c: c.flexibility_services.get("fs-3")).fs_id == "fs-3"
    assert not loop_thread.loop.is_closed()  # shared: the client leaves it running


def test_a_client_closes_the_loop_it_started() -> None:
    client = SyncFcsbeClient("http://fcsbe.test")
    runner = client._runner
    client.close()
    client.close()
    assert runner.loop.is_closed()
    with pytest.raises(RuntimeError, match="closed"):
        client.discovery.versions()


def test_sync_namespaces_mirror_the_async_client() -> None:
    """Every async namespace and public method has its blocking twin, with its signature."""
    async_client = FcsbeClient("http://unused")
    client = SyncFcsbeClient("http://unused")
    try:
        assert tuple(n for n in vars(async_client) if not n.startswith("_")) == NAMESPACES
        for name in NAMESPACES:
            namespace = getattr(async_client, name)
            twin = getattr(client, name)
            for attr, method in inspect.getmembers(namespace, inspect.ismethod):
                if attr.startswith("_"):
                    continue
                blocking = getattr(twin, attr)
                assert (
                    inspect.signature(blocking).parameters == inspect.signature(method).parameters
                ), f"{name}.{attr}"
    finally:
        client.close()


def test_generated_namespaces_are_current() -> None:
    assert Path(TARGET).read_text(encoding="utf-8") == render(), (
        "run `python -m fcsbe.client.sync_codegen` and commit src/fcsbe/client/sync_namespaces.py"
    )
