"""Sending requests: authentication, retries with backoff and jitter, idempotency keys.

A request that changes state carries an `Idempotency-Key`, made once per call and reused on
every retry, so a retry after a lost response can never apply a change twice. Retries honour
`Retry-After` (capped) and otherwise back off exponentially with full jitter. Given a private
signing key, every POST/PUT/PATCH is signed (`X-Fcsbe-Signature`), afresh on each attempt: a
signature id may be used once only.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
)

from fcsbe.client.errors import (
    FcsbeConnectionError,
    FcsbeStatusError,
    FcsbeTimeoutError,
    error_for_response,
)
from fcsbe.model import SIGNATURE_HEADER, sign_request

__all__ = ["RETRYABLE_STATUS", "RetryPolicy", "Transport"]

RETRYABLE_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})
"""Statuses worth retrying. 409 covers "same Idempotency-Key still in progress"."""

Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How hard the client tries: attempts in all, and the backoff bounds in seconds."""

    max_attempts: int = 4
    initial_backoff_s: float = 0.25
    max_backoff_s: float = 8.0
    max_retry_after_s: float = 60.0


def _retry_after_s(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


class _RetryableStatus(Exception):
    def __init__(self, response: httpx.Response) -> None:
        self.response = response


class Transport:
    """Wraps an `httpx.AsyncClient` with the FCSBE conventions. Shared by every namespace."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        token: str | None,
        retry: RetryPolicy,
        sleep: Sleep = asyncio.sleep,
        rng: random.Random | None = None,
        signing_key: Mapping[str, Any] | None = None,
    ) -> None:
        self.http = http
        self.token = token
        self.signing_key = dict(signing_key) if signing_key else None
        self.retry = retry
        self._sleep = sleep
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, _RetryableStatus):
            advised = _retry_after_s(exc.response)
            if advised is not None:
                return min(advised, self.retry.max_retry_after_s)
        ceiling = min(
            self.retry.max_backoff_s,
            self.retry.initial_backoff_s * 2 ** (state.attempt_number - 1),
        )
        return self._rng.uniform(0, ceiling)

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        content: bytes | None = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
        idempotency_key: str | None = None,
    ) -> httpx.Response:
        """Send with retries and return a 2xx response, or raise a typed error.

        State-changing methods get an `Idempotency-Key` (the given one, else a fresh UUID)
        that stays the same across retries.
        """
        send_headers: dict[str, str] = {"accept": "application/json"}
        if self.token:
            send_headers["authorization"] = f"Bearer {self.token}"
        changes_state = method.upper() in {"POST", "PUT", "PATCH", "DELETE"}
        if changes_state and method.upper() != "DELETE":
            send_headers["idempotency-key"] = idempotency_key or str(uuid.uuid4())
        if headers:
            send_headers.update(headers)
        # None rather than {}: httpx re-parses the URL to merge even an empty query (~20 µs).
        query = {k: v for k, v in (params or {}).items() if v is not None} or None
        retry_allowed = idempotent if idempotent is not None else True
        signed = self.signing_key is not None and method.upper() in {"POST", "PUT", "PATCH"}
        url_path = self.http.build_request(method, path).url.path if signed else ""

        async def attempt() -> httpx.Response:
            headers = dict(send_headers)
            if signed and self.signing_key is not None and content is None:
                headers[SIGNATURE_HEADER] = sign_request(method, url_path, json, self.signing_key)
            try:
                response = await self.http.request(
                    method, path, json=json, content=content, params=query, headers=headers
                )
            except httpx.TimeoutException as exc:
                raise FcsbeTimeoutError(f"{method} {path} timed out") from exc
            except httpx.TransportError as exc:
                raise FcsbeConnectionError(f"{method} {path} failed: {exc!r}") from exc
            if response.status_code in RETRYABLE_STATUS:
                raise _RetryableStatus(response)
            if response.is_error:
                raise error_for_response(response)
            return response

        def should_retry(exc: BaseException) -> bool:
            return retry_allowed and isinstance(exc, _RetryableStatus | FcsbeConnectionError)

        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.retry.max_attempts),
            wait=self._wait,
            retry=retry_if_exception(should_retry),
            sleep=self._sleep,
            reraise=True,
        )
        try:
            response: httpx.Response = await retrying(attempt)
        except _RetryableStatus as exc:
            raise error_for_response(exc.response) from None
        return response

    async def close(self) -> None:
        await self.http.aclose()


def is_status(exc: BaseException, status: int) -> bool:
    """True when `exc` is an error answer with that status (handy in `except` filters)."""
    return isinstance(exc, FcsbeStatusError) and exc.status_code == status
