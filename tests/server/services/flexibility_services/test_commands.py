"""Station commands from a replica without stations (R11), on the simulator's virtual clock.

The harness's app holds the simulated stations; swapping its adapter for `UnconnectedStations`
makes it behave as an API-only replica for a request, and `CommandApplier` with the simulator is
the station replica's applier. Checked through the API (the 202, the command's outcome, the FS)
and the power at the stations.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from fcsbe.model import (
    FlexibilityService,
    FsState,
    SetpointUpdate,
    StationCommand,
    StationCommandState,
)
from fcsbe.server.adapters.base import (
    ApplyResult,
    Command,
    ControlLevel,
    ControlTarget,
    LimitCommand,
)
from fcsbe.server.adapters.unconnected import UnconnectedStations
from fcsbe.server.services.flexibility_services.applier import MAX_ATTEMPTS, CommandApplier
from fcsbe.server.services.flexibility_services.dispatch import set_fs_layers
from fcsbe.server.services.flexibility_services.fallback import fallback_step
from fcsbe.server.settings import Settings
from fcsbe.server.storage.control_layers import ControlLayerRow
from fcsbe.server.storage.flexibility_services import FlexibilityServiceRow
from tests.scenarios.family2 import start_fs
from tests.scenarios.harness import Harness, harness

SETPOINT = {
    "fs_type": "SETPOINT",
    "resolution_s": 900,
    "periods": [{"start_offset_s": 0, "p_w": 20_000.0}],
}


class _NoStations(UnconnectedStations):
    """A replica without stations, on the simulation's clock (every replica's clock is the
    wall clock in a deployment; here the stations' virtual clock runs ahead of it)."""

    def __init__(self, h: Harness) -> None:
        self.h = h

    def now(self) -> datetime:
        return self.h.now


async def _from_api_replica(h: Harness, update: SetpointUpdate) -> StationCommand:
    """Send the setpoint as a replica without stations receives it."""
    stations = h.app.state.adapter
    h.app.state.adapter = _NoStations(h)
    try:
        answer = await h.fo.flexibility_services.update_setpoint("fs-q", update)
    finally:
        h.app.state.adapter = stations
    assert isinstance(answer, StationCommand), "a replica without stations answered 200"
    return answer


async def test_a_setpoint_sent_to_a_replica_without_stations_is_applied_by_the_station_replica(
    settings: Settings,
) -> None:
    async with harness(settings) as h:
        depot = h.evses_of("SITE-DEPOT")
        await start_fs(h, "fs-q", "SETPOINT", SETPOINT, "SITE-DEPOT", minutes=15)
        assert await h.power_w(depot) == pytest.approx(20_000, rel=0.05)

        queued = await _from_api_replica(h, SetpointUpdate(p_w=12_000, sequence=1))
        assert queued.state is StationCommandState.PENDING
        assert queued.applied_evses is None
        # Nothing has happened at the stations yet, and nothing claims it has.
        assert await h.power_w(depot) == pytest.approx(20_000, rel=0.05)

        applier = CommandApplier(h.app.state.session_factory, h.stations)
        assert await applier.step() == 1
        done = await h.fo.flexibility_services.command("fs-q", queued.command_id)
        assert done.state is StationCommandState.APPLIED
        assert (done.applied_evses or 0) > 0
        await h.run(10)
        assert await h.power_w(depot) == pytest.approx(12_000, rel=0.05)
        fs = await h.fo.flexibility_services.get("fs-q")
        assert fs.state is FsState.ACTIVE
        assert await applier.step() == 0  # applied once


