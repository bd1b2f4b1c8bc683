"""Several small connection pools behind one httpx transport.

httpcore 1.0's pool walks all of its connections on every request start and end, and for each
idle connection once more (its keep-alive check counts them again), so its bookkeeping grows with
the square of the pool: at 32 requests in flight it cost this client several milliseconds of CPU
per request, more than building, sending and parsing the request itself. Pools of
`SHARD_CONNECTIONS` keep every walk short; each request goes to the pool with the fewest requests
in flight, so the capacity is the sum of the pools and a steady load still never reconnects.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Callable

import httpx

__all__ = ["SHARD_CONNECTIONS", "ShardedTransport"]

SHARD_CONNECTIONS = 8
"""Connections per pool: small enough that the pool's walks cost little, large enough that a
few pools serve the usual loads."""


class _Released(httpx.AsyncByteStream):
    """A response body that reports when it is closed (its connection is free again)."""

    def __init__(self, stream: httpx.AsyncByteStream, release: Callable[[], None]) -> None:
        self._stream = stream
        self._release: Callable[[], None] | None = release

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._stream:
            yield chunk

    async def aclose(self) -> None:
        try:
            await self._stream.aclose()
        finally:
            if self._release is not None:
                self._release()
                self._release = None


class ShardedTransport(httpx.AsyncBaseTransport):
    """`max_connections` kept-alive connections, split over pools of `SHARD_CONNECTIONS`."""

    def __init__(self, max_connections: int, shard_connections: int = SHARD_CONNECTIONS) -> None:
        count = max(1, math.ceil(max_connections / shard_connections))
        base, extra = divmod(max_connections, count)
        self._sizes = [base + (1 if i < extra else 0) for i in range(count)]
        tls = httpx.create_ssl_context()  # loading the CA store once costs ~20 ms, so share it
        self._pools = [
            httpx.AsyncHTTPTransport(
                verify=tls,
                limits=httpx.Limits(max_connections=size, max_keepalive_connections=size),
            )
            for size in self._sizes
        ]
        self._in_flight = [0] * count

    @property
    def pool_sizes(self) -> list[int]:
        """The connection limit of each pool."""
        return list(self._sizes)

    @property
    def in_flight(self) -> list[int]:
        """Requests in flight per pool (answers not yet read or closed)."""
        return list(self._in_flight)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        index = min(range(len(self._pools)), key=self._in_flight.__getitem__)
        self._in_flight[index] += 1

        def release() -> None:
            self._in_flight[index] -= 1

        try:
            response = await self._pools[index].handle_async_request(request)
        except BaseException:
            release()
            raise
        assert isinstance(response.stream, httpx.AsyncByteStream)
        return httpx.Response(
            status_code=response.status_code,
            headers=response.headers,
            stream=_Released(response.stream, release),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        for pool in self._pools:
            await pool.aclose()
