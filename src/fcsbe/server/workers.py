"""Background loops of the server, each a thin shell around a step function.

A step does one bounded batch of work in its own transaction and returns how much it did;
the loop runs it again at once while there is work, otherwise waits its interval. Tests never
run the loops: they call the step functions directly. Every replica runs the loops that need no
stations; the station-facing ones (execution, telemetry, session sync, the station-command
applier) run only on the replica that holds the stations. Steps are written to be safe when
several run at once (row leases, advisory locks).

On PostgreSQL a loop given an `idle_interval_s` sleeps that long when idle and is woken at once
by `NOTIFY fcsbe_work` (`storage/wakeup.py`) when another transaction creates work for it; its
`interval_s` then only spaces two runs. Without a listener (SQLite, or the link lost) it polls
at `interval_s` as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from fcsbe.server.adapters.base import StationAdapter
from fcsbe.server.errors import is_database_unavailable
from fcsbe.server.notifications.outbox import purge_outbox
from fcsbe.server.platform import metrics_hooks
from fcsbe.server.security.keys import ServerKeys
from fcsbe.server.services.contracts.decisions import close_due_contracts
from fcsbe.server.services.enrolments.credential_expiry import warn_expiring_credentials
from fcsbe.server.services.enrolments.heartbeat import detect_offline
from fcsbe.server.services.event_log.log import chain_pending
from fcsbe.server.services.flexibility_services.decision_batch import DECISION_BATCH, decide_pending
from fcsbe.server.services.flexibility_services.deviation import DeviationPolicy
from fcsbe.server.services.flexibility_services.execution import (
    DEFAULT_DEVIATION,
    RECORD_DELAY_S,
    execute_step,
)
from fcsbe.server.services.flexibility_services.fallback import fallback_step
from fcsbe.server.services.flexibility_services.telemetry import telemetry_step
from fcsbe.server.services.retention import RetentionPolicy, purge
from fcsbe.server.storage.base import utcnow
from fcsbe.server.storage.flexibility_services import next_due_at
from fcsbe.server.storage.signatures import delete_expired_jtis
from fcsbe.server.storage.wakeup import WorkListener

__all__ = [
    "LISTENER_CHECK_S",
    "ExecutionStep",
    "PeriodicTask",
    "WorkerGroup",
    "chain_event_log_step",
    "contract_closing_step",
    "credential_expiry_step",
    "decision_step",
    "execution_step",
    "fallback_step_of",
    "listener_step",
    "offline_detection_step",
    "outbox_purge_step",
    "replay_store_purge_step",
    "retention_purge_step",
    "telemetry_step_of",
    "transactional",
]

log = logging.getLogger("fcsbe.workers")

MAX_BACKOFF_S = 30.0
"""Longest pause of a loop whose step keeps failing (doubling from its interval)."""
OUTAGE_RETRY_S = 3.0
"""Longest pause of a loop whose step failed because the database cannot be reached: a
replica's loops resume within this of the database coming back (R2 asks 5 s of requests)."""

Step = Callable[[], Awaitable[int]]


@dataclass
class PeriodicTask:
    """One loop: `step` is called every `interval_s`, or again at once when it did work."""

    name: str
    interval_s: float
    step: Step
    last_success: datetime | None = None
    last_error: str | None = None
    consecutive_errors: int = 0
    failures: int = 0
    """Failed steps since start (the metrics' counter)."""
    step_started: float | None = None
    """`time.monotonic()` when the step now running began; None between steps. A step that
    runs far longer than its interval waits on something (a stalled database pool)."""
    idle_interval_s: float | None = None
    """Wait when idle while the group listens for work notifications (None: always poll)."""
    due_in: Callable[[], float | None] | None = None
    """Seconds until the step's next known work (None: none known): an idle loop runs again
    then if that is sooner than its interval, so that work due at a set time (an FS window
    that starts or ends) is done on time rather than up to an interval late."""
    wakeup: asyncio.Event = field(default_factory=asyncio.Event, repr=False)


