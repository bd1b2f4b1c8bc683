"""FastAPI dependencies shared by the routes: the per-request database session and settings.

The session is committed when the route returns and before the response is sent
(`scope="function"`), so a 2xx is only ever sent for a durable change; any error rolls back.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from fcsbe.server.settings import Settings

__all__ = ["DbSession", "ServerSettings", "get_session", "get_settings"]


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One session (one transaction) per request, committed at the edge."""
    async with request.app.state.session_factory() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


def get_settings(request: Request) -> Settings:
    """The settings the app was built with."""
    settings: Settings = request.app.state.settings
    return settings


DbSession = Annotated[AsyncSession, Depends(get_session, scope="function")]
ServerSettings = Annotated[Settings, Depends(get_settings)]
