"""UC 2.1: setpoint following, with dynamic (aFRR-like) setpoint updates."""

from __future__ import annotations

from datetime import timedelta

import pytest

from fcsbe.model import FlexibilityServiceRequest, FsState, SetpointUpdate
from fcsbe.server.settings import Settings
from tests.scenarios.harness import harness, without_arrivals
from tests.support.fs_fixtures import request_body


async def test_setpoint_is_followed_and_updated(settings: Settings) -> None:
    async with harness(settings, fleet=without_arrivals) as h:
        depot = h.evses_of("SITE-DEPOT")
        body = request_body(
            "fs-2-1",
            targets=[("SITE", "SITE-DEPOT")],
            p_w=20_000,
            start_in=timedelta(seconds=60),
            now=h.now,
            duration=timedelta(minutes=15),
        )
        receipt = await h.fo.flexibility_services.create(
            FlexibilityServiceRequest.model_validate(body)
        )
        assert receipt.state is FsState.RECEIVED
        await h.steps()
        decided = await h.fo.flexibility_services.get("fs-2-1")
        assert decided.state is FsState.SCHEDULED
        assert decided.response is not None
        assert decided.response.committed_w == pytest.approx(20_000)

        await h.run(90)
        assert (await h.fo.flexibility_services.get("fs-2-1")).state is FsState.ACTIVE
        assert await h.power_w(depot) == pytest.approx(20_000, rel=0.05)

        await h.fo.flexibility_services.update_setpoint(
            "fs-2-1", SetpointUpdate(p_w=15_000, sequence=1)
        )
        await h.run(10)
        assert await h.power_w(depot) == pytest.approx(15_000, rel=0.05)

        series = await h.fo.flexibility_services.measurements("fs-2-1")
        measured = sum(s.points[-1].value or 0 for s in series if s.points)
        assert measured == pytest.approx(15_000, rel=0.05)

        await h.run(900, tick_s=120)
        done = await h.fo.flexibility_services.get("fs-2-1")
        assert done.state is FsState.COMPLETED
        states = [t.to_state for t in done.transitions]
        assert states == [
            FsState.RECEIVED,
            FsState.ACCEPTED,
            FsState.SCHEDULED,
            FsState.ACTIVE,
            FsState.COMPLETED,
        ]
