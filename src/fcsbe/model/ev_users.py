"""The EV user's own view (UC 3.6): consent level, limits, participation, access tokens.

These models travel only between the server and the EV user's phone app (`/v1/ev-user/...`)
or the CSO/CSP operator (`/admin/v1/ev-users`); no FO ever receives them. Fields marked
`x-personal-data` hold personal data of the EV user; `x-pseudonym` fields hold keyed pseudonyms.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Field, Strict, ValidationInfo, field_validator
from pydantic.config import JsonDict

from fcsbe.model.base import Id, InputModel, OutputModel, UtcDateTime
from fcsbe.model.common import Currency, EvseId, Money, Percent
from fcsbe.model.enums import FsType

__all__ = [
    "MAX_EV_USER_INVITE_TTL_S",
    "EvUserConsent",
    "EvUserConsentLevel",
    "EvUserErasure",
    "EvUserInvite",
    "EvUserInviteRequest",
    "EvUserLimits",
    "EvUserParticipation",
    "EvUserProfile",
    "EvUserSummary",
    "EvUserToken",
]

_PERSONAL: JsonDict = {"x-personal-data": True}
_PSEUDONYM: JsonDict = {"x-pseudonym": True}
MAX_EV_USER_INVITE_TTL_S = 90 * 86_400
"""Longest life of a personal link: a link that lives longer is a standing credential."""


class EvUserConsentLevel(StrEnum):
    """How far the EV user lets flexibility services use their EV: not at all, smart charging
    only (V1G), or charging and discharging (V2G)."""

    NONE = "NONE"
    V1G = "V1G"
    V2G = "V2G"


class EvUserLimits(InputModel):
    """The EV user's limits, within physical bounds; they bind every FS on their sessions."""

    min_soc_at_departure_pct: Percent = Field(
        description="State of charge guaranteed at departure.", json_schema_extra=_PERSONAL
    )
    soc_floor_pct: Percent = Field(
        default=0.0,
        description="Lowest state of charge accepted (never discharged below).",
        json_schema_extra=_PERSONAL,
    )
    max_energy_to_grid_kwh_per_day: Annotated[float, Strict()] = Field(
        default=0.0,
        ge=0,
        le=1000,
        description="Most energy given back to the grid per day (kWh); 0: none.",
        json_schema_extra=_PERSONAL,
    )

    @field_validator("soc_floor_pct")
    @classmethod
    def _floor_below_target(cls, value: float, info: ValidationInfo) -> float:
        target = info.data.get("min_soc_at_departure_pct")
        if target is not None and value > target:
            raise ValueError(
                f"soc_floor_pct ({value:g}) must not exceed min_soc_at_departure_pct ({target:g})"
            )
        return value


class EvUserConsent(InputModel):
    """Body of `PUT /v1/ev-user/self/consent`: the level the EV user allows from now on."""

    level: EvUserConsentLevel = Field(description="NONE, V1G or V2G.", json_schema_extra=_PERSONAL)


class EvUserProfile(OutputModel):
    """What the EV user sees first: their consent level, limits and connected sessions."""

    subject_ref: str = Field(
        max_length=64, description="The user's pseudonym.", json_schema_extra=_PSEUDONYM
    )
    consent_level: EvUserConsentLevel = Field(
        description="Consent in force.", json_schema_extra=_PERSONAL
    )
    limits: EvUserLimits = Field(description="Limits in force.", json_schema_extra=_PERSONAL)
    connected_sessions: int = Field(ge=0, description="Sessions of the user connected now.")
    sessions_updated: int = Field(
        default=0, ge=0, description="Live sessions the last change was applied to."
    )
    updated_at: UtcDateTime = Field(description="When consent or limits last changed.")


class EvUserParticipation(OutputModel):
    """One FS one of the user's sessions took part in, with its energy and remuneration."""

    fs_id: Id = Field(description="The FS.")
    fs_type: FsType = Field(description="Its type.")
    start: UtcDateTime = Field(description="Start of the FS window.")
    end: UtcDateTime = Field(description="End of the FS window.")
    session_ref: str = Field(
        max_length=64, description="The session's pseudonym.", json_schema_extra=_PSEUDONYM
    )
    evse_id: EvseId = Field(description="Where the EV was connected.")
    energy_charged_wh: float = Field(ge=0, description="Energy charged during the FS.")
    energy_injected_wh: float = Field(ge=0, description="Energy given back during the FS.")
    remuneration: Money = Field(
        description="The session's share of the FS's net settlement, pro rata to the energy "
        "it moved.",
        json_schema_extra=_PERSONAL,
    )
    currency: Currency | None = Field(default=None, description="Currency of the remuneration.")


class EvUserToken(OutputModel):
    """The EV user's bearer token, returned once when a personal link is exchanged."""

    access_token: str = Field(description="Bearer token (shown once; only its hash is kept).")
    token_type: str = Field(default="Bearer", description="Always `Bearer`.")
    expires_at: UtcDateTime = Field(description="When the token stops working.")


class EvUserInviteRequest(InputModel):
    """Body of `POST /admin/v1/ev-users`: whom to invite and for how long the link works."""

    identifier: str = Field(
        min_length=3,
        max_length=128,
        pattern=r"^[A-Za-z0-9*\-_.:]+$",
        description="The EV user's contract id / EMAID (stored only as a keyed hash).",
        json_schema_extra=_PERSONAL,
    )
    expires_in_s: int = Field(
        default=7 * 86_400,
        ge=60,
        le=MAX_EV_USER_INVITE_TTL_S,
        description="Lifetime of the personal link.",
    )


class EvUserInvite(OutputModel):
    """A one-time personal link for an EV user (shown once; only its hash is kept)."""

    user_id: Id = Field(description="Id of the EV user.")
    invite_url: str = Field(description="The personal link: `.../app/#invite=<code>`.")
    expires_at: UtcDateTime = Field(description="When the link stops working.")


class EvUserSummary(OutputModel):
    """An EV user as the operator lists them: no identifier, only pseudonym and preferences."""

    user_id: Id = Field(description="Id of the EV user.")
    subject_ref: str = Field(max_length=64, description="Pseudonym.", json_schema_extra=_PSEUDONYM)
    consent_level: EvUserConsentLevel = Field(
        description="Consent in force.", json_schema_extra=_PERSONAL
    )
    created_at: UtcDateTime = Field(description="When first invited.")
    updated_at: UtcDateTime = Field(description="When consent or limits last changed.")


class EvUserErasure(OutputModel):
    """What erasure removed (GDPR Art. 17): the key, and the rows derived from the subject."""

    user_id: Id = Field(description="The erased user.")
    erased_at: UtcDateTime = Field(description="When.")
    removed: dict[str, int] = Field(description="Rows deleted or unlinked, by kind.")
