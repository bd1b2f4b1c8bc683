"""EV sessions, energy requests, EV-user limits and consent (personal data, pseudonymous).

An `EvSession` is shown to the FO only at the data-sharing level its contract allows, under a
keyed pseudonym (`session_ref`) - never an id token, EMAID or VIN. `Consent` is the EV user's
permission (UC 3.6), given and withdrawn through the EV-user API with `ConsentGrant`. This module
must hold no real identifiers: fields marked `x-pseudonym` carry pseudonyms only. Fields marked
`x-personal-data-category` are personal data about a pseudonymous session that an FO sees only at
the SESSION data-sharing level and only when its contract names that category; fields marked
`x-personal-data` never reach an FO (docs/privacy.md, "Markers").
"""

from __future__ import annotations

from typing import Annotated

from pydantic import ConfigDict, Field, model_validator
from pydantic.config import JsonDict

from fcsbe.model._validation import check_unique
from fcsbe.model.base import Id, InputModel, OutputModel, UtcDateTime
from fcsbe.model.common import EvseId, Percent
from fcsbe.model.credentials import ContractHolder
from fcsbe.model.enums import ConsentScope, PersonalDataCategory

__all__ = [
    "Consent",
    "ConsentGrant",
    "EnergyRequest",
    "EvSession",
    "EvuLimits",
    "SessionRef",
    "StateOfCharge",
]

_PSEUDONYM: JsonDict = {"x-pseudonym": True}
_PERSONAL: JsonDict = {"x-personal-data": True}


def _category(category: PersonalDataCategory) -> JsonDict:
    """Marker of a field the FO sees only when its contract shares `category`."""
    return {"x-personal-data-category": category.value}


_MAX_WH = 1e9

SessionRef = Annotated[
    str,
    Field(
        min_length=8,
        max_length=64,
        pattern=r"^[A-Za-z0-9_\-]+$",
        description="Keyed pseudonym of an EV session; stable per session, unlinkable across.",
        examples=["ps_9Kq2vX7mT4rB8nL1"],
        json_schema_extra=_PSEUDONYM,
    ),
]
"""A keyed pseudonym of an EV session (HMAC of the CSO's session id); not personal on its own."""


class EnergyRequest(OutputModel):
    """What the EV asks for (OCPP 2.1 `V2XChargingParametersType`, ISO 15118-20).

    Energies are relative to the EV's state at connection. `v2x_*` follow OCPP 2.1
    `evMinV2XEnergyRequest`/`evMaxV2XEnergyRequest`: negative values mean the battery may be
    discharged by that much.
    """

    target_energy_wh: float = Field(ge=0, le=_MAX_WH, description="Energy the EV wants.")
    min_energy_wh: float = Field(ge=0, le=_MAX_WH, description="Energy it needs at least.")
    max_energy_wh: float = Field(ge=0, le=_MAX_WH, description="Energy it accepts at most.")
    v2x_min_energy_wh: float | None = Field(
        default=None, ge=-_MAX_WH, le=_MAX_WH, description="Lowest energy in V2X operation."
    )
    v2x_max_energy_wh: float | None = Field(
        default=None, ge=-_MAX_WH, le=_MAX_WH, description="Highest energy in V2X operation."
    )
    max_charge_power_w: float | None = Field(default=None, ge=0, description="EV charge limit.")
    max_discharge_power_w: float | None = Field(
        default=None, ge=0, description="EV discharge limit; null or 0: no V2G."
    )

    @model_validator(mode="after")
    def _ordered(self) -> EnergyRequest:
        if not self.min_energy_wh <= self.target_energy_wh <= self.max_energy_wh:
            raise ValueError("need min_energy_wh <= target_energy_wh <= max_energy_wh")
        if (
            self.v2x_min_energy_wh is not None
            and self.v2x_max_energy_wh is not None
            and self.v2x_min_energy_wh > self.v2x_max_energy_wh
        ):
            raise ValueError("v2x_min_energy_wh must not exceed v2x_max_energy_wh")
        return self


class StateOfCharge(OutputModel):
    """The EV battery's state of charge and the targets set for it."""

    current_pct: Percent = Field(description="Current SoC.")
    target_pct: Percent | None = Field(default=None, description="SoC wanted at departure.")
    floor_pct: Percent | None = Field(default=None, description="Never discharge below this.")

    @model_validator(mode="after")
    def _ordered(self) -> StateOfCharge:
        if (
            self.floor_pct is not None
            and self.target_pct is not None
            and self.floor_pct > self.target_pct
        ):
            raise ValueError(
                f"floor_pct ({self.floor_pct:g}) must not exceed target_pct ({self.target_pct:g})"
            )
        return self


class EvuLimits(InputModel):
    """Limits the EV user sets on flexibility use of their EV (UC 3.6)."""

    min_soc_at_departure_pct: Percent = Field(description="SoC guaranteed at departure.")
    soc_floor_pct: Percent = Field(default=0.0, description="Never discharge below this SoC.")
    max_energy_to_grid_wh: float = Field(
        default=0.0, ge=0, le=_MAX_WH, description="Most energy given back per session; 0: none."
    )
    max_discharge_power_w: float | None = Field(
        default=None, ge=0, le=1e9, description="Discharge power cap; null: the EV's own."
    )

    @model_validator(mode="after")
    def _ordered(self) -> EvuLimits:
        if self.soc_floor_pct > self.min_soc_at_departure_pct:
            raise ValueError(
                f"soc_floor_pct ({self.soc_floor_pct:g}) must not exceed "
                f"min_soc_at_departure_pct ({self.min_soc_at_departure_pct:g})"
            )
        return self


