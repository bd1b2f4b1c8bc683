"""The terms of a flexibility service contract (FSC, UC 3.3): validity, FS types and targets, the
commitments with their availability windows, performance, remuneration, personal data, and the
fallback when the FO is offline.

`ContractTerms` is what a proposal or an amendment carries and what each revision keeps; the
contract itself and its lifecycle are in `fcsbe.model.contract`. Only the consistency of the
terms is validated here; whether they are acceptable is the CSO/CSP's decision.
"""

from __future__ import annotations

from datetime import datetime, time
from decimal import Decimal
from typing import Annotated

from pydantic import Field, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

from fcsbe.model._validation import check_unique
from fcsbe.model.base import InputModel, UtcDateTime
from fcsbe.model.common import MAX_TARGETS, Currency, Money, Percent, Target
from fcsbe.model.enums import (
    BaselineMethod,
    DataSharingLevel,
    Direction,
    FallbackPolicy,
    FsType,
    LegalBasis,
    PersonalDataCategory,
)

__all__ = [
    "AvailabilityWindow",
    "Commitment",
    "ContractTerms",
    "FallbackTerms",
    "GridArea",
    "PerformanceTerms",
    "PersonalDataTerms",
    "Remuneration",
]


_Price = Annotated[Money, Field(ge=0)]


class AvailabilityWindow(InputModel):
    """A recurring weekly window in local time during which a commitment holds."""

    weekdays: list[int] = Field(
        min_length=1, max_length=7, description="ISO weekdays, 1 = Monday … 7 = Sunday."
    )
    start_time: time = Field(description="Local start time of day (inclusive).")
    end_time: time = Field(description="Local end time of day (exclusive); after start_time.")
    time_zone: str = Field(
        default="UTC",
        pattern=r"^[A-Za-z_]+(/[A-Za-z0-9_+\-]+)*$",
        description="IANA time zone of the times, e.g. `Europe/Amsterdam`.",
    )

    @model_validator(mode="after")
    def _check(self) -> AvailabilityWindow:
        if any(not 1 <= day <= 7 for day in self.weekdays):
            raise ValueError("weekdays must be ISO weekday numbers 1 to 7")
        check_unique(self.weekdays, "weekdays")
        if self.end_time <= self.start_time:
            raise ValueError("end_time must be after start_time (split overnight windows in two)")
        return self


class Commitment(InputModel):
    """What the CSO/CSP commits to for one FS type: direction, power, when, how often."""

    fs_type: FsType = Field(description="The FS type committed.")
    direction: Direction = Field(description="UP, DOWN or BOTH.")
    max_power_w: float = Field(ge=0, le=1e9, description="Largest power per FS (magnitude).")
    availability_windows: list[AvailabilityWindow] | None = Field(
        default=None, max_length=50, description="When the commitment holds; null: always."
    )
    min_duration_s: int = Field(ge=0, le=86_400, description="Shortest activation or window.")
    max_activations_per_day: int = Field(ge=1, le=10_000, description="Cap per calendar day.")


class PerformanceTerms(InputModel):
    """How well an FS must be delivered, and what a shortfall costs (checked and settled in the
    DSR's `performance` part; see docs/records.md, "Settlement by performance").

    The delivery ratio is the flex energy delivered in the ordered direction over the flex
    energy ordered. Below `min_delivery_pct` the FS has failed: the penalty per percentage
    point of shortfall applies, and the availability payment is forfeited when
    `forfeit_availability` says so. The contract's `penalty_per_mwh` of deficiency applies
    whatever the ratio.
    """

    response_time_s: float = Field(ge=0, le=3_600, description="Time to first response.")
    full_activation_time_s: float = Field(
        gt=0, le=3_600, description="Time to full activation; not before `response_time_s`."
    )
    tolerance_pct: Percent = Field(description="Allowed deviation from the requested power.")
    min_delivery_pct: Percent = Field(description="Delivery below this share is a failure.")
    penalty_per_pct_shortfall: _Price = Field(
        default=Decimal(0),
        # the same default in the input and output schemas (a Decimal would show as "0")
        json_schema_extra={"default": 0.0},
        description="Charged per percentage point the delivery ratio falls below "
        "`min_delivery_pct` (in the remuneration's currency).",
    )
    forfeit_availability: bool = Field(
        default=False,
        description="Whether a failed FS (delivery below `min_delivery_pct`) loses its "
        "availability payment.",
    )
    response_time_tolerance_s: float = Field(
        default=0,
        ge=0,
        le=3_600,
        description="Slack on `response_time_s` before a late response counts as a failure.",
    )

    @field_validator("full_activation_time_s")
    @classmethod
    def _after_response(cls, value: float, info: ValidationInfo) -> float:
        # A field validator so that the 422 names `/performance/full_activation_time_s`.
        response = info.data.get("response_time_s")
        if isinstance(response, float | int) and value < response:
            raise PydanticCustomError(
                "activation_before_response",
                "full_activation_time_s must not be shorter than response_time_s",
            )
        return value