@dataclass
class WorkerGroup:
    """The server's loops, started and stopped by the app's lifespan.

    Each loop runs with `sink` bound (metrics_hooks), so the steps' measurements reach the
    metrics of the app that owns the group.
    """

    tasks: list[PeriodicTask] = field(default_factory=list)
    sink: metrics_hooks.MetricsSink | None = None
    listening: Callable[[], bool] = lambda: False
    """Whether work notifications reach this group now (the listener is connected)."""
    _running: list[asyncio.Task[None]] = field(default_factory=list)

    def add(
        self,
        name: str,
        interval_s: float,
        step: Step,
        *,
        idle_interval_s: float | None = None,
        due_in: Callable[[], float | None] | None = None,
    ) -> None:
        self.tasks.append(
            PeriodicTask(name, interval_s, step, idle_interval_s=idle_interval_s, due_in=due_in)
        )

    def wake(self) -> None:
        """Work was announced: every loop that waits for it runs now."""
        for task in self.tasks:
            task.wakeup.set()

    async def _idle(self, task: PeriodicTask) -> None:
        due = task.due_in() if task.due_in is not None else None
        # Only work due later shortens the wait: work already due that the step left (a
        # record to retry, a row another replica holds) waits as before.
        soon = due if due is not None and due > 0 else None
        if task.idle_interval_s is None or not self.listening():
            await asyncio.sleep(task.interval_s if soon is None else min(soon, task.interval_s))
            return
        # Listening: wait for a notification, or at most the idle interval (or until the next
        # work is due, when that is sooner); an idle replica must not poll at the interval.
        wait = task.idle_interval_s if soon is None else min(soon, task.idle_interval_s)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(task.wakeup.wait(), wait)
        await asyncio.sleep(task.interval_s)  # spaces runs under a stream of notifications

    async def _loop(self, task: PeriodicTask) -> None:
        metrics_hooks.bind(self.sink)  # this loop's own task context only
        while True:
            task.step_started = time.monotonic()
            task.wakeup.clear()
            try:
                done = await task.step()
                task.last_success = utcnow()
                task.last_error = None
                task.consecutive_errors = 0
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                task.step_started = None
                task.consecutive_errors += 1
                task.failures += 1
                task.last_error = f"{exc.__class__.__name__}: {exc}"
                log.warning("worker %s step failed: %s", task.name, task.last_error)
                done = 0
                # A lost database is retried within seconds, so that after an outage the loops
                # (the fallback's among them) resume soon after it is back; any other failure
                # backs off further, to spare the logs and whatever is failing.
                cap = OUTAGE_RETRY_S if is_database_unavailable(exc) else MAX_BACKOFF_S
                backoff = min(cap, task.interval_s * 2**task.consecutive_errors)
                await asyncio.sleep(backoff)
                continue
            task.step_started = None
            if done == 0:
                await self._idle(task)

    def start(self) -> None:
        """Start every loop (idempotent)."""
        if self._running:
            return
        self._running = [asyncio.create_task(self._loop(t), name=t.name) for t in self.tasks]

    async def stop(self) -> None:
        """Cancel every loop and wait for it to end."""
        for running in self._running:
            running.cancel()
        await asyncio.gather(*self._running, return_exceptions=True)
        self._running = []

    def unhealthy(self, max_consecutive_errors: int = 5) -> list[str]:
        """Names of loops that keep failing (readiness reports them)."""
        return [t.name for t in self.tasks if t.consecutive_errors >= max_consecutive_errors]

    def stalled(self, min_stall_s: float, intervals: float = 3.0) -> list[str]:
        """Names of loops stuck in one step for longer than `intervals` of their interval and
        at least `min_stall_s`, or whose loop ended (readiness reports them): a loop waiting
        on an exhausted pool does not fail, it just stops beating."""
        now = time.monotonic()
        names = [
            t.name
            for t in self.tasks
            if t.step_started is not None
            and now - t.step_started > max(min_stall_s, intervals * t.interval_s)
        ]
        names += [r.get_name() for r in self._running if r.done() and r.get_name() not in names]
        return names


LISTENER_CHECK_S = 5.0
"""How often the work listener's connection is checked (and opened again when lost)."""


def listener_step(listener: WorkListener) -> Step:
    """The step that keeps this replica listening for work notifications (PostgreSQL)."""

    async def step() -> int:
        await listener.ensure()
        return 0

    return step


def transactional(
    factory: async_sessionmaker[AsyncSession], work: Callable[[AsyncSession], Awaitable[int]]
) -> Step:
    """Wrap `work` as a step that runs in its own committed transaction."""

    async def step() -> int:
        async with factory() as session:
            done = await work(session)
            await session.commit()
            return done

    return step


def chain_event_log_step(factory: async_sessionmaker[AsyncSession]) -> Step:
    """The step that chains pending event-log entries."""
    return transactional(factory, chain_pending)


def decision_step(factory: async_sessionmaker[AsyncSession], keys: ServerKeys) -> Step:
    """The step that decides pending FS requests, up to `DECISION_BATCH` per transaction (their
    locks taken up front in a fixed order), each decision signed with the server's active key."""
    return transactional(
        factory,
        lambda session: decide_pending(session, utcnow(), keys.sign, limit=DECISION_BATCH),
    )