class EvSession(OutputModel):
    """A connected EV, pseudonymous, at the contract's data-sharing level (`GET /v1/sessions`)."""

    model_config = OutputModel.model_config | ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "session_ref": "ps_9Kq2vX7mT4rB8nL1",
                    "evse_id": "NL*ABC*E12345*1",
                    "connected_at": "2026-03-02T16:12:00Z",
                    "departure_time": "2026-03-02T21:30:00Z",
                    "energy_request": {
                        "target_energy_wh": 42000.0,
                        "min_energy_wh": 20000.0,
                        "max_energy_wh": 55000.0,
                        "v2x_min_energy_wh": -10000.0,
                        "v2x_max_energy_wh": 55000.0,
                        "max_charge_power_w": 150000.0,
                        "max_discharge_power_w": 50000.0,
                    },
                    "soc": {"current_pct": 34.0, "target_pct": 80.0, "floor_pct": 20.0},
                    "evu_limits": {
                        "min_soc_at_departure_pct": 70.0,
                        "soc_floor_pct": 20.0,
                        "max_energy_to_grid_wh": 10000.0,
                    },
                    "consent_ref": "c0a8f1e2-5b3d-4c7a-9e6f-1d2b3c4a5e6f",
                    "holders": [{"party_id": "NL-ABC", "role": "V_CSO", "fs_types": ["SETPOINT"]}],
                }
            ]
        }
    )

    session_ref: SessionRef = Field(description="Keyed pseudonym of the session.")
    evse_id: EvseId = Field(description="EVSE the EV is connected to.")
    connected_at: UtcDateTime = Field(description="When the EV connected.")
    departure_time: UtcDateTime | None = Field(
        default=None,
        description="Expected departure.",
        json_schema_extra=_category(PersonalDataCategory.SESSION_TIMES),
    )
    energy_request: EnergyRequest | None = Field(
        default=None,
        description="What the EV asks.",
        json_schema_extra=_category(PersonalDataCategory.ENERGY_REQUEST),
    )
    soc: StateOfCharge | None = Field(
        default=None,
        description="Battery state, if shared.",
        json_schema_extra=_category(PersonalDataCategory.STATE_OF_CHARGE),
    )
    evu_limits: EvuLimits | None = Field(
        default=None,
        description="EV user's limits.",
        json_schema_extra=_category(PersonalDataCategory.EVU_LIMITS),
    )
    consent_ref: Id | None = Field(
        default=None,
        description="The consent in force, if any.",
        json_schema_extra=_category(PersonalDataCategory.CONSENT_STATUS),
    )
    holders: list[ContractHolder] = Field(
        default_factory=list, description="Parties whose contracts cover this session."
    )


_CONSENT: JsonDict = {
    "consent_id": "c0a8f1e2-5b3d-4c7a-9e6f-1d2b3c4a5e6f",
    "scope": ["V1G", "V2G"],
    "data_categories": ["SESSION_TIMES", "STATE_OF_CHARGE"],
    "limits": {
        "min_soc_at_departure_pct": 70.0,
        "soc_floor_pct": 20.0,
        "max_energy_to_grid_wh": 10000.0,
        "max_discharge_power_w": 11000.0,
    },
}


class ConsentGrant(InputModel):
    """Body the EV-user app posts to give (or replace) consent; the id is chosen by the app."""

    model_config = InputModel.model_config | ConfigDict(json_schema_extra={"examples": [_CONSENT]})

    consent_id: Id = Field(description="Id of the consent (UUID).")
    scope: list[ConsentScope] = Field(
        min_length=1, max_length=2, description="V1G and/or V2G.", json_schema_extra=_PERSONAL
    )
    data_categories: list[PersonalDataCategory] = Field(
        default_factory=list,
        description="Data the user lets flow to the FO.",
        json_schema_extra=_PERSONAL,
    )
    limits: EvuLimits = Field(description="The user's limits.", json_schema_extra=_PERSONAL)

    @model_validator(mode="after")
    def _unique(self) -> ConsentGrant:
        check_unique(self.scope, "scope")
        check_unique(self.data_categories, "data_categories")
        if ConsentScope.V2G not in self.scope and self.limits.max_energy_to_grid_wh > 0:
            raise ValueError("limits.max_energy_to_grid_wh must be 0 without V2G in scope")
        return self


class Consent(OutputModel):
    """An EV user's consent as recorded (GDPR Art. 7): scope, limits, given and withdrawn."""

    model_config = OutputModel.model_config | ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    **_CONSENT,
                    "subject_ref": "evu_Q3mZ8wK1pR5tY7vB",
                    "given_at": "2026-02-01T08:00:00Z",
                    "withdrawn_at": None,
                }
            ]
        }
    )

    consent_id: Id = Field(description="Id of the consent.")
    subject_ref: str = Field(
        min_length=8,
        max_length=64,
        description="Pseudonym of the EV user (data subject).",
        json_schema_extra=_PSEUDONYM,
    )
    scope: list[ConsentScope] = Field(
        min_length=1, description="V1G and/or V2G.", json_schema_extra=_PERSONAL
    )
    data_categories: list[PersonalDataCategory] = Field(
        default_factory=list,
        description="Data the user lets flow to the FO.",
        json_schema_extra=_PERSONAL,
    )
    limits: EvuLimits = Field(description="The user's limits.", json_schema_extra=_PERSONAL)
    given_at: UtcDateTime = Field(description="When consent was given.")
    withdrawn_at: UtcDateTime | None = Field(default=None, description="When withdrawn, if so.")

    @model_validator(mode="after")
    def _times(self) -> Consent:
        if self.withdrawn_at is not None and self.withdrawn_at < self.given_at:
            raise ValueError("withdrawn_at must not be before given_at")
        return self

    @property
    def active(self) -> bool:
        """True until withdrawn."""
        return self.withdrawn_at is None