class GridArea(InputModel):
    """Where in the grid the contract applies."""

    tso_area: str | None = Field(
        default=None, max_length=64, description="TSO area (EIC of the LFC area / bidding zone)."
    )
    dso_area: str | None = Field(default=None, max_length=64, description="DSO area or EIC.")
    grid_nodes: list[str] = Field(
        default_factory=list, max_length=MAX_TARGETS, description="Grid nodes / congestion points."
    )


class Remuneration(InputModel):
    """Prices of the contract (settled from DSRs; UFTP FlexOffer/FlexSettlement prices)."""

    availability_price_per_mw_h: _Price = Field(description="Paid per MW held available per hour.")
    activation_price_per_mwh: _Price = Field(description="Paid per MWh delivered when activated.")
    penalty_per_mwh: _Price = Field(description="Charged per MWh of deficiency.")
    currency: Currency = Field(description="Currency of all prices.")


class PersonalDataTerms(InputModel):
    """Which personal data may flow to the FO, and on which GDPR legal basis."""

    categories: list[PersonalDataCategory] = Field(
        default_factory=list, description="Categories shared; empty: none."
    )
    legal_basis: LegalBasis = Field(description="GDPR Art. 6(1) basis.")

    @model_validator(mode="after")
    def _unique(self) -> PersonalDataTerms:
        check_unique(self.categories, "categories")
        return self


class FallbackTerms(InputModel):
    """What the stations do when the FO falls silent past `offline_timeout_s`."""

    policy: FallbackPolicy = Field(description="The fallback behaviour.")
    safe_limit_w: float | None = Field(
        default=None, ge=0, le=1e9, description="Import limit under SAFE_LIMIT; null otherwise."
    )
    offline_timeout_s: int = Field(ge=1, le=86_400, description="Silence before fallback.")

    @model_validator(mode="after")
    def _safe_limit(self) -> FallbackTerms:
        if self.policy is FallbackPolicy.SAFE_LIMIT and self.safe_limit_w is None:
            raise ValueError("safe_limit_w is required when policy is SAFE_LIMIT")
        if self.policy is not FallbackPolicy.SAFE_LIMIT and self.safe_limit_w is not None:
            raise ValueError("safe_limit_w is only allowed when policy is SAFE_LIMIT")
        return self


class ContractTerms(InputModel):
    """The terms of a contract revision: everything but the parties and ids."""

    valid_from: UtcDateTime = Field(description="Start of validity.")
    valid_to: UtcDateTime = Field(description="End of validity; after valid_from.")
    fs_types: list[FsType] = Field(min_length=1, max_length=7, description="FS types allowed.")
    targets: list[Target] = Field(
        min_length=1, max_length=MAX_TARGETS, description="Targets in scope, no duplicates."
    )
    grid_area: GridArea = Field(default_factory=GridArea, description="Grid scope.")
    commitments: list[Commitment] = Field(
        default_factory=list, max_length=7, description="At most one per FS type of `fs_types`."
    )
    performance: PerformanceTerms = Field(description="Delivery quality required.")
    baseline_method: BaselineMethod = Field(description="Default baseline for settlement.")
    remuneration: Remuneration = Field(description="Prices.")
    data_sharing_level: DataSharingLevel = Field(description="Finest data the FO may see.")
    personal_data: PersonalDataTerms = Field(description="Personal data shared and legal basis.")
    retention_days: int = Field(ge=1, le=3_650, description="How long records are kept.")
    signature_required: bool = Field(
        default=False, description="Whether FO requests must carry a JWS."
    )
    fallback: FallbackTerms = Field(description="Behaviour when the FO is offline.")

    @field_validator("valid_to")
    @classmethod
    def _ends_after_start(cls, valid_to: datetime, info: ValidationInfo) -> datetime:
        # A field validator (not a model one) so that the error points at `/valid_to`.
        valid_from = info.data.get("valid_from")
        if isinstance(valid_from, datetime) and valid_to <= valid_from:
            raise PydanticCustomError("window_inverted", "valid_to must be after valid_from")
        return valid_to

    @model_validator(mode="after")
    def _consistent(self) -> ContractTerms:
        check_unique(self.fs_types, "fs_types")
        check_unique(self.targets, "targets")
        check_unique([c.fs_type for c in self.commitments], "commitments.fs_type")
        for index, commitment in enumerate(self.commitments):
            if commitment.fs_type not in self.fs_types:
                raise ValueError(
                    f"commitments[{index}].fs_type ({commitment.fs_type}) is not in fs_types"
                )
        return self

    def to_terms(self) -> ContractTerms:
        """The terms alone, as stored in a revision (drops ids of a proposal)."""
        return ContractTerms.model_validate(
            self.model_dump(include=set(ContractTerms.model_fields))
        )
