"""`ReaderPrincipal`: who may read the registry, capabilities, availability and sessions.

An FO reads what its contracts cover (the storage queries filter by it); the CSO's operator reads
everything; an EV user's credential is for the EV-user API only and gets 403 here.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from fcsbe.server.errors import Forbidden
from fcsbe.server.security.principals import AnyPrincipal, Principal, Role

__all__ = ["ReaderPrincipal"]


async def require_reader(principal: AnyPrincipal) -> Principal:
    """The caller, if it is an FO or the operator."""
    if principal.role not in (Role.FO, Role.OPERATOR):
        raise Forbidden("This operation needs an FO or operator credential.", slug="wrong-role")
    return principal


ReaderPrincipal = Annotated[Principal, Depends(require_reader)]
