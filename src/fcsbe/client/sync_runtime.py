"""What the blocking client is made of: a private event loop thread and typed method wrappers.

The blocking client (`fcsbe.client.SyncFcsbeClient`) does not reimplement a single call: each
of its namespaces wraps the async namespace, and each method runs the async method to
completion on an event loop that lives in a thread of its own. So it behaves exactly like the
async client (retries, idempotency keys, signatures, errors) and works where an event loop
already runs in the calling thread (Jupyter), which `asyncio.run` refuses.

The wrappers are descriptors typed with `ParamSpec`: `blocking(Resource.create)` has the
parameters of `create` and returns what its coroutine returns; `paging(Resource.list)` returns
a `SyncPager` of the same items. The namespace classes that use them are generated from the
async client (`fcsbe.client.sync_codegen`), so the two cannot drift apart.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import Future
from typing import Concatenate, Generic, ParamSpec, Self, TypeVar, overload

from pydantic import BaseModel

from fcsbe.client.paging import AsyncPager
from fcsbe.model import Page

__all__ = ["EventLoopThread", "SyncNamespace", "SyncPager", "blocking", "paging"]

P = ParamSpec("P")
T = TypeVar("T")
R = TypeVar("R")
M = TypeVar("M", bound=BaseModel)


class EventLoopThread:
    """An asyncio event loop running in a daemon thread, for calling async code from sync code.

    One can serve several blocking clients (pass it as `loop_thread=`); close it when done
    (a client closes the one it made itself).
    """

    def __init__(self, name: str = "fcsbe-sync-client") -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def run(self, call: Awaitable[T]) -> T:
        """Run `call` on the loop and wait for its result (or exception) in this thread.

        Interrupting the wait (Ctrl-C) cancels the call.
        """
        problem = None
        if threading.current_thread() is self._thread:
            problem = "a blocking call from the client's own event loop would deadlock"
        elif self.loop.is_closed():
            problem = "the client is closed"
        if problem is not None:
            if inspect.iscoroutine(call):
                call.close()  # never to run: no "never awaited" warning
            raise RuntimeError(problem)
        future: Future[T] = asyncio.run_coroutine_threadsafe(_awaited(call), self.loop)
        try:
            return future.result()
        except BaseException:
            future.cancel()
            raise

    def close(self) -> None:
        """Stop the loop and its thread (idempotent)."""
        if self.loop.is_closed():
            return
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join()
        self.loop.close()


async def _awaited(call: Awaitable[T]) -> T:
    """A coroutine for any awaitable (`run_coroutine_threadsafe` takes coroutines only)."""
    return await call


class SyncNamespace(Generic[R]):
    """The blocking form of one async namespace (`R`); its methods are `blocking`/`paging`."""

    def __init__(self, namespace: R, runner: EventLoopThread) -> None:
        self._async = namespace
        self._runner = runner


class SyncPager(Generic[M]):
    """Iterate the items of a list across pages: `for fs in client.flexibility_services.list()`.

    Pages are fetched lazily on the client's loop, one request per page.
    """

    def __init__(self, pager: AsyncPager[M], runner: EventLoopThread) -> None:
        self._pager = pager
        self._runner = runner

    def _drain(self, source: AsyncIterator[T]) -> Iterator[T]:
        try:
            while True:
                try:
                    yield self._runner.run(anext(source))
                except StopAsyncIteration:
                    return
        finally:
            closer = getattr(source, "aclose", None)
            if closer is not None and not self._runner.loop.is_closed():
                self._runner.run(closer())

    def pages(self) -> Iterator[Page[M]]:
        """Yield whole pages (`items`, `next_cursor`)."""
        return self._drain(self._pager.pages())

    def __iter__(self) -> Iterator[M]:
        return self._drain(aiter(self._pager))

    def to_list(self) -> list[M]:
        """Every item of every page (mind the size of what you ask for)."""
        return list(self)


class blocking(Generic[R, P, T]):  # noqa: N801 - used like a function in class bodies
    """`name = blocking(Resource.name)`: the async method `name`, run to completion."""

    def __init__(self, method: Callable[Concatenate[R, P], Awaitable[T]]) -> None:
        self._method = method
        self._name = method.__name__

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = name

    @overload
    def __get__(self, instance: None, owner: type) -> Self: ...

    @overload
    def __get__(self, instance: SyncNamespace[R], owner: type) -> Callable[P, T]: ...

    def __get__(self, instance: SyncNamespace[R] | None, owner: type) -> Self | Callable[P, T]:
        if instance is None:
            return self
        bound: Callable[P, Awaitable[T]] = getattr(instance._async, self._name)
        runner = instance._runner

        @functools.wraps(bound)
        def call(*args: P.args, **kwargs: P.kwargs) -> T:
            return runner.run(bound(*args, **kwargs))

        return call


class paging(Generic[R, P, M]):  # noqa: N801 - used like a function in class bodies
    """`list = paging(Resource.list)`: the async pager method, iterated from sync code."""

    def __init__(self, method: Callable[Concatenate[R, P], AsyncPager[M]]) -> None:
        self._method = method
        self._name = method.__name__

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = name

    @overload
    def __get__(self, instance: None, owner: type) -> Self: ...

    @overload
    def __get__(self, instance: SyncNamespace[R], owner: type) -> Callable[P, SyncPager[M]]: ...

    def __get__(
        self, instance: SyncNamespace[R] | None, owner: type
    ) -> Self | Callable[P, SyncPager[M]]:
        if instance is None:
            return self
        bound: Callable[P, AsyncPager[M]] = getattr(instance._async, self._name)
        runner = instance._runner

        @functools.wraps(bound)
        def call(*args: P.args, **kwargs: P.kwargs) -> SyncPager[M]:
            return SyncPager(bound(*args, **kwargs), runner)

        return call
