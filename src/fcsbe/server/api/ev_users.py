"""The EV user's routes (`/v1/ev-user`, UC 3.6) and the operator's (`/admin/v1/ev-users`).

The phone app trades the one-time code of a personal link (sent as the bearer) for an EV-user
token, then reads and changes only that user's consent and limits and reads their
participation. Changes take effect on the user's connected sessions at once (through the station
adapter) before the answer is sent. The operator invites, lists and erases EV users.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response

from fcsbe.model import (
    EvUserConsent,
    EvUserConsentLevel,
    EvUserErasure,
    EvUserInvite,
    EvUserInviteRequest,
    EvUserLimits,
    EvUserParticipation,
    EvUserProfile,
    EvUserSummary,
    EvUserToken,
    Page,
)
from fcsbe.server.adapters.base import StationAdapter
from fcsbe.server.api.edge.authentication import EvUserPrincipal, OperatorPrincipal, bearer_token
from fcsbe.server.api.edge.listing import after_id
from fcsbe.server.api.edge.paging import DEFAULT_PAGE_SIZE, Cursor, Limit, page_response
from fcsbe.server.api.edge.problems import problem_responses
from fcsbe.server.deps import DbSession, ServerSettings, state_stations
from fcsbe.server.security.pseudonyms import Pseudonymizer
from fcsbe.server.services.ev_users import access
from fcsbe.server.services.ev_users import ev_users as service
from fcsbe.server.storage.base import utcnow

__all__ = ["admin_router", "router"]

router = APIRouter(prefix="/v1/ev-user", tags=["ev-user"])
admin_router = APIRouter(prefix="/admin/v1/ev-users", tags=["admin"])

UserId = Annotated[str, Path(min_length=1, max_length=64, description="Id of the EV user.")]


class _Stations:
    """The station adapter and the deployment's pseudonymizer of the running app."""

    def __init__(self, request: Request) -> None:
        runtime = state_stations(request)
        self.adapter: StationAdapter = runtime.adapter
        self.pseudonyms: Pseudonymizer = runtime.pseudonyms


def _stations(request: Request) -> _Stations:
    return _Stations(request)


@router.post(
    "/token",
    operation_id="exchange_ev_user_invite",
    status_code=201,
    responses=problem_responses(401, 410),
)
async def exchange_ev_user_invite(
    request: Request, session: DbSession, settings: ServerSettings
) -> EvUserToken:
    """Trade the code of a personal link (as `Authorization: Bearer <code>`) for a token."""
    return await access.exchange_invite(
        session, bearer_token(request), token_ttl_s=settings.ev_user_token_ttl_s, now=utcnow()
    )


@router.get("/self", operation_id="get_ev_user_profile", responses=problem_responses(401, 403))
async def get_ev_user_profile(principal: EvUserPrincipal, session: DbSession) -> EvUserProfile:
    """The caller's consent level, limits and connected sessions."""
    return await service.profile(session, principal)


@router.put(
    "/self/consent",
    operation_id="set_ev_user_consent",
    responses=problem_responses(401, 403, 422),
)
async def set_ev_user_consent(
    body: EvUserConsent, request: Request, principal: EvUserPrincipal, session: DbSession
) -> EvUserProfile:
    """Set the consent level (NONE, V1G, V2G); live sessions follow from the next step."""
    stations = _stations(request)
    return await service.set_consent(
        session,
        principal,
        body.level,
        adapter=stations.adapter,
        pseudonyms=stations.pseudonyms,
        now=utcnow(),
    )


@router.put(
    "/self/limits", operation_id="set_ev_user_limits", responses=problem_responses(401, 403, 422)
)
async def set_ev_user_limits(
    body: EvUserLimits, request: Request, principal: EvUserPrincipal, session: DbSession
) -> EvUserProfile:
    """Replace the limits; 422 naming the field when one is outside physical bounds."""
    stations = _stations(request)
    return await service.set_limits(
        session,
        principal,
        body,
        adapter=stations.adapter,
        pseudonyms=stations.pseudonyms,
        now=utcnow(),
    )


@router.post(
    "/self/withdrawal",
    operation_id="withdraw_ev_user_consent",
    responses=problem_responses(401, 403),
)
async def withdraw_ev_user_consent(
    request: Request, principal: EvUserPrincipal, session: DbSession
) -> EvUserProfile:
    """Withdraw consent (level NONE): discharge stops at once and the FOs are told."""
    withdrawal = EvUserConsent(level=EvUserConsentLevel.NONE)
    return await set_ev_user_consent(withdrawal, request, principal, session)


@router.get(
    "/self/participations",
    operation_id="list_ev_user_participations",
    responses=problem_responses(401, 403),
)
async def list_ev_user_participations(
    principal: EvUserPrincipal, session: DbSession
) -> list[EvUserParticipation]:
    """The FS the caller's sessions took part in, with energy and remuneration, newest first."""
    return await service.participation(session, principal)


@admin_router.post(
    "",
    operation_id="invite_ev_user",
    status_code=201,
    responses=problem_responses(401, 403, 422),
)
async def invite_ev_user(
    body: EvUserInviteRequest,
    request: Request,
    principal: OperatorPrincipal,
    session: DbSession,
    settings: ServerSettings,
) -> EvUserInvite:
    """A one-time personal link for an EV user (the code is in this answer only)."""
    base = settings.public_base_url or str(request.base_url)
    created, _new = await access.invite(
        session,
        body.identifier,
        expires_in_s=body.expires_in_s,
        base_url=base,
        pseudonyms=_stations(request).pseudonyms,
        now=utcnow(),
    )
    return created


@admin_router.get("", operation_id="list_ev_users", responses=problem_responses(401, 403, 422))
async def list_ev_users(
    request: Request,
    response: Response,
    principal: OperatorPrincipal,
    session: DbSession,
    limit: Limit = DEFAULT_PAGE_SIZE,
    cursor: Cursor = None,
) -> Page[EvUserSummary]:
    """EV users by id: pseudonym and consent level only."""
    items, next_key = await access.list_users(session, after=after_id(request, cursor), limit=limit)
    return page_response(request, response, Page[EvUserSummary], items, next_key)


@admin_router.delete(
    "/{user_id}", operation_id="erase_ev_user", responses=problem_responses(401, 403, 404)
)
async def erase_ev_user(
    user_id: UserId, principal: OperatorPrincipal, session: DbSession
) -> EvUserErasure:
    """Erase an EV user: their key is destroyed and every row derived from them goes."""
    return await access.erase(session, user_id, utcnow())
