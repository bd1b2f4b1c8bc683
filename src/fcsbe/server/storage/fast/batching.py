"""One task serving waiting requests in batches: what the group commit and the group read share.

A request queues its item with a future and waits; one task per process takes every item
waiting (up to a maximum), serves them together, answers each, then takes the next batch.
Nothing waits for a timer: while one batch is served, the next one gathers, so under light load
a batch is one item. The task is started by the first item and stops when closed.
"""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from collections import deque
from typing import Any, Generic, Protocol, TypeVar

__all__ = ["Batcher", "Waiting"]

log = logging.getLogger("fcsbe.storage.batching")


class Waiting(Protocol):
    """A queued item: its caller waits on `future`."""

    @property
    def future(self) -> asyncio.Future[Any]: ...


P = TypeVar("P", bound=Waiting)


class Batcher(ABC, Generic[P]):
    """The queue and the task; a subclass serves a batch (`_serve`)."""

    def __init__(self, name: str, max_batch: int) -> None:
        self._name = name
        self._max_batch = max_batch
        self._queue: deque[P] = deque()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    def _submit(self, pending: P) -> None:
        """Queue `pending` for the next batch (its caller then awaits its future)."""
        if self._closed:
            raise RuntimeError(f"the {self._name} is closed")
        self._queue.append(pending)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._loop(), name=f"fcsbe-{self._name}")
        self._wake.set()

    async def close(self) -> None:
        """Serve what is queued, then stop the task."""
        self._closed = True
        task, self._task = self._task, None
        if task is None:
            return
        self._wake.set()
        try:
            await asyncio.wait_for(task, timeout=10)
        except TimeoutError:
            task.cancel()

    async def _loop(self) -> None:
        while True:
            if not self._queue:
                if self._closed:
                    return
                self._wake.clear()
                await self._wake.wait()
                continue
            await self._serve()

    @abstractmethod
    async def _serve(self) -> None:
        """Take a batch (`_take`) and answer every item of it, errors included: the database's
        failure is every item's (`_fail`)."""

    def _take(self) -> list[P]:
        """The next batch: the items waiting (at most the maximum), without those whose caller
        gave up."""
        count = min(len(self._queue), self._max_batch)
        batch = [self._queue.popleft() for _ in range(count)]
        return [p for p in batch if not p.future.done()]

    def _fail(self, batch: list[P], exc: BaseException) -> None:
        """Answer every item of `batch` with the failure `exc` of the whole batch; re-raise a
        cancellation (or an exit) once the callers know."""
        if not isinstance(exc, Exception):
            for pending in batch:
                if not pending.future.done():
                    pending.future.cancel()
            raise exc
        log.warning("%s of %d items failed: %s", self._name, len(batch), exc)
        for pending in batch:
            if not pending.future.done():
                pending.future.set_exception(getattr(pending, "failure", None) or exc)
