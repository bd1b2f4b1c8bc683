"""The EV user's own API (`/v1/ev-user/...`, UC 3.6) and the operator's EV-user routes.

An EV user's client is an `FcsbeClient` with the EV-user token (from `exchange_invite`) as its
token; it sees only that user's consent, limits and participation.
"""

from __future__ import annotations

from urllib.parse import quote

from fcsbe.client.operations import operation
from fcsbe.client.paging import AsyncPager
from fcsbe.client.transport import Transport
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
)

__all__ = ["EvUserResource"]


class EvUserResource:
    """Consent, limits and participation of one EV user; invitations and erasure (operator)."""

    def __init__(self, transport: Transport) -> None:
        self._t = transport

    @operation("exchange_ev_user_invite")
    async def exchange_invite(self, code: str) -> EvUserToken:
        """Trade the code of a personal link (`.../app/#invite=<code>`) for an EV-user token.

        Raises:
            AuthenticationError: the code is not known.
            FcsbeStatusError: 410 `invite-gone` when the link was already used or has expired.
        """
        response = await self._t.request(
            "POST", "/v1/ev-user/token", headers={"authorization": f"Bearer {code}"}
        )
        return EvUserToken.model_validate_json(response.content)

    @operation("get_ev_user_profile")
    async def profile(self) -> EvUserProfile:
        """The caller's consent level, limits and number of connected sessions."""
        response = await self._t.request("GET", "/v1/ev-user/self")
        return EvUserProfile.model_validate_json(response.content)

    @operation("set_ev_user_consent")
    async def set_consent(self, level: EvUserConsentLevel) -> EvUserProfile:
        """Set the consent level (NONE, V1G or V2G); live sessions follow at once."""
        body = EvUserConsent(level=level).model_dump(mode="json")
        response = await self._t.request("PUT", "/v1/ev-user/self/consent", json=body)
        return EvUserProfile.model_validate_json(response.content)

    @operation("set_ev_user_limits")
    async def set_limits(self, limits: EvUserLimits) -> EvUserProfile:
        """Replace the caller's limits; live sessions follow at once."""
        body = limits.model_dump(mode="json")
        response = await self._t.request("PUT", "/v1/ev-user/self/limits", json=body)
        return EvUserProfile.model_validate_json(response.content)

    @operation("withdraw_ev_user_consent")
    async def withdraw(self) -> EvUserProfile:
        """Withdraw consent: discharge stops on the caller's sessions and the FOs are told."""
        response = await self._t.request("POST", "/v1/ev-user/self/withdrawal")
        return EvUserProfile.model_validate_json(response.content)

    @operation("list_ev_user_participations")
    async def participations(self) -> list[EvUserParticipation]:
        """The FS the caller's sessions took part in, with energy and remuneration."""
        response = await self._t.request("GET", "/v1/ev-user/self/participations")
        return [EvUserParticipation.model_validate(p) for p in response.json()]

    @operation("invite_ev_user")
    async def invite(self, identifier: str, *, expires_in_s: int | None = None) -> EvUserInvite:
        """Operator: a one-time personal link for the EV user with this contract id / EMAID."""
        body = EvUserInviteRequest(identifier=identifier)
        if expires_in_s is not None:
            body = EvUserInviteRequest(identifier=identifier, expires_in_s=expires_in_s)
        response = await self._t.request(
            "POST", "/admin/v1/ev-users", json=body.model_dump(mode="json")
        )
        return EvUserInvite.model_validate_json(response.content)

    @operation("list_ev_users")
    def list_users(self, *, page_size: int | None = None) -> AsyncPager[EvUserSummary]:
        """Operator: iterate over the EV users (pseudonym and consent level only)."""
        return AsyncPager(self._t, "/admin/v1/ev-users", EvUserSummary, {}, page_size)

    @operation("erase_ev_user")
    async def erase(self, user_id: str) -> EvUserErasure:
        """Operator: erase an EV user (their pseudonym key is destroyed)."""
        response = await self._t.request("DELETE", f"/admin/v1/ev-users/{quote(user_id, safe='')}")
        return EvUserErasure.model_validate_json(response.content)
