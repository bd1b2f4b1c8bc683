"""Running the simulator on the wall clock, for `fcsbe serve`.

`RealTimeRunner` is a thin asyncio loop around `Simulator.run_until(clock.now())`: the simulation
itself stays a step function that tests call directly, and the loop only paces it. Ticks are
scheduled against the clock (not "sleep, then step"), so the time spent stepping does not make the
simulation drift behind. `sleep` is injectable so tests drive the loop without sleeping.

This module must not do anything but pace the simulator; physics lives in the engine.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from datetime import timedelta

from fcsbe.sim.clock import Clock
from fcsbe.sim.engine import Simulator

__all__ = ["RealTimeRunner"]

Sleep = Callable[[float], Awaitable[None]]


class RealTimeRunner:
    """Step `sim` every `period_s` of `clock` time until `stop()`.

    `max_step_s` bounds the physics step when the loop has to catch up (after a long pause), so a
    late tick never integrates an hour of charging in one step. `on_tick` runs after each tick
    (the adapter drains readings and events there).
    """

    def __init__(
        self,
        sim: Simulator,
        clock: Clock,
        *,
        period_s: float = 1.0,
        max_step_s: float | None = None,
        sleep: Sleep = asyncio.sleep,
        on_tick: Callable[[Simulator], None] | None = None,
    ) -> None:
        if not period_s > 0:
            raise ValueError("period_s must be > 0")
        self.sim = sim
        self.period_s = period_s
        self.max_step_s = max_step_s or period_s
        self.ticks = 0
        self._clock = clock
        self._sleep = sleep
        self._on_tick = on_tick
        self._stopped = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def run(self) -> None:
        """Pace the simulator until `stop()` is called."""
        self._stopped.clear()
        period = timedelta(seconds=self.period_s)
        next_tick = self._clock.now() + period
        while not self._stopped.is_set():
            delay = (next_tick - self._clock.now()).total_seconds()
            await self._sleep(max(0.0, delay))
            if self._stopped.is_set():
                break
            self.sim.run_until(self._clock.now(), self.max_step_s)
            self.ticks += 1
            if self._on_tick is not None:
                self._on_tick(self.sim)
            next_tick += period

    def start(self) -> asyncio.Task[None]:
        """Run in a background task (for an application's lifespan)."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self.run(), name="fcsbe-sim-runner")
        return self._task

    def stop(self) -> None:
        """Ask the loop to end after the current tick."""
        self._stopped.set()

    async def aclose(self) -> None:
        """Stop now: cancel the background task (it only ever waits in `sleep`, never mid-step)."""
        self.stop()
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
