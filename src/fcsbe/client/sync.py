"""`SyncFcsbeClient`: the FO client for scripts and notebooks, without `await`.

It is the async `FcsbeClient` run on a private event loop thread (`sync_runtime`): the same
namespaces and methods, blocking, with the same retries, idempotency keys, signatures and
errors. Lists return iterators over every page.

Example:
    >>> with SyncFcsbeClient("https://cso.example", token="...") as client:
    ...     for fs in client.flexibility_services.list():
    ...         print(fs.fs_id, fs.state)
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, Self

import httpx

from fcsbe.client.client import DEFAULT_MAX_CONNECTIONS, DEFAULT_TIMEOUT_S, FcsbeClient
from fcsbe.client.raw import RawResponse, RawResponseClient, RawResponseNamespace
from fcsbe.client.renamed import RenamedAttribute
from fcsbe.client.sync_namespaces import (
    SyncEvUserResource,
    SyncNamespaces,
    SyncWebhookEndpointResource,
)
from fcsbe.client.sync_runtime import EventLoopThread
from fcsbe.client.transport import RetryPolicy, Sleep

__all__ = ["SyncFcsbeClient", "SyncRawResponseClient"]


class SyncFcsbeClient(SyncNamespaces):
    """Blocking FO client of one FCSBE (the async `FcsbeClient` on a private loop thread).

    Takes the arguments of `FcsbeClient`, and `loop_thread` to share one `EventLoopThread`
    between several clients (it is then not closed with this client). Close the client
    (`close()` or a `with` block) to release the connections and the thread.
    """

    webhook_endpoint = RenamedAttribute[SyncWebhookEndpointResource]("webhook_endpoints")
    ev_user = RenamedAttribute[SyncEvUserResource]("ev_users")

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        retry: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        http_client: httpx.AsyncClient | None = None,
        sleep: Sleep = asyncio.sleep,
        signing_key: Mapping[str, Any] | None = None,
        loop_thread: EventLoopThread | None = None,
    ) -> None:
        self._owns_runner = loop_thread is None
        runner = loop_thread or EventLoopThread()

        async def make() -> FcsbeClient:
            # Made on the loop that will use it: the pool belongs to that loop.
            return FcsbeClient(
                base_url,
                token=token,
                timeout_s=timeout_s,
                max_connections=max_connections,
                retry=retry,
                transport=transport,
                http_client=http_client,
                sleep=sleep,
                signing_key=signing_key,
            )

        self._setup(runner.run(make()), runner)

    def _setup(self, client: FcsbeClient, runner: EventLoopThread) -> None:
        self._client = client
        self._runner = runner
        self._bind_namespaces(client, runner)

    @property
    def async_client(self) -> FcsbeClient:
        """The async client underneath (use it only from `run`)."""
        return self._client

    def run(self, call: Callable[[FcsbeClient], Any]) -> Any:
        """Run `call(async_client)` (a coroutine function) on the client's loop; returns its
        result. For what the namespaces do not cover, e.g. several calls at once:
        `client.run(lambda c: asyncio.gather(c.sites.get("a"), c.sites.get("b")))`."""
        return self._runner.run(call(self._client))

    def with_options(
        self,
        *,
        timeout_s: float | None = None,
        max_retries: int | None = None,
        retry: RetryPolicy | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> SyncFcsbeClient:
        """A copy with other per-call options, sharing the connection pool, the credentials
        and the loop thread (see `FcsbeClient.with_options`); closing it closes nothing."""
        copy = object.__new__(type(self))
        copy._owns_runner = False
        derived = self._client.with_options(
            timeout_s=timeout_s, max_retries=max_retries, retry=retry, headers=headers
        )
        copy._setup(derived, self._runner)
        return copy

    @property
    def with_raw_response(self) -> SyncRawResponseClient:
        """The namespaces again, each method returning a `RawResponse` (the `httpx.Response`
        and the parsed result): `client.with_raw_response.flexibility_services.get("fs-1")`."""
        return SyncRawResponseClient(self._client.with_raw_response, self._runner)

    @property
    def token(self) -> str | None:
        """The bearer token in use (rotations through any copy update it)."""
        return self._client.token

    @token.setter
    def token(self, value: str | None) -> None:
        self._client.token = value

    @property
    def signing_key(self) -> dict[str, Any] | None:
        """The private key requests are signed with (None: unsigned)."""
        return self._client.signing_key

    @signing_key.setter
    def signing_key(self, value: Mapping[str, Any] | None) -> None:
        self._client.signing_key = value

    def close(self) -> None:
        """Close the connection pool (if this client made it) and the loop thread (if this
        client started it). Idempotent."""
        if self._runner.loop.is_closed():
            return
        self._runner.run(self._client.aclose())
        if self._owns_runner:
            self._runner.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class _SyncRawNamespace:
    def __init__(self, namespace: RawResponseNamespace, runner: EventLoopThread) -> None:
        self._namespace = namespace
        self._runner = runner

    def __getattr__(self, attr: str) -> Callable[..., RawResponse[Any]]:
        method = getattr(self._namespace, attr)
        runner = self._runner

        def call(*args: Any, **kwargs: Any) -> RawResponse[Any]:
            result: RawResponse[Any] = runner.run(method(*args, **kwargs))
            return result

        call.__name__ = attr
        call.__doc__ = method.__doc__
        return call

    def __dir__(self) -> list[str]:
        return dir(self._namespace)


class SyncRawResponseClient:
    """`SyncFcsbeClient.with_raw_response`: blocking calls answering `RawResponse`s."""

    def __init__(self, raw: RawResponseClient, runner: EventLoopThread) -> None:
        self._raw = raw
        self._runner = runner

    def __getattr__(self, name: str) -> _SyncRawNamespace:
        return _SyncRawNamespace(getattr(self._raw, name), self._runner)

    def __dir__(self) -> list[str]:
        return dir(self._raw)
