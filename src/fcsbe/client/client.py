"""`FcsbeClient`: the async client an aggregator (FO) uses to talk to an FCSBE.

One client per server and credential; use it as an async context manager. Each server module
has a namespace (`client.discovery`, ...). Pass `transport=` (e.g. `httpx.ASGITransport(app)`)
or a ready `http_client=` to run it in-process or through a proxy.
"""

from __future__ import annotations

import asyncio
from types import TracebackType
from typing import Self

import httpx

from fcsbe.client.discovery import DiscoveryResource
from fcsbe.client.flexibility_services import FlexibilityServicesResource
from fcsbe.client.transport import RetryPolicy, Sleep, Transport

__all__ = ["FcsbeClient"]

DEFAULT_TIMEOUT_S = 10.0
DEFAULT_MAX_CONNECTIONS = 64


class FcsbeClient:
    """Async FO client of one FCSBE.

    Example:
        >>> async with FcsbeClient("https://cso.example", token="...") as client:
        ...     details = await client.discovery.version_details()
    """

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
    ) -> None:
        """Create a client.

        Args:
            base_url: The server's root URL (without `/v1`).
            token: The bearer access token from enrolment.
            timeout_s: Per-request timeout in seconds.
            max_connections: Requests in flight at once (one HTTP/1.1 connection each); all of
                them are kept alive between requests, so a steady load never reconnects.
            retry: Retry policy; default 4 attempts with exponential backoff and jitter.
            transport: An httpx transport (e.g. `httpx.ASGITransport(app)` for tests).
            http_client: A ready `httpx.AsyncClient`; its base URL is used as given.
            sleep: The sleep used between retries (tests pass a fake one).
        """
        self._owns_http = http_client is None
        limits = httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections
        )
        http = http_client or httpx.AsyncClient(
            base_url=base_url, timeout=timeout_s, transport=transport, limits=limits
        )
        self._transport = Transport(http, token=token, retry=retry or RetryPolicy(), sleep=sleep)
        self.discovery = DiscoveryResource(self._transport)
        self.flexibility_services = FlexibilityServicesResource(self._transport)

    @property
    def token(self) -> str | None:
        """The bearer token in use."""
        return self._transport.token

    @token.setter
    def token(self, value: str | None) -> None:
        self._transport.token = value

    async def aclose(self) -> None:
        """Close the connection pool (if this client created it)."""
        if self._owns_http:
            await self._transport.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
