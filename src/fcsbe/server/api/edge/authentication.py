"""Who is calling: the bearer credential of each request becomes the frozen `Principal`.

Every repository query that touches party data takes the principal and filters by it; routes
declare the role they need with `FoPrincipal`, `OperatorPrincipal` or `EvUserPrincipal`.
Unknown, expired or revoked credentials and inactive enrolments are all a 401 with a reason,
so a revoked token stops working at once; the use of a revoked token is also a security event.
FO routes may further require an API scope granted at enrolment (`fo_with_scope`).
"""

from __future__ import annotations

import math
from typing import Annotated, Any

from fastapi import Depends, Request

from fcsbe.server.api.edge.audit import refuse_with_trace
from fcsbe.server.deps import DbSession
from fcsbe.server.errors import Forbidden, TooManyRequests, Unauthorized
from fcsbe.server.security.principal import Principal, Role, check_scope
from fcsbe.server.security.tokens import hash_secret
from fcsbe.server.storage.base import utcnow
from fcsbe.server.storage.fast.credentials import find_credential

__all__ = [
    "AnyPrincipal",
    "EvUserPrincipal",
    "FoPrincipal",
    "OperatorPrincipal",
    "any_with_scope",
    "authenticate",
    "bearer_token",
    "check_role",
    "fo_with_scope",
]


_KEYED_METHODS = frozenset({"POST", "PUT", "PATCH"})


def bearer_token(request: Request) -> str:
    header = request.headers.get("authorization")
    if not header:
        raise Unauthorized("An `Authorization: Bearer <token>` header is required.")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Use `Authorization: Bearer <token>`.", slug="invalid-token")
    return token.strip()


async def authenticate(request: Request, session: DbSession) -> Principal:
    """Resolve the bearer token to a principal (one indexed query), or refuse with 401."""
    token_hash = hash_secret(bearer_token(request))
    # A state-changing request's idempotency key is locked in the same round trip (PostgreSQL)
    key = request.headers.get("idempotency-key") if request.method in _KEYED_METHODS else None
    row = await find_credential(session, token_hash, key or None)
    now = utcnow()
    if row is None:
        raise Unauthorized("The access token is not known.", slug="invalid-token")
    if row.revoked_at is not None:
        await refuse_with_trace(
            request,
            session,
            Unauthorized("The access token has been revoked.", slug="token-revoked"),
            kind="REVOKED_TOKEN_USED",
            party_id=row.party_id,
            object_ref=f"credential/{row.credential_id}",
            notify=row.role == Role.FO.value,
        )
    if row.expires_at is not None and row.expires_at <= now:
        raise Unauthorized("The access token has expired.", slug="token-expired")
    scopes: frozenset[str] = frozenset()
    if row.enrolment_id is not None:
        if row.status != "ACTIVE":
            raise Unauthorized("The enrolment is not active.", slug="enrolment-inactive")
        scopes = frozenset(row.scopes or ())
    principal = Principal(
        party_id=row.party_id,
        role=Role(row.role),
        credential_id=row.credential_id,
        enrolment_id=row.enrolment_id,
        scopes=scopes,
    )
    request.state.principal = principal
    _limit_rate(request, principal)
    return principal


def _limit_rate(request: Request, principal: Principal) -> None:
    """Draw on the party's token bucket (server/platform/rate_limit.py); 429 once it is empty."""
    buckets = getattr(request.app.state, "rate_limits", None)  # None: limits are off
    if buckets is None:
        return
    wait_s = buckets.take(f"party:{principal.party_id}")
    if wait_s:
        retry_after = math.ceil(wait_s)
        raise TooManyRequests(
            f"The request rate of this party is over the limit; retry after {retry_after} s.",
            retry_after_s=retry_after,
        )


def check_role(principal: Principal, role: Role) -> Principal:
    """Refuse (403) a principal of another role."""
    if principal.role is not role:
        raise Forbidden(f"This operation needs a {role.value} credential.", slug="wrong-role")
    return principal


def _require(role: Role) -> object:
    async def dependency(principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
        return check_role(principal, role)

    dependency.__name__ = f"require_{role.value.lower()}"
    return dependency


def fo_with_scope(scope: str) -> Any:
    """A dependency: an FO principal whose enrolment grants `scope` (else 403)."""

    async def dependency(
        principal: Annotated[Principal, Depends(_require(Role.FO))],
    ) -> Principal:
        return check_scope(principal, scope)

    dependency.__name__ = f"require_scope_{scope.replace('-', '_')}"
    return Depends(dependency)


def any_with_scope(scope: str) -> Any:
    """A dependency: any authenticated principal, an FO only if its enrolment grants `scope`."""

    async def dependency(principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
        return check_scope(principal, scope)

    dependency.__name__ = f"any_with_scope_{scope.replace('-', '_')}"
    return Depends(dependency)


AnyPrincipal = Annotated[Principal, Depends(authenticate)]
FoPrincipal = Annotated[Principal, Depends(_require(Role.FO))]
OperatorPrincipal = Annotated[Principal, Depends(_require(Role.OPERATOR))]
EvUserPrincipal = Annotated[Principal, Depends(_require(Role.EV_USER))]
