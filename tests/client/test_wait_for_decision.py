"""`flexibility_services.wait_for_decision`: polls the real server until the FS leaves
RECEIVED; gives up after its timeout with the FS as last seen."""

from __future__ import annotations

import pytest
from fastapi import FastAPI

from fcsbe.client import FsDecisionTimeoutError, NotFoundError
from fcsbe.model import FsState
from fcsbe.server.workers import decision_step
from tests.client.fs_world import Counting, fo_client, fs_request, setup_fo


async def test_waits_until_the_server_decides(app: FastAPI) -> None:
    token = await setup_fo(app)
    counting = Counting(app)
    decide = decision_step(app.state.session_factory, app.state.keys)
    pauses: list[float] = []

    async def sleep(seconds: float) -> None:
        pauses.append(seconds)
        if len(pauses) == 2:  # the server's decision loop runs while the client waits
            await decide()

    async with fo_client(counting, token, sleep=sleep) as client:
        await client.flexibility_services.create(fs_request("fs-1"))
        before = len(counting.requests)
        fs = await client.flexibility_services.wait_for_decision(
            "fs-1", poll_interval_s=0.25, max_poll_interval_s=0.4
        )
    assert fs.state is not FsState.RECEIVED
    assert fs.response is not None
    assert pauses == [0.25, 0.4]  # backs off, capped
    assert len(counting.requests) - before == 3  # two polls in RECEIVED, one decided


async def test_gives_up_after_the_timeout(app: FastAPI) -> None:
    token = await setup_fo(app)
    async with fo_client(Counting(app), token) as client:
        await client.flexibility_services.create(fs_request("fs-1"))
        with pytest.raises(FsDecisionTimeoutError) as info:
            await client.flexibility_services.wait_for_decision("fs-1", timeout_s=0)
        assert info.value.fs.state is FsState.RECEIVED
        assert isinstance(info.value, TimeoutError)
        with pytest.raises(NotFoundError):
            await client.flexibility_services.wait_for_decision("fs-none", timeout_s=0)
