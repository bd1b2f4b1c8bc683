"""`ReaderPrincipal`: who may read the registry, capabilities, availability and sessions.

An FO reads what its contracts cover (the storage queries filter by it); the CSO's operator reads
everything; an EV user's credential is for the EV-user API only and gets 403 here.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends

from fcsbe.server.api.edge.authentication import AnyPrincipal
from fcsbe.server.errors import Forbidden
from fcsbe.server.security.principal import Principal, Role, check_scope

__all__ = ["InfrastructureReader", "ReaderPrincipal", "SessionsReader", "reader_with_scope"]


async def require_reader(principal: AnyPrincipal) -> Principal:
    """The caller, if it is an FO or the operator."""
    if principal.role not in (Role.FO, Role.OPERATOR):
        raise Forbidden("This operation needs an FO or operator credential.", slug="wrong-role")
    return principal


ReaderPrincipal = Annotated[Principal, Depends(require_reader)]


def reader_with_scope(scope: str) -> Any:
    """A dependency: an FO or the operator, the FO only if its enrolment grants `scope`."""

    async def dependency(principal: ReaderPrincipal) -> Principal:
        return check_scope(principal, scope)

    dependency.__name__ = f"reader_with_scope_{scope.replace('-', '_')}"
    return Depends(dependency)


InfrastructureReader = Annotated[Principal, reader_with_scope("infrastructure")]
"""Sites, charging stations, capabilities and availability: the `infrastructure` scope."""
SessionsReader = Annotated[Principal, reader_with_scope("sessions")]
"""EV sessions: the `sessions` scope."""
