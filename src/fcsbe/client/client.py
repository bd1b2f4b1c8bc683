"""`FcsbeClient`: the async client an aggregator (FO) uses to talk to an FCSBE.

One client per server and credential; use it as an async context manager. Each server module
has a namespace (`client.discovery`, ...). Pass `transport=` (e.g. `httpx.ASGITransport(app)`)
or a ready `http_client=` to run it in-process or through a proxy.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from types import TracebackType
from typing import Any, Self

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
from fcsbe.client.records import RecordsResource
from fcsbe.client.registry import RegistryResource
from fcsbe.client.sessions import SessionsResource
from fcsbe.client.sites import SitesResource
from fcsbe.client.transport import RetryPolicy, Sleep, Transport
from fcsbe.client.webhook_endpoints import WebhookEndpointResource

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
        http = http_client or httpx.AsyncClient(
            base_url=base_url, timeout=timeout_s, transport=transport, limits=limits
        )
        self._transport = Transport(
            http,
            token=token,
            retry=retry or RetryPolicy(),
            sleep=sleep,
            signing_key=signing_key,
        )
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
        self.webhook_endpoint = WebhookEndpointResource(self._transport)
        self.ev_user = EvUserResource(self._transport)

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