async def test_a_superseded_queued_setpoint_is_reported_failed_not_applied(
    settings: Settings,
) -> None:
    async with harness(settings) as h:
        depot = h.evses_of("SITE-DEPOT")
        await start_fs(h, "fs-q", "SETPOINT", SETPOINT, "SITE-DEPOT", minutes=15)
        first = await _from_api_replica(h, SetpointUpdate(p_w=8_000, sequence=1))
        second = await _from_api_replica(h, SetpointUpdate(p_w=14_000, sequence=2))
        assert await CommandApplier(h.app.state.session_factory, h.stations).step() == 2
        stale = await h.fo.flexibility_services.command("fs-q", first.command_id)
        assert stale.state is StationCommandState.FAILED
        assert stale.reason is not None
        assert "superseded" in stale.reason
        latest = await h.fo.flexibility_services.command("fs-q", second.command_id)
        assert latest.state is StationCommandState.APPLIED
        await h.run(10)
        assert await h.power_w(depot) == pytest.approx(14_000, rel=0.05)


async def test_a_setpoint_on_the_station_replica_is_applied_at_once(settings: Settings) -> None:
    async with harness(settings) as h:
        await start_fs(h, "fs-q", "SETPOINT", SETPOINT, "SITE-DEPOT", minutes=15)
        answer = await h.fo.flexibility_services.update_setpoint(
            "fs-q", SetpointUpdate(p_w=12_000, sequence=1)
        )
        assert isinstance(answer, FlexibilityService)  # 200, as on a single server
        assert await CommandApplier(h.app.state.session_factory, h.stations).step() == 0


class _Failing:
    """The simulator behind a station link that fails `failures` times (a process boundary)."""

    def __init__(self, inner: object, failures: int) -> None:
        self.inner = inner
        self.failures = failures

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    async def apply_many(self, commands: Sequence[Command]) -> list[ApplyResult]:
        if self.failures > 0:
            self.failures -= 1
            raise ConnectionError("station link down")
        return await self.inner.apply_many(commands)  # type: ignore[attr-defined, no-any-return]


async def test_a_command_that_cannot_reach_the_stations_is_retried_then_reported_failed(
    settings: Settings,
) -> None:
    async with harness(settings) as h:
        await start_fs(h, "fs-q", "SETPOINT", SETPOINT, "SITE-DEPOT", minutes=15)
        queued = await _from_api_replica(h, SetpointUpdate(p_w=12_000, sequence=1))
        clock = [h.now]
        link = _Failing(h.stations, failures=1)
        applier = CommandApplier(h.app.state.session_factory, link, clock=lambda: clock[0])  # type: ignore[arg-type]
        assert await applier.step() == 1
        retried = await h.fo.flexibility_services.command("fs-q", queued.command_id)
        assert retried.state is StationCommandState.PENDING
        assert retried.attempts == 1
        assert retried.reason is not None
        assert "station link down" in retried.reason
        assert await applier.step() == 0  # backing off
        clock[0] += timedelta(seconds=5)
        assert await applier.step() == 1
        done = await h.fo.flexibility_services.command("fs-q", queued.command_id)
        assert done.state is StationCommandState.APPLIED
        assert done.attempts == 2

        # A link that stays down: retried with backoff, then reported FAILED with the reason
        # (here its 60 s validity runs out first: a late setpoint is never applied).
        lost = await _from_api_replica(h, SetpointUpdate(p_w=10_000, sequence=2))
        link.failures = MAX_ATTEMPTS
        for attempt in range(1, MAX_ATTEMPTS + 1):
            await applier.step()
            clock[0] += timedelta(seconds=2**attempt)
        failed = await h.fo.flexibility_services.command("fs-q", lost.command_id)
        assert failed.state is StationCommandState.FAILED
        assert 1 < failed.attempts <= MAX_ATTEMPTS
        assert failed.reason is not None


