"""An FO with a contract on a site, for client tests through the real server; and a transport
that counts what the client sends (a wrapper of the in-process transport, not a fake)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx
from fastapi import FastAPI

from fcsbe.client import FcsbeClient, RetryPolicy
from fcsbe.model import FlexibilityServiceRequest
from tests.support.factories import make_fo
from tests.support.fs_fixtures import make_contract, make_site, request_body

__all__ = ["Counting", "fo_client", "fs_request", "setup_fo"]


class Counting(httpx.AsyncBaseTransport):
    """The in-process transport, recording every request it carries."""

    def __init__(self, app: FastAPI) -> None:
        self.inner = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        self.requests: list[httpx.Request] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return await self.inner.handle_async_request(request)


async def _no_sleep(_seconds: float) -> None:
    return None


async def setup_fo(app: FastAPI) -> str:
    """FO-A with contract `fsc-1` on site `s1` (two EVSEs); returns its token."""
    token = await make_fo(app.state.session_factory, "FO-A")
    await make_site(app.state.session_factory, "s1", evses=2)
    await make_contract(app.state.session_factory, "FO-A")
    return token


def fo_client(
    transport: httpx.AsyncBaseTransport,
    token: str,
    *,
    attempts: int = 4,
    sleep: Callable[[float], Awaitable[None]] = _no_sleep,
) -> FcsbeClient:
    """A client of the in-process server that never really sleeps (unless told what to do)."""
    return FcsbeClient(
        "http://fcsbe.test",
        token=token,
        transport=transport,
        retry=RetryPolicy(max_attempts=attempts),
        sleep=sleep,
    )


def fs_request(fs_id: str, **changes: object) -> FlexibilityServiceRequest:
    """A SETPOINT request on `s1` under `fsc-1`, an hour ahead."""
    return FlexibilityServiceRequest.model_validate(request_body(fs_id, **changes))  # type: ignore[arg-type]
