"""The executor records every FS that ends, once: cancelled ones too, and never twice when two
replicas' executors race over the same ended FS."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from fcsbe.client import NotFoundError
from fcsbe.model import FlexibilityServiceRequest, FsState
from fcsbe.server.services.flexibility_services.execution import RECORD_DELAY_S, execute_step
from fcsbe.server.settings import Settings
from tests.scenarios.family2 import start_fs
from tests.scenarios.harness import Harness, harness, without_arrivals
from tests.support.fs_fixtures import request_body

SETPOINT = {
    "fs_type": "SETPOINT",
    "resolution_s": 600,
    "periods": [{"start_offset_s": 0, "p_w": 20_000.0}],
}


async def _recorded(h: Harness, fs_id: str) -> bool:
    """Whether the FO is served a record of this FS (404 `record-not-available` until then)."""
    try:
        await h.fo.records.get(fs_id)
    except NotFoundError as error:
        if error.problem.slug != "record-not-available":
            raise
        return False
    return True


async def test_a_cancelled_fs_is_released_and_recorded_from_the_meters(settings: Settings) -> None:
    async with harness(settings, fleet=without_arrivals) as h:
        depot = h.evses_of("SITE-DEPOT")
        fs = await start_fs(h, "fs-cancel", "SETPOINT", SETPOINT, "SITE-DEPOT")
        assert fs.state is FsState.ACTIVE
        await h.run(60, tick_s=5)
        assert await h.power_w(depot) == pytest.approx(20_000, rel=0.05)
        await h.fo.flexibility_services.cancel("fs-cancel", "no longer needed")
        await h.run(10, tick_s=5)
        assert await h.power_w(depot) > 25_000  # released at once: unmanaged charging again
        assert (await h.fo.flexibility_services.get("fs-cancel")).state is FsState.CANCELLED
        assert not await _recorded(h, "fs-cancel")  # late readings are still waited for

        await h.run(RECORD_DELAY_S, tick_s=5)
        done = await h.fo.flexibility_services.get("fs-cancel")
        assert done.state is FsState.RECORDED
        record = await h.fo.records.get("fs-cancel")
        # Recorded up to the cancellation only, from what the meters measured in it.
        assert record.intervals
        last = record.intervals[-1]
        assert last.start + timedelta(seconds=last.duration_s) <= done.transitions[-2].at
        assert record.intervals[0].measured_w is not None
        assert record.intervals[0].requested_w == 20_000
        assert {m.meter_id for m in record.meters} == set(depot)


async def test_racing_executors_make_one_record(settings: Settings) -> None:
    async with harness(settings, fleet=without_arrivals) as h:
        await start_fs(h, "fs-race", "SETPOINT", SETPOINT, "SITE-DEPOT")
        await h.run(600 + 5, tick_s=60)
        assert (await h.fo.flexibility_services.get("fs-race")).state is FsState.COMPLETED
        h.stations.advance(RECORD_DELAY_S)
        factory = h.app.state.session_factory

        async def replica() -> int:
            async with factory() as session:
                done = await execute_step(session, h.stations, h.now)
                await session.commit()
                return done

        await asyncio.gather(replica(), replica())
        await replica()  # and a later pass finds nothing left to record
        record = await h.fo.records.get("fs-race")
        fs = await h.fo.flexibility_services.get("fs-race")
        assert (record.revision, record.record_revision) == (fs.revision, 1)  # no second one
        assert fs.state is FsState.RECORDED
        assert [t.to_state for t in fs.transitions].count(FsState.RECORDED) == 1


async def test_a_record_that_fails_does_not_hold_up_the_others(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fault injection: the record inputs of one FS raise; the other FS of the same pass is
    still recorded, and the broken one is recorded on a later pass once the fault is gone."""
    from fcsbe.server.services.flexibility_services import execution

    real_inputs = execution.record_inputs
    broken = {"fs-broken"}

    async def faulty(session: Any, fs: Any) -> Any:
        if fs.fs_id in broken:
            raise RuntimeError("meter data unreadable")
        return await real_inputs(session, fs)

    async with harness(settings, fleet=without_arrivals) as h:
        for fs_id, site in (("fs-broken", "SITE-DEPOT"), ("fs-fine", "SITE-CARPARK")):
            body = request_body(
                fs_id,
                fs_type="SETPOINT",
                parameters=SETPOINT,
                targets=[("SITE", site)],
                start_in=timedelta(seconds=60),
                duration=timedelta(minutes=10),
                now=h.now,
            )
            await h.fo.flexibility_services.create(FlexibilityServiceRequest.model_validate(body))
        await h.steps()
        await h.run(60 + 600 + 5, tick_s=60)
        assert (await h.fo.flexibility_services.get("fs-fine")).state is FsState.COMPLETED
        monkeypatch.setattr(execution, "record_inputs", faulty)
        await h.run(RECORD_DELAY_S + 10, tick_s=5)
        assert (await h.fo.flexibility_services.get("fs-fine")).state is FsState.RECORDED
        assert (await h.fo.flexibility_services.get("fs-broken")).state is FsState.COMPLETED
        broken.clear()
        await h.run(10, tick_s=5)
        assert (await h.fo.flexibility_services.get("fs-broken")).state is FsState.RECORDED
        assert await _recorded(h, "fs-broken")
        assert await _recorded(h, "fs-fine")
