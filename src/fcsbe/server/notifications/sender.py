"""Sends one signed webhook request: Standard Webhooks headers, SSRF-safe connect, bounded I/O.

Signing: `v1` (HMAC-SHA256 over `{webhook-id}.{webhook-timestamp}.{body}`) with the
`standardwebhooks` library for each `whsec_` secret (two during a rotation), `v1a` (Ed25519 over the
same content) for a `whsk_` key; the tokens are space-separated in one header. The host is resolved
and checked before every request and the connection goes to the checked address (see
`security.address_policy`). Redirects are not followed, and at most `MAX_RESPONSE_BYTES` of an
answer are read: the receiver's answer body is not used. This module decides nothing about
retries: it reports what happened.
"""

from __future__ import annotations

import asyncio
import functools
import math
import socket
import ssl
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import httpx
from standardwebhooks import Webhook

from fcsbe import __version__
from fcsbe.model import DeliveryOutcome
from fcsbe.model.webhook_signatures import WEBHOOK_SIGNING_KEY_PREFIX, sign_v1a
from fcsbe.server.security.address_policy import Resolver, system_resolver
from fcsbe.server.security.urls import BlockedAddressError, resolve_for_connect

__all__ = ["MAX_RESPONSE_BYTES", "SendResult", "WebhookSender", "webhook_headers"]

MAX_RESPONSE_BYTES = 64 * 1024


def _signature(key: str, webhook_id: str, timestamp: datetime, body: str) -> str:
    if key.startswith(WEBHOOK_SIGNING_KEY_PREFIX):
        return sign_v1a(key, webhook_id, math.floor(timestamp.timestamp()), body)
    return Webhook(key).sign(webhook_id, timestamp, body)


def webhook_headers(
    webhook_id: str, timestamp: datetime, body: str, secrets: Sequence[str]
) -> dict[str, str]:
    """The Standard Webhooks headers of one request, signed with every key given (`whsec_`
    secrets: `v1`; a `whsk_` key: `v1a`)."""
    signatures = " ".join(_signature(key, webhook_id, timestamp, body) for key in secrets)
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(math.floor(timestamp.timestamp())),
        "webhook-signature": signatures,
    }


@dataclass(frozen=True, slots=True)
class SendResult:
    """What one attempt came to."""

    outcome: DeliveryOutcome
    status_code: int | None
    retry_after: str | None
    error: str | None
    duration_ms: int


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """The system's CA bundle, read once per process (reading it takes tens of ms of CPU, and
    every start of the app makes a delivery client)."""
    return ssl.create_default_context()


class WebhookSender:
    """Posts notifications through one shared `httpx.AsyncClient`, a bounded number at a time."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        timeout_s: float,
        concurrency: int,
        allow_loopback: bool,
        resolver: Resolver = system_resolver,
    ) -> None:
        self._http = http
        self._resolver = resolver
        self._timeout_s = timeout_s
        self._slots = asyncio.Semaphore(concurrency)
        self._allow_loopback = allow_loopback

    @staticmethod
    def make_client(timeout_s: float, concurrency: int) -> httpx.AsyncClient:
        """The HTTP client deliveries share (no redirects, no proxies from the environment).

        TCP_NODELAY: a request goes out as headers then body; with Nagle's algorithm the body
        waits for the receiver's delayed ACK (tens of ms per webhook).
        """
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        transport = httpx.AsyncHTTPTransport(
            verify=_tls_context(),
            limits=limits,
            socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)],
        )
        return httpx.AsyncClient(
            transport=transport,
            timeout=httpx.Timeout(timeout_s),
            follow_redirects=False,
            trust_env=False,
        )

    async def send(
        self,
        url: str,
        webhook_id: str,
        body: str,
        secrets: Sequence[str],
        timestamp: datetime,
    ) -> SendResult:
        """POST `body` to `url`, signed; never raises for network or HTTP failures."""
        async with self._slots:
            started = time.perf_counter()
            status: int | None = None
            retry_after: str | None = None
            try:
                target = await resolve_for_connect(
                    url, allow_loopback=self._allow_loopback, resolver=self._resolver
                )
                headers = {
                    "content-type": "application/json",
                    "user-agent": f"fcsbe/{__version__}",
                    "host": target.host_header,
                    **webhook_headers(webhook_id, timestamp, body, secrets),
                }
                extensions = {"sni_hostname": target.sni_hostname} if target.sni_hostname else {}
                async with asyncio.timeout(self._timeout_s):
                    request = self._http.build_request(
                        "POST",
                        target.connect_url,
                        content=body.encode(),
                        headers=headers,
                        extensions=extensions,
                    )
                    response = await self._http.send(request, stream=True)
                    try:
                        status = response.status_code
                        retry_after = response.headers.get("retry-after")
                        read = 0
                        async for chunk in response.aiter_raw():
                            read += len(chunk)
                            if read > MAX_RESPONSE_BYTES:
                                break
                    finally:
                        await response.aclose()
            except BlockedAddressError as exc:
                return self._result(DeliveryOutcome.BLOCKED, None, None, str(exc), started)
            except (httpx.HTTPError, TimeoutError, OSError) as exc:
                if status is None:
                    error = f"{exc.__class__.__name__}: {exc}".strip().rstrip(":")
                    return self._result(DeliveryOutcome.FAILED, None, None, error, started)
            if status is not None and 200 <= status < 300:
                return self._result(DeliveryOutcome.DELIVERED, status, None, None, started)
            if status == 410:
                return self._result(DeliveryOutcome.GONE, status, None, "410 Gone", started)
            error = f"HTTP {status}"
            return self._result(DeliveryOutcome.FAILED, status, retry_after, error, started)

    @staticmethod
    def _result(
        outcome: DeliveryOutcome,
        status: int | None,
        retry_after: str | None,
        error: str | None,
        started: float,
    ) -> SendResult:
        duration_ms = int((time.perf_counter() - started) * 1000)
        return SendResult(outcome, status, retry_after, error, duration_ms)
