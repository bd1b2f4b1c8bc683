"""Shared steps of the FS scenarios: request an FS, let it be decided, started and finished.

The family-2 scenarios run on a `harness`; the family-1 scenarios (a use-case context with its
own contracts) wrap their `Scenario` with `harness_of` to run an FS the same way.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fcsbe.client import FcsbeClient
from fcsbe.model import FlexibilityService, FlexibilityServiceRequest, FsResult, FsState
from tests.scenarios.conftest import Scenario
from tests.scenarios.harness import Harness
from tests.support.fs_fixtures import request_body

__all__ = ["finish_fs", "harness_of", "setpoint", "start_fs"]


def setpoint(p_w: float, minutes: int = 10) -> dict[str, Any]:
    """SETPOINT parameters: one aggregate setpoint (W, + import) for the whole window."""
    return {
        "fs_type": "SETPOINT",
        "resolution_s": minutes * 60,
        "periods": [{"start_offset_s": 0, "p_w": p_w}],
    }


async def harness_of(run: Scenario, fo: FcsbeClient) -> Harness:
    """The steps of the server's loops over a use-case context, driven by the FO `fo` (after
    a first few seconds, so that the stations have reported a state)."""
    h = Harness(run.app, run.stations, fo)
    await h.run(5)
    return h


async def start_fs(
    h: Harness,
    fs_id: str,
    fs_type: str,
    parameters: dict[str, Any],
    site: str,
    *,
    minutes: int = 10,
    fsc_id: str = "fsc-1",
) -> FlexibilityService:
    """Request an FS on one site starting a minute from now, decide it and start it."""
    body = request_body(
        fs_id,
        fsc_id=fsc_id,
        fs_type=fs_type,
        parameters=parameters,
        targets=[("SITE", site)],
        start_in=timedelta(seconds=60),
        duration=timedelta(minutes=minutes),
        minimum_acceptance_pct=1,
        now=h.now,
    )
    await h.fo.flexibility_services.create(FlexibilityServiceRequest.model_validate(body))
    await h.steps()
    await h.run(65)
    return await h.fo.flexibility_services.get(fs_id)


async def finish_fs(h: Harness, fs_id: str, minutes: int = 10) -> FlexibilityService:
    """Run the FS to the end of its window; it must have been accepted and have COMPLETED
    (and may since have been RECORDED from the meter readings)."""
    await h.run(minutes * 60, tick_s=60)
    done = await h.fo.flexibility_services.get(fs_id)
    assert done.response is not None
    assert done.response.result in (FsResult.ACCEPTED, FsResult.PARTIALLY_ACCEPTED)
    assert done.state in (FsState.COMPLETED, FsState.RECORDED), done.state
    assert FsState.COMPLETED in [t.to_state for t in done.transitions]
    return done
