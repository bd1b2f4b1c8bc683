"""FastAPI dependencies shared by the routes: the per-request database session, settings, the
server's signing keys, and typed views of what the app holds (`app.state` is untyped; reading it
through these functions keeps every route and edge module type-checked).

The session is committed when the route returns and before the response is sent
(`scope="function"`), so a 2xx is only ever sent for a durable change; any error rolls back.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Annotated, Protocol, cast

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from fcsbe.server.adapters.base import StationAdapter
from fcsbe.server.security.address_policy import Resolver
from fcsbe.server.security.keys import ServerKeys
from fcsbe.server.security.pseudonyms import Pseudonymizer
from fcsbe.server.settings import Settings
from fcsbe.server.storage.fast.group_commit import GroupCommit

if TYPE_CHECKING:
    from fcsbe.server.platform.metrics import AppMetrics
    from fcsbe.server.workers import WorkerGroup

__all__ = [
    "Adapter",
    "CallbackResolver",
    "DbSession",
    "GroupWriter",
    "ServerSettings",
    "ServerSigningKeys",
    "StationRuntimeView",
    "get_server_keys",
    "get_session",
    "get_settings",
    "state_adapter",
    "state_callback_resolver",
    "state_engine",
    "state_metrics",
    "state_session_factory",
    "state_settings",
    "state_stations",
    "state_workers",
]


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One session (one transaction) per request, committed at the edge."""
    async with state_session_factory(request)() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


async def get_settings(request: Request) -> Settings:
    """The settings the app was built with (async: a sync dependency costs a thread hop)."""
    return state_settings(request)


async def get_server_keys(request: Request) -> ServerKeys:
    """The signing keys loaded at start-up (`data_dir/keys`); async, like `get_settings`."""
    return state_keys(request)


DbSession = Annotated[AsyncSession, Depends(get_session, scope="function")]


async def get_group_commit(request: Request) -> GroupCommit:
    """The process's group committer (storage/fast/group_commit.py)."""
    return cast("GroupCommit", request.app.state.group_commit)


GroupWriter = Annotated[GroupCommit, Depends(get_group_commit)]
ServerSettings = Annotated[Settings, Depends(get_settings)]
ServerSigningKeys = Annotated[ServerKeys, Depends(get_server_keys)]


def state_settings(request: Request) -> Settings:
    """The settings the app was built with."""
    return cast("Settings", request.app.state.settings)


def state_keys(request: Request) -> ServerKeys:
    """The server's signing keys, loaded at start-up."""
    return cast("ServerKeys", request.app.state.keys)


def state_session_factory(request: Request) -> async_sessionmaker[AsyncSession]:
    """Sessions on the app's engine (for work that needs a transaction of its own)."""
    return cast("async_sessionmaker[AsyncSession]", request.app.state.session_factory)


def state_engine(request: Request) -> AsyncEngine:
    """The app's engine (readiness checks a pooled connection)."""
    return cast("AsyncEngine", request.app.state.engine)


def state_adapter(request: Request) -> StationAdapter:
    """The station adapter: the only way anything in the server reaches a station."""
    return cast("StationAdapter", request.app.state.adapter)


class StationRuntimeView(Protocol):
    """What routes use of the station runtime (`server/stations.py`, which also runs the
    simulator: routes must not import it)."""

    @property
    def adapter(self) -> StationAdapter: ...

    @property
    def pseudonyms(self) -> Pseudonymizer: ...


def state_stations(request: Request) -> StationRuntimeView:
    """The station runtime (adapter, pseudonymizer, station sync), set up by the lifespan before
    any request is served."""
    return cast("StationRuntimeView", request.app.state.stations)


def state_callback_resolver(request: Request) -> Resolver:
    """How callback host names are resolved (tests give a fake DNS)."""
    return cast("Resolver", request.app.state.callback_resolver)


def state_workers(request: Request) -> WorkerGroup:
    """The app's background loops (readiness reports stalled ones)."""
    return cast("WorkerGroup", request.app.state.workers)


def state_metrics(request: Request) -> AppMetrics:
    """The Prometheus collectors of this app."""
    return cast("AppMetrics", request.app.state.metrics)


async def get_adapter(request: Request) -> StationAdapter:
    """The station adapter as a route dependency (async: no thread hop)."""
    return state_adapter(request)


async def get_callback_resolver(request: Request) -> Resolver:
    """The callback resolver as a route dependency."""
    return state_callback_resolver(request)


Adapter = Annotated[StationAdapter, Depends(get_adapter)]
CallbackResolver = Annotated[Resolver, Depends(get_callback_resolver)]
