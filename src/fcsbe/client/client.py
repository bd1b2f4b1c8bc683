"""`FcsbeClient`: the async client an aggregator (FO) uses to talk to an FCSBE.

One client per server and credential; use it as an async context manager. Each server module
has a namespace (`client.discovery`, ...). Pass `transport=` (e.g. `httpx.ASGITransport(app)`)
or a ready `http_client=` to run it in-process or through a proxy.

`client.with_options(timeout_s=..., max_retries=..., headers=...)` is a copy with other
per-call options that shares the connection pool and credentials; `client.with_raw_response`
and `client.raw_response(...)` return the `httpx.Response` with the parsed result.
"""

from __future__ import annotations

import asyncio
import urllib.request
from collections.abc import Awaitable, Mapping
from types import TracebackType
from typing import Any, Self, TypeVar

import httpx

from fcsbe.client.admin import AdminResource
from fcsbe.client.availability import AvailabilityResource
from fcsbe.client.capabilities import CapabilitiesResource
from fcsbe.client.charging_stations import ChargingStationsResource
from fcsbe.client.contract_holders import ContractHoldersResource
from fcsbe.client.contracts import ContractsResource
from fcsbe.client.credential_checks import CredentialChecksResource
from fcsbe.client.discovery import DiscoveryResource
from fcsbe.client.enrolments import EnrolmentsResource
from fcsbe.client.ev_user import EvUserResource
from fcsbe.client.event_log import EventLogResource
from fcsbe.client.flexibility_services import FlexibilityServicesResource
from fcsbe.client.heartbeat import HeartbeatResource
from fcsbe.client.notifications import NotificationsResource
from fcsbe.client.pool import ShardedTransport
from fcsbe.client.raw import RawResponse, RawResponseClient, with_raw
from fcsbe.client.records import RecordsResource
from fcsbe.client.registry import RegistryResource
from fcsbe.client.renamed import RenamedAttribute
from fcsbe.client.sessions import SessionsResource
from fcsbe.client.sites import SitesResource
from fcsbe.client.transport import RetryPolicy, Sleep, Transport
from fcsbe.client.webhook_endpoints import WebhookEndpointResource

__all__ = ["NAMESPACES", "FcsbeClient"]

T = TypeVar("T")

NAMESPACES = (
    "discovery",
    "sites",
    "charging_stations",
    "registry",
    "sessions",
    "capabilities",
    "availability",
    "enrolments",
    "heartbeat",
    "contracts",
    "credential_checks",
    "contract_holders",
    "admin",
    "flexibility_services",
    "event_log",
    "records",
    "notifications",
    "webhook_endpoints",
    "ev_users",
)
"""The client's namespaces, one per server module (the sync client mirrors them)."""

DEFAULT_TIMEOUT_S = 10.0
DEFAULT_MAX_CONNECTIONS = 64


class FcsbeClient:
    """Async FO client of one FCSBE.

    Example:
        >>> async with FcsbeClient("https://cso.example", token="...") as client:
        ...     details = await client.discovery.version_details()
    """

    webhook_endpoint = RenamedAttribute[WebhookEndpointResource]("webhook_endpoints")
    ev_user = RenamedAttribute[EvUserResource]("ev_users")

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
            signing_key: Your private Ed25519 JWK (`fcsbe.model.generate_signing_key()`);
                when given, every POST/PUT/PATCH is signed (`X-Fcsbe-Signature`) and
                `enrolments.enrol` registers its public half.
        """
        self._owns_http = http_client is None
        limits = httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections
        )
        if transport is None and http_client is None and not urllib.request.getproxies():
            # Small pools behind one transport (client/pool.py); with a proxy from the
            # environment, httpx's own transport routes it.
            transport = ShardedTransport(max_connections)
        http = http_client or httpx.AsyncClient(
            base_url=base_url, timeout=timeout_s, transport=transport, limits=limits
        )
        self._bind(
            Transport(
                http,
                token=token,
                retry=retry or RetryPolicy(),
                sleep=sleep,
                signing_key=signing_key,
            )
        )

    def _bind(self, transport: Transport) -> None:
        """Make the namespaces, all sending through `transport`."""
        self._transport = transport
        self.discovery = DiscoveryResource(self._transport)
        self.sites = SitesResource(self._transport)
        self.charging_stations = ChargingStationsResource(self._transport)
        self.registry = RegistryResource(self._transport)
        self.sessions = SessionsResource(self._transport)
        self.capabilities = CapabilitiesResource(self._transport)
        self.availability = AvailabilityResource(self._transport)
        self.enrolments = EnrolmentsResource(self._transport)
        self.heartbeat = HeartbeatResource(self._transport)
        self.contracts = ContractsResource(self._transport)
        self.credential_checks = CredentialChecksResource(self._transport)
        self.contract_holders = ContractHoldersResource(self._transport)
        self.admin = AdminResource(self._transport)
        self.flexibility_services = FlexibilityServicesResource(self._transport)
        self.event_log = EventLogResource(self._transport)
        self.records = RecordsResource(self._transport)
        self.notifications = NotificationsResource(self._transport)
        self.webhook_endpoints = WebhookEndpointResource(self._transport)
        self.ev_users = EvUserResource(self._transport)

    def with_options(
        self,
        *,
        timeout_s: float | None = None,
        max_retries: int | None = None,
        retry: RetryPolicy | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> FcsbeClient:
        """A copy of this client with other per-call options, sharing its connection pool and
        credentials (closing the copy closes nothing; close the original).

        Args:
            timeout_s: Timeout of each request, in seconds (default: the client's).
            max_retries: Retries after the first attempt (0: none; default: the client's).
            retry: A whole retry policy (backoff bounds too); `max_retries` overrides its
                attempts.
            headers: Extra headers on every request of the copy (e.g. a trace id).

        Example:
            >>> fs = await client.with_options(timeout_s=2, max_retries=0).flexibility_services.get(
            ...     "fs-1"
            ... )
        """
        copy = object.__new__(type(self))
        copy._owns_http = False
        copy._bind(
            self._transport.derive(
                timeout_s=timeout_s, max_retries=max_retries, retry=retry, headers=headers
            )
        )
        return copy

    @property
    def with_raw_response(self) -> RawResponseClient:
        """The namespaces again, each async method returning a `RawResponse` (the
        `httpx.Response` and the parsed result): `await client.with_raw_response.
        flexibility_services.get("fs-1")`. For static types use `raw_response`."""
        return RawResponseClient(self, NAMESPACES)

    async def raw_response(self, call: Awaitable[T]) -> RawResponse[T]:
        """Await a call of this client and return its `RawResponse`, typed like the call:
        `raw = await client.raw_response(client.flexibility_services.create(request))`."""
        return await with_raw(call)

    @property
    def token(self) -> str | None:
        """The bearer token in use."""
        return self._transport.token

    @token.setter
    def token(self, value: str | None) -> None:
        self._transport.token = value

    @property
    def signing_key(self) -> dict[str, Any] | None:
        """The private key requests are signed with (None: unsigned)."""
        return self._transport.signing_key

    @signing_key.setter
    def signing_key(self, value: Mapping[str, Any] | None) -> None:
        self._transport.signing_key = dict(value) if value else None

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
