"""R8: the FO falls silent past the contract's offline timeout: its fallback holds the stations.

One SETPOINT FS of 20 kW on the depot (about 80 kW unmanaged), one case per fallback policy,
on the simulator's virtual clock. The FO stops sending heartbeats; past the timeout the policy
must show in the power the stations draw, be logged and reach the FO's feed, and a heartbeat
must give the FS back its setpoint while its window runs.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from fcsbe.client import ConflictError
from fcsbe.model import (
    CommStatusData,
    FsState,
    NotificationType,
    SetpointUpdate,
)
from fcsbe.server.notifications.sequencer import assign_sequence
from fcsbe.server.services.event_log.log import chain_pending
from fcsbe.server.services.flexibility_services.fallback import fallback_step, safe_limit_shares
from fcsbe.server.settings import Settings
from fcsbe.server.storage.base import utcnow
from fcsbe.server.workers import fallback_step_of
from tests.scenarios.family2 import start_fs
from tests.scenarios.harness import Harness, harness

TIMEOUT_S = 180
SETPOINT_W = 20_000.0
SETPOINT = {
    "fs_type": "SETPOINT",
    "resolution_s": 900,
    "periods": [{"start_offset_s": 0, "p_w": SETPOINT_W}],
}


async def _run(h: Harness, seconds: float, tick_s: float = 5.0) -> None:
    """The harness's steps plus the fallback step, as the server's loops would run them."""
    end = h.now + timedelta(seconds=seconds)
    while h.now < end:
        h.stations.advance(min(tick_s, (end - h.now).total_seconds()))
        await h.steps()
        async with h.app.state.session_factory() as session:
            await fallback_step(session, h.stations, h.now)
            await session.commit()


async def _comm(h: Harness) -> list[tuple[NotificationType, CommStatusData]]:
    """The FO's COMM_* notifications as its feed shows them (after the sequencer's step)."""
    async with h.app.state.session_factory() as session:
        await assign_sequence(session)
        await session.commit()
    return [
        (n.type, CommStatusData.model_validate(n.data))
        async for n in h.fo.notifications.feed()
        if n.type in (NotificationType.COMM_LOST, NotificationType.COMM_RESTORED)
    ]


async def _fallback_events(h: Harness) -> list[tuple[str, str]]:
    async with h.app.state.session_factory() as session:
        await chain_pending(session)
        await session.commit()
    return [
        (e.type, e.summary)
        async for e in h.fo.event_log.list(fs_id="fs-r8")
        if e.type.startswith("FS_FALLBACK")
    ]


async def _silent_fo_with_running_fs(h: Harness, depot: list[str]) -> None:
    """Start the FS; the FO, enrolled at the start and silent since, is still within time."""
    fs = await start_fs(h, "fs-r8", "SETPOINT", SETPOINT, "SITE-DEPOT", minutes=15)
    assert fs.state is FsState.ACTIVE
    await _run(h, 20)
    assert await h.power_w(depot) == pytest.approx(SETPOINT_W, rel=0.05)


async def _resumes_on_heartbeat(h: Harness, depot: list[str], policy: str) -> None:
    await h.fo.heartbeat.send()
    await _run(h, 10)
    assert await h.power_w(depot) == pytest.approx(SETPOINT_W, rel=0.05)
    assert (await h.fo.flexibility_services.get("fs-r8")).state is FsState.ACTIVE
    comm = await _comm(h)
    assert comm[-1][0] is NotificationType.COMM_RESTORED
    assert comm[-1][1].affected_fs_ids == ["fs-r8"]
    events = await _fallback_events(h)
    assert [t for t, _ in events] == ["FS_FALLBACK_APPLIED", "FS_FALLBACK_ENDED"]
    assert events[0][1].startswith(policy)
    assert "offline timeout 180 s" in events[0][1]
    # the window still ends as usual (and the FS gets its record)
    await _run(h, 900, tick_s=120)
    done = await h.fo.flexibility_services.get("fs-r8")
    assert done.state in (FsState.COMPLETED, FsState.RECORDED)
    assert FsState.COMPLETED in [t.to_state for t in done.transitions]


def _fallback(policy: str, safe_limit_w: float | None = None) -> dict[str, Any]:
    return {"policy": policy, "safe_limit_w": safe_limit_w, "offline_timeout_s": TIMEOUT_S}


QUIET_TICK_S = 30.0
"""Tick while nothing is due: the FS runs its plan, the FO is silent but within its timeout."""


async def _lapse(h: Harness) -> None:
    """Run until just past the timeout (counted from the FO's enrolment: it never beat).

    Until 20 s before the timeout the FS only follows its plan, so the steps run in long ticks
    there (a tick costs about the same real time however far it moves the clock); the lapse
    itself is crossed in the usual 5 s ticks."""
    elapsed = (h.now - h.stations.fleet.start).total_seconds()
    await _run(h, max(0.0, TIMEOUT_S - 20 - elapsed), tick_s=QUIET_TICK_S)
    elapsed = (h.now - h.stations.fleet.start).total_seconds()
    await _run(h, TIMEOUT_S + 10 - elapsed)


async def test_revert_unmanaged(settings: Settings) -> None:
    async with harness(settings, fallback=_fallback("REVERT_UNMANAGED")) as h:
        depot = h.evses_of("SITE-DEPOT")
        await _silent_fo_with_running_fs(h, depot)
        assert await _comm(h) == []
        await _lapse(h)
        assert await h.power_w(depot) > 3 * SETPOINT_W  # charging as if no FS existed
        (lost,) = await _comm(h)
        assert lost[0] is NotificationType.COMM_LOST
        assert lost[1].fallback_applied is True
        assert lost[1].affected_fs_ids == ["fs-r8"]
        await _run(h, 60, tick_s=20)
        assert await h.power_w(depot) > 3 * SETPOINT_W
        await _resumes_on_heartbeat(h, depot, "REVERT_UNMANAGED")


async def test_hold_last(settings: Settings) -> None:
    async with harness(settings, fallback=_fallback("HOLD_LAST")) as h:
        depot = h.evses_of("SITE-DEPOT")
        await _silent_fo_with_running_fs(h, depot)
        # the last word of the FO: a dynamic setpoint, which on its own expires after 60 s
        await h.fo.flexibility_services.update_setpoint(
            "fs-r8", SetpointUpdate(p_w=15_000, sequence=1)
        )
        await _run(h, 10)
        assert await h.power_w(depot) == pytest.approx(15_000, rel=0.05)
        await _lapse(h)
        for _ in range(4):  # held well past the dynamic setpoint's own expiry
            await _run(h, 60, tick_s=20)
            assert await h.power_w(depot) == pytest.approx(15_000, rel=0.05)
        with pytest.raises(ConflictError) as refused:
            await h.fo.flexibility_services.update_setpoint(
                "fs-r8", SetpointUpdate(p_w=5_000, sequence=2)
            )
        assert refused.value.problem.type.endswith("fs-in-fallback")
        await _resumes_on_heartbeat(h, depot, "HOLD_LAST")


async def test_hold_last_freezes_a_plan(settings: Settings) -> None:
    """HOLD_LAST on a planned FS: the step in force at the lapse outlasts the plan's next step."""
    signal = {
        "fs_type": "DEMAND_RESPONSE",
        "currency": "EUR",
        "intervals": [
            {"start_offset_s": 0, "duration_s": 300, "price_per_kwh": 0.60},
            {"start_offset_s": 300, "duration_s": 300, "price_per_kwh": 0.05},
        ],
    }
    async with harness(settings, fallback=_fallback("HOLD_LAST")) as h:
        depot = h.evses_of("SITE-DEPOT")
        unmanaged = await h.power_w(depot)
        fs = await start_fs(h, "fs-r8", "DEMAND_RESPONSE", signal, "SITE-DEPOT")
        assert fs.state is FsState.ACTIVE
        expensive = await h.power_w(depot)
        assert expensive < unmanaged
        await _lapse(h)
        await _run(h, 360 - (h.now - h.stations.fleet.start).total_seconds() + 60, tick_s=20)
        assert h.now - fs.request.window.start > timedelta(seconds=320)  # in the cheap interval
        assert await h.power_w(depot) <= expensive + 1.0  # still the expensive step's limits
        await h.fo.heartbeat.send()
        await _run(h, 20, tick_s=10)
        assert await h.power_w(depot) > expensive + 1_000  # the plan again: cheap, charge


async def test_safe_limit(settings: Settings) -> None:
    limit_w = 30_000.0
    async with harness(settings, fallback=_fallback("SAFE_LIMIT", limit_w)) as h:
        depot = h.evses_of("SITE-DEPOT")
        await _silent_fo_with_running_fs(h, depot)
        await _lapse(h)
        for _ in range(3):
            await _run(h, 60, tick_s=20)
            power = await h.power_w(depot)
            assert SETPOINT_W * 1.2 < power <= limit_w * 1.01  # the cap, not the setpoint
        await _resumes_on_heartbeat(h, depot, "SAFE_LIMIT")


async def test_the_worker_step_runs_on_the_stations_clock(settings: Settings) -> None:
    """The worker's step judges silence on the stations' clock, and applies a fallback once."""
    async with harness(settings, fallback=_fallback("REVERT_UNMANAGED")) as h:
        depot = h.evses_of("SITE-DEPOT")
        await _silent_fo_with_running_fs(h, depot)
        step = fallback_step_of(h.app.state.session_factory, h.stations)
        assert await step() == 0
        h.stations.advance(TIMEOUT_S)
        await h.fo.heartbeat.send()  # stamped on the wall clock, which lags the virtual one
        assert utcnow() < h.now
        assert await step() == 1  # the virtual clock is past even this beat's timeout
        assert await step() == 0  # applied once


def test_safe_limit_shares() -> None:
    assert safe_limit_shares({"a": 30_000, "b": 10_000, "c": 0}, 20_000) == {
        "a": 15_000,
        "b": 5_000,
        "c": 0,
    }
    assert safe_limit_shares({"a": 3_000, "b": -5.0}, 20_000) == {"a": 3_000, "b": 0.0}
    # 4 kW minimum: 10 kW over five 11 kW EVSEs would give 2 kW each, i.e. none would charge
    rooms = dict.fromkeys("abcde", 11000.0)
    shares = safe_limit_shares(rooms, 10_000, dict.fromkeys(rooms, 4_000.0))
    assert shares == {"a": 5_000, "b": 5_000, "c": 0.0, "d": 0.0, "e": 0.0}
