"""The real-time runner paces the simulator on a clock; tests drive it with a fake sleep."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from fcsbe.sim import RealTimeRunner, Simulator, VirtualClock
from tests.sim.helpers import START, plug, single_site


async def test_runner_steps_on_the_clock_and_stops() -> None:
    sim, (evse,) = single_site()
    plug(sim, evse)
    clock = VirtualClock(START)
    sleeps: list[float] = []
    ticks: list[Simulator] = []

    async def fake_sleep(seconds: float) -> None:
        sleeps.append(seconds)
        clock.advance(seconds + 0.25)  # a late wake-up; the runner must not drift
        if len(sleeps) == 5:
            runner.stop()

    runner = RealTimeRunner(sim, clock, period_s=2.0, sleep=fake_sleep, on_tick=ticks.append)
    await runner.run()
    assert runner.ticks == 4  # stopped during the fifth sleep
    assert len(ticks) == 4
    assert sim.now == clock.now() - timedelta(seconds=2)  # the fifth sleep (1.75 + 0.25 s)
    assert sleeps[0] == 2.0
    assert all(s == 1.75 for s in sleeps[1:])  # ticks stay on the 2 s grid
    assert sim.evse_state(evse).e_import_wh > 0


async def test_runner_catches_up_in_bounded_steps_and_closes() -> None:
    sim, _ = single_site()
    clock = VirtualClock(START)
    two_ticks = asyncio.Event()

    async def fake_sleep(seconds: float) -> None:
        clock.advance(60.0)  # the host was suspended for a minute
        await asyncio.sleep(0)  # yield to the loop (no real waiting)

    def on_tick(_: Simulator) -> None:
        if runner.ticks >= 2:
            two_ticks.set()

    runner = RealTimeRunner(
        sim, clock, period_s=1.0, max_step_s=5.0, sleep=fake_sleep, on_tick=on_tick
    )
    task = runner.start()
    assert runner.start() is task
    await two_ticks.wait()
    await runner.aclose()
    assert task.done()
    assert sim.stats.steps >= 2 * 12  # each minute caught up in steps of at most 5 s
    assert sim.now <= clock.now()