class ExecutionStep:
    """The step that runs accepted FS on the stations (on the stations' clock) and records
    the ended ones, and knows when an FS is due next (`due_in`, for its loop's wait)."""

    def __init__(
        self,
        factory: async_sessionmaker[AsyncSession],
        adapter: StationAdapter,
        record_delay_s: float = RECORD_DELAY_S,
        deviation: DeviationPolicy = DEFAULT_DEVIATION,
    ) -> None:
        self.adapter = adapter
        self.record_delay_s = record_delay_s
        self.deviation = deviation
        self.next_due: datetime | None = None
        self._step = transactional(factory, self._run)

    async def _run(self, session: AsyncSession) -> int:
        done = await execute_step(
            session,
            self.adapter,
            self.adapter.now(),
            record_delay_s=self.record_delay_s,
            deviation=self.deviation,
        )
        # Only an idle loop waits for the next FS (a busy one runs again at once), so only
        # then is it looked up.
        self.next_due = await next_due_at(session) if done == 0 else None
        return done

    async def __call__(self) -> int:
        return await self._step()

    def due_in(self) -> float | None:
        """Seconds of the stations' clock until the next FS is due (None: none is)."""
        if self.next_due is None:
            return None
        return (self.next_due - self.adapter.now()).total_seconds()


def execution_step(
    factory: async_sessionmaker[AsyncSession],
    adapter: StationAdapter,
    record_delay_s: float = RECORD_DELAY_S,
    deviation: DeviationPolicy = DEFAULT_DEVIATION,
) -> ExecutionStep:
    """The step that runs accepted FS on the stations and records the ended ones; pass its
    `due_in` to the loop, so that windows start and end on time."""
    return ExecutionStep(factory, adapter, record_delay_s, deviation)


def fallback_step_of(factory: async_sessionmaker[AsyncSession], adapter: StationAdapter) -> Step:
    """The step that applies (and lifts) the contracts' fallback while an FO is offline (R8)."""
    return transactional(factory, lambda session: fallback_step(session, adapter, adapter.now()))


def telemetry_step_of(
    factory: async_sessionmaker[AsyncSession],
    adapter: StationAdapter,
    deviation: DeviationPolicy = DEFAULT_DEVIATION,
) -> Step:
    """The step that keeps meter readings of FS targets, reports FFR activations and
    deviations."""
    return transactional(
        factory,
        lambda session: telemetry_step(session, adapter, adapter.now(), deviation=deviation),
    )


def offline_detection_step(factory: async_sessionmaker[AsyncSession]) -> Step:
    """The step that marks silent enrolments offline (COMM_LOST)."""

    async def work(session: AsyncSession) -> int:
        return len(await detect_offline(session, utcnow()))

    return transactional(factory, work)


def contract_closing_step(factory: async_sessionmaker[AsyncSession]) -> Step:
    """The step that expires (or terminates) contracts past their end."""

    async def work(session: AsyncSession) -> int:
        return await close_due_contracts(session, utcnow())

    return transactional(factory, work)


def credential_expiry_step(factory: async_sessionmaker[AsyncSession], warning_days: float) -> Step:
    """The step that warns FOs whose access token expires soon (CREDENTIAL_EXPIRING, once)."""
    return transactional(
        factory, lambda session: warn_expiring_credentials(session, utcnow(), warning_days)
    )


def replay_store_purge_step(factory: async_sessionmaker[AsyncSession]) -> Step:
    """The step that forgets signature ids that can no longer be replayed."""

    async def work(session: AsyncSession) -> int:
        await delete_expired_jtis(session, utcnow())
        return 0  # never urgent: runs once per interval

    return transactional(factory, work)


def retention_purge_step(
    factory: async_sessionmaker[AsyncSession], policy: RetentionPolicy
) -> Step:
    """The step that deletes one batch of data past its retention (again at once while there
    is more, so a backlog after a long stop drains in bounded transactions)."""

    async def work(session: AsyncSession) -> int:
        return (await purge(session, policy, utcnow())).total

    return transactional(factory, work)


def outbox_purge_step(
    factory: async_sessionmaker[AsyncSession], retention_days: float, dead_retention_days: float
) -> Step:
    """The step that purges settled notifications and delivery logs past their retention."""
    return transactional(
        factory,
        lambda session: purge_outbox(
            session,
            utcnow(),
            retention_days=retention_days,
            dead_retention_days=dead_retention_days,
        ),
    )
