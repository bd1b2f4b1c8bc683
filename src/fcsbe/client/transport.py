"""Sending requests: authentication, retries with backoff and jitter, idempotency keys.

A request that changes state carries an `Idempotency-Key`, made once per call and reused on
every retry, so a retry after a lost response can never apply a change twice. Retries honour
`Retry-After` (capped) and otherwise back off exponentially with full jitter. Given a private
signing key, every POST/PUT/PATCH is signed (`X-Fcsbe-Signature`), afresh on each attempt: a
signature id may be used once only.

A 409 is retried only when it is transient, clearing by itself: the same `Idempotency-Key` is
still being processed (`idempotency-key-in-use`), the proof of work is still being issued
(`proof-pending`), or two requests raced for one unique row (`conflict`, "retry it"); and any
409 that carries `Retry-After`, the server's own word that a retry may succeed. Every other
conflict (`fs-exists`, `proof-already-validated`, `illegal-transition`, ...) is an answer about
the state of things, which the same request cannot change, so it is raised at once.

`Transport.derive` makes a transport with other per-call options (timeout, retries, extra
headers) that shares the connection pool and the credentials (a token rotated through one is
used by all). `capture_responses` collects the raw `httpx.Response`s of the requests made in
the current task, for `with_raw_response`.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace
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
from fcsbe.model import SIGNATURE_HEADER, Problem, problem_type, sign_request

__all__ = [
    "RETRYABLE_CONFLICTS",
    "RETRYABLE_STATUS",
    "RetryPolicy",
    "Transport",
    "capture_responses",
]

RETRYABLE_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
"""Statuses worth retrying whatever the body says."""

RETRYABLE_CONFLICTS = frozenset(
    problem_type(slug) for slug in ("idempotency-key-in-use", "proof-pending", "conflict")
)
"""The 409 problem types worth retrying (transient, see the module docstring). Any other 409
without `Retry-After` is final: the request conflicts with the state, retrying cannot help."""

_CAPTURED: ContextVar[list[httpx.Response] | None] = ContextVar(
    "fcsbe_captured_responses", default=None
)

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


def _retryable(response: httpx.Response) -> bool:
    """Whether an error answer is worth the same request again (see the module docstring)."""
    if response.status_code in RETRYABLE_STATUS:
        return True
    if response.status_code != 409:
        return False
    if "retry-after" in response.headers:
        return True
    try:
        kind = Problem.model_validate_json(response.content).type
    except ValueError:
        return False
    return kind in RETRYABLE_CONFLICTS


@contextmanager
def capture_responses() -> Iterator[list[httpx.Response]]:
    """Collect the final `httpx.Response` of every request the current task (and the tasks it
    starts) sends inside the block, in order; error answers included."""
    captured: list[httpx.Response] = []
    token = _CAPTURED.set(captured)
    try:
        yield captured
    finally:
        _CAPTURED.reset(token)


@dataclass(slots=True)
class _Credentials:
    """What authenticates requests, shared by a transport and the ones derived from it."""

    token: str | None
    signing_key: dict[str, Any] | None


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
        timeout_s: float | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.http = http
        self._credentials = _Credentials(token, dict(signing_key) if signing_key else None)
        self.retry = retry
        self.timeout_s = timeout_s
        self.headers = dict(headers or {})
        self._sleep = sleep
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography

    @property
    def token(self) -> str | None:
        """The bearer token (shared with the derived transports)."""
        return self._credentials.token

    @token.setter
    def token(self, value: str | None) -> None:
        self._credentials.token = value

    @property
    def signing_key(self) -> dict[str, Any] | None:
        """The private key requests are signed with (shared with the derived transports)."""
        return self._credentials.signing_key

    @signing_key.setter
    def signing_key(self, value: Mapping[str, Any] | None) -> None:
        self._credentials.signing_key = dict(value) if value else None

    @property
    def sleep(self) -> Sleep:
        """The sleep used between retries (and by helpers that poll)."""
        return self._sleep

    def derive(
        self,
        *,
        timeout_s: float | None = None,
        max_retries: int | None = None,
        retry: RetryPolicy | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Transport:
        """A transport with other options that shares the pool and the credentials.

        `timeout_s` replaces the per-request timeout; `max_retries` the number of retries
        after the first attempt (0: none); `retry` the whole policy; `headers` are added to
        the ones already set (a later value wins).
        """
        policy = retry or self.retry
        if max_retries is not None:
            if max_retries < 0:
                raise ValueError("max_retries must be 0 or more")
            policy = replace(policy, max_attempts=max_retries + 1)
        derived = Transport(
            self.http,
            token=None,
            retry=policy,
            sleep=self._sleep,
            rng=self._rng,
            timeout_s=self.timeout_s if timeout_s is None else timeout_s,
            headers={**self.headers, **(headers or {})},
        )
        derived._credentials = self._credentials
        return derived

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
        send_headers.update(self.headers)
        if headers:
            send_headers.update(headers)
        # Only when set: otherwise the pool's own timeout applies.
        per_call: dict[str, Any] = {} if self.timeout_s is None else {"timeout": self.timeout_s}
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
                    method,
                    path,
                    json=json,
                    content=content,
                    params=query,
                    headers=headers,
                    **per_call,
                )
            except httpx.TimeoutException as exc:
                raise FcsbeTimeoutError(f"{method} {path} timed out") from exc
            except httpx.TransportError as exc:
                raise FcsbeConnectionError(f"{method} {path} failed: {exc!r}") from exc
            if response.is_error and _retryable(response):
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
        captured = _CAPTURED.get()
        try:
            response: httpx.Response = await retrying(attempt)
        except _RetryableStatus as exc:
            if captured is not None:
                captured.append(exc.response)
            raise error_for_response(exc.response) from None
        except FcsbeStatusError as exc:
            if captured is not None:
                captured.append(exc.response)
            raise
        if captured is not None:
            captured.append(response)
        return response

    async def close(self) -> None:
        await self.http.aclose()
