"""Baselines a detailed service record settles against: the one an FO or the CSO submits before an
FS starts (`BaselineSubmission`) and the account a record gives of the baseline it used
(`DsrBaseline`), with its inputs so that anyone can recompute it.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import ConfigDict, Field, model_validator

from fcsbe.model._validation import check_spans
from fcsbe.model.base import Id, InputModel, OutputModel, UtcDateTime
from fcsbe.model.enums import BaselineMethod
from fcsbe.model.record_parts import MAX_DSR_INTERVALS

__all__ = [
    "BaselinePeriod",
    "BaselineSubmission",
    "DsrBaseline",
    "DsrEvBaseline",
    "SubmittedBaselineInfo",
]


class BaselinePeriod(InputModel):
    """A baseline power over part of the FS window."""

    start_offset_s: int = Field(ge=0, le=604_800, description="Start, from the window start.")
    duration_s: int = Field(gt=0, le=604_800, description="Length in seconds.")
    p_w: float = Field(ge=-1e9, le=1e9, description="Baseline power (+ import).")


class BaselineSubmission(InputModel):
    """Body of `PUT /v1/flexibility-services/{fs_id}/baseline` (the FO) or
    `PUT /admin/v1/flexibility-services/{fs_id}/baseline` (the CSO): the baseline the record
    of a SUBMITTED-baseline FS settles against (a UFTP D-prognosis). Accepted until the window
    starts, replaced by a later submission until then, fixed from then on."""

    model_config = InputModel.model_config | ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "periods": [
                        {"start_offset_s": 0, "duration_s": 900, "p_w": 42000.0},
                        {"start_offset_s": 900, "duration_s": 900, "p_w": 38000.0},
                    ]
                }
            ]
        }
    )

    periods: list[BaselinePeriod] = Field(
        min_length=1, max_length=MAX_DSR_INTERVALS, description="Periods, ordered, not overlapping."
    )

    @model_validator(mode="after")
    def _ordered(self) -> BaselineSubmission:
        spans = [(p.start_offset_s, p.start_offset_s + p.duration_s) for p in self.periods]
        check_spans(spans, "periods")
        return self


class SubmittedBaselineInfo(OutputModel):
    """A submitted baseline as stored (the answer to a submission)."""

    fs_id: Id = Field(description="The FS.")
    submitted_by: Id = Field(description="The party that submitted it.")
    role: Literal["FO", "CSO"] = Field(description="FO or CSO.")
    submitted_at: UtcDateTime = Field(description="When (the latest submission counts).")
    periods: list[BaselinePeriod] = Field(description="The periods.")


class DsrEvBaseline(OutputModel):
    """METER_TREND: one EV's (meter's) trend before activation, as extrapolated."""

    meter_id: Id = Field(description="The EVSE meter.")
    level_w: float = Field(description="Fitted power at activation (+ import).")
    slope_w_per_h: float = Field(description="Fitted change of power per hour (least squares).")
    readings: int = Field(ge=0, description="Readings the fit used.")
    zero_at: UtcDateTime | None = Field(
        default=None,
        description="When the extrapolated charge reaches zero (the EV finishes charging); "
        "the baseline of this EV is zero from then on.",
    )


class DsrBaseline(OutputModel):
    """How the baseline was determined, and from what (the record states its method and its
    inputs, so anyone can recompute it)."""

    method: BaselineMethod = Field(description="The baseline method used.")
    detail: str = Field(max_length=500, description="How it was computed, for a human.")
    inputs_from: UtcDateTime | None = Field(
        default=None, description="Start of the readings used (meter methods)."
    )
    inputs_to: UtcDateTime | None = Field(
        default=None, description="End of the readings used (meter methods)."
    )
    per_ev: list[DsrEvBaseline] = Field(
        default_factory=list, max_length=10_000, description="METER_TREND: each EV's trend."
    )
    days_considered: int | None = Field(
        default=None, ge=0, description="HIGH_X_OF_Y: Y, the previous days looked at."
    )
    days_used: list[date] = Field(
        default_factory=list,
        max_length=366,
        description="HIGH_X_OF_Y / HISTORICAL_AVERAGE: the days averaged.",
    )
    adjustment_w: float | None = Field(
        default=None,
        description="HIGH_X_OF_Y: same-day adjustment added to every interval (today's mean "
        "over the adjustment hours minus the selected days' mean over the same hours).",
    )
    submitted_by: Id | None = Field(default=None, description="SUBMITTED: the party.")
    submitted_role: Literal["FO", "CSO"] | None = Field(
        default=None, description="SUBMITTED: whether the FO or the CSO submitted it."
    )
    submitted_at: UtcDateTime | None = Field(default=None, description="SUBMITTED: when.")
    declared_at: UtcDateTime | None = Field(
        default=None, description="DECLARED_SCHEDULE: when the CSO declared it (the decision)."
    )
