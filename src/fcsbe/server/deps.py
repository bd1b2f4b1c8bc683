"""FastAPI dependencies shared by the routes: the per-request database session, settings and
the server's signing keys.

The session is committed when the route returns and before the response is sent
(`scope="function"`), so a 2xx is only ever sent for a durable change; any error rolls back.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from fcsbe.server.security.keys import ServerKeys
from fcsbe.server.settings import Settings

__all__ = [
    "DbSession",
    "ServerSettings",
    "ServerSigningKeys",
    "get_server_keys",
    "get_session",
    "get_settings",
]


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One session (one transaction) per request, committed at the edge."""
    async with request.app.state.session_factory() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


async def get_settings(request: Request) -> Settings:
    """The settings the app was built with (async: a sync dependency costs a thread hop)."""
    settings: Settings = request.app.state.settings
    return settings


async def get_server_keys(request: Request) -> ServerKeys:
    """The signing keys loaded at start-up (`data_dir/keys`); async, like `get_settings`."""
    keys: ServerKeys = request.app.state.keys
    return keys


DbSession = Annotated[AsyncSession, Depends(get_session, scope="function")]
ServerSettings = Annotated[Settings, Depends(get_settings)]
ServerSigningKeys = Annotated[ServerKeys, Depends(get_server_keys)]