async def test_a_fallback_decided_by_a_replica_without_stations_reaches_them(
    settings: Settings,
) -> None:
    fallback = {"policy": "SAFE_LIMIT", "safe_limit_w": 5_000.0, "offline_timeout_s": 180}
    async with harness(settings, fallback=fallback) as h:
        depot = h.evses_of("SITE-DEPOT")
        await start_fs(h, "fs-q", "SETPOINT", SETPOINT, "SITE-DEPOT", minutes=15)
        await h.run(150)  # the FO is silent past its timeout
        async with h.app.state.session_factory() as session:
            assert await fallback_step(session, _NoStations(h), h.now) == 1
            await session.commit()
        assert await h.power_w(depot) > 10_000  # queued: not at the stations yet
        applier = CommandApplier(h.app.state.session_factory, h.stations)
        assert await applier.step() == 1  # SAFE_LIMIT: the FS's layer becomes the limit there
        await h.run(10)
        assert await h.power_w(depot) <= 5_000 * 1.05

        # The FO is back; an API replica lifts the fallback, the station replica resumes the FS.
        await h.fo.heartbeat.send()
        async with h.app.state.session_factory() as session:
            assert await fallback_step(session, _NoStations(h), h.now) == 1
            await session.commit()
        assert await applier.step() == 1  # the fallback's limits cleared
        await h.run(10)  # the execution step plans the FS again on its next pass
        assert await h.power_w(depot) == pytest.approx(20_000, rel=0.05)


async def test_a_queued_setpoint_is_composed_with_the_other_fs_layers_where_it_is_applied(
    settings: Settings,
) -> None:
    """Another FS caps one depot EVSE below what it draws; a setpoint sent to a replica without
    stations is split at the station replica and becomes the FS's layer of the control stack
    there, composed with the cap: the capped EVSE stays within it."""
    async with harness(settings) as h:
        depot = h.evses_of("SITE-DEPOT")
        await start_fs(h, "fs-q", "SETPOINT", SETPOINT, "SITE-DEPOT", minutes=15)
        drawn = {e: await h.power_w([e]) for e in depot}
        capped = max(depot, key=lambda e: drawn[e])
        limit_w = drawn[capped] / 2
        assert limit_w > 100
        factory = h.app.state.session_factory
        async with factory() as session:
            fs = (
                await session.execute(
                    select(FlexibilityServiceRow).where(FlexibilityServiceRow.fs_id == "fs-q")
                )
            ).scalar_one()
            # a CONGESTION FS whose layer caps one EVSE (REJECTED, so no step touches it)
            cap_fs = FlexibilityServiceRow(
                fo_party_id=fs.fo_party_id,
                fs_id="fs-cap",
                revision=1,
                contract_id=fs.contract_id,
                fs_type="CONGESTION",
                state="REJECTED",
                window_start=fs.window_start,
                window_end=fs.window_end,
                response_deadline=fs.response_deadline,
                committed_w=None,
                request=fs.request,
                response=None,
                execution=None,
                correlation_id=None,
                due_at=None,
                created_at=h.now,
                updated_at=h.now,
            )
            session.add(cap_fs)
            await session.flush()
            cap = Command(
                ControlTarget(ControlLevel.EVSE, capped),
                LimitCommand(limit_w, None),
                "fs-cap",
                h.now + timedelta(hours=1),
            )
            await set_fs_layers(session, h.stations, cap_fs, [cap], h.now)
            await session.commit()

        queued = await _from_api_replica(h, SetpointUpdate(p_w=16_000, sequence=1))
        assert await CommandApplier(factory, h.stations).step() == 1
        done = await h.fo.flexibility_services.command("fs-q", queued.command_id)
        assert done.state is StationCommandState.APPLIED
        async with factory() as session:
            layers = (
                (
                    await session.execute(
                        select(ControlLayerRow).where(ControlLayerRow.fs_pk == fs.id)
                    )
                )
                .scalars()
                .all()
            )
        # the split is the FS's layer now (the station replica set it, not only the stations)
        assert sum(x.setpoint_w or 0.0 for x in layers) == pytest.approx(16_000, rel=0.01)
        await h.run(10)
        assert await h.power_w([capped]) <= limit_w * 1.02
