"""Detailed service record (DSR) of a flexibility service (UC 3.4).

The DSR compares, per interval, what was requested, the baseline, what was measured and what was
delivered; its settlement part has the fields of a UFTP `FlexSettlement` (baseline, ordered, actual,
delivered, deficiency, penalty). The proof of work that signs it is in `fcsbe.model.proofs`.
Building it is the server's job; this module must hold no personal data beyond session pseudonyms.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any, Literal

from pydantic import (
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    model_serializer,
    model_validator,
)
from pydantic.config import JsonDict

from fcsbe.model._validation import check_spans
from fcsbe.model.base import SIGN_CONVENTION, Id, InputModel, OutputModel, UtcDateTime
from fcsbe.model.common import (
    MAX_TARGETS,
    Currency,
    EvseId,
    Money,
    Percent,
    Target,
    TimeWindow,
)
from fcsbe.model.enums import (
    BaselineMethod,
    DataQualityCode,
    FsState,
    FsType,
    PersonalDataCategory,
)
from fcsbe.model.measurements import EvidenceSummary
from fcsbe.model.sessions import SessionRef

__all__ = [
    "FINAL_STATES",
    "MAX_DSR_INTERVALS",
    "BaselinePeriod",
    "BaselineSubmission",
    "DataQualityFlag",
    "DetailedServiceRecord",
    "DsrBaseline",
    "DsrCorrection",
    "DsrEvBaseline",
    "DsrInterval",
    "DsrMeter",
    "DsrPenalty",
    "DsrPerformance",
    "DsrSession",
    "DsrSettlement",
    "DsrTotals",
    "SubmittedBaselineInfo",
]

MAX_DSR_INTERVALS = 10_080
"""Most intervals in one DSR (a week at one-minute resolution)."""

FINAL_STATES = frozenset(
    {FsState.COMPLETED, FsState.ABORTED, FsState.CANCELLED, FsState.SUPERSEDED}
)
"""States in which execution has ended and a DSR can be made."""


_DSR_EXAMPLE: JsonDict = {
    "fs_id": "0b8e2f4c-6a1d-4c3e-9f7a-5d2b8c1e4a6f",
    "revision": 1,
    "fsc_id": "5f1c9a2e-3b7d-4e8a-a6c4-1d9e2b7f3a50",
    "fs_type": "CONGESTION",
    "targets": [{"level": "SITE", "id": "site-ams-depot-01"}],
    "window": {"start": "2026-03-02T17:00:00Z", "end": "2026-03-02T17:30:00Z"},
    "final_state": "COMPLETED",
    "sign_convention": "IMPORT_POSITIVE",
    "baseline_method": "METER_BEFORE_ACTIVATION",
    "tolerance_pct": 10.0,
    "intervals": [
        {
            "start": "2026-03-02T17:00:00Z",
            "duration_s": 900,
            "requested_w": 400000.0,
            "baseline_w": 520000.0,
            "measured_w": 395000.0,
            "ordered_w": -120000.0,
            "delivered_w": -125000.0,
            "deviation_w": -5000.0,
            "deficiency_w": 0.0,
            "within_tolerance": True,
            "energy_import_wh": 98750.0,
            "energy_export_wh": 0.0,
        },
        {
            "start": "2026-03-02T17:15:00Z",
            "duration_s": 900,
            "requested_w": 400000.0,
            "baseline_w": 510000.0,
            "measured_w": 430000.0,
            "ordered_w": -110000.0,
            "delivered_w": -80000.0,
            "deviation_w": 30000.0,
            "deficiency_w": 30000.0,
            "within_tolerance": False,
            "energy_import_wh": 107500.0,
            "energy_export_wh": 0.0,
        },
    ],
    "sessions": [
        {
            "session_ref": "ps_9Kq2vX7mT4rB8nL1",
            "evse_id": "NL*ABC*E12345*1",
            "v1g_intervals": 2,
            "v2g_intervals": 0,
            "energy_charged_wh": 31000.0,
            "energy_injected_wh": 0.0,
        }
    ],
    "totals": {
        "requested_energy_wh": -57500.0,
        "delivered_energy_wh": -51250.0,
        "availability_pct": 100.0,
        "accuracy_pct": 50.0,
        "measured_response_time_s": 42.0,
        "intervals_total": 2,
        "intervals_within_tolerance": 1,
    },
    "meters": [
        {
            "meter_id": "m-site-ams-01",
            "serial_number": "LGZ-E650-88123456",
            "certified": True,
            "signed_readings": 2,
            "start_register_wh": 120450000.0,
            "end_register_wh": 120656250.0,
        }
    ],
    "data_quality": [],
    "settlement": {
        "currency": "EUR",
        "baseline_wh": 257500.0,
        "ordered_wh": -57500.0,
        "actual_wh": 206250.0,
        "delivered_wh": -51250.0,
        "deficiency_wh": 7500.0,
        "availability_amount": 0.75,
        "activation_amount": 4.87,
        "penalty_amount": 1.13,
        "net_amount": 4.49,
    },
    "created_at": "2026-03-02T17:35:00Z",
}


class DsrInterval(OutputModel):
    """One settlement interval (UFTP ISP): all powers are averages, + import / - export.

    ordered = requested - baseline, delivered = measured - baseline, deviation = measured -
    requested; deficiency is the undelivered part of the ordered change (>= 0). Null where the
    quantity does not apply (no setpoint for a price signal) or data is missing.
    """

    start: UtcDateTime = Field(description="Start of the interval.")
    duration_s: float = Field(
        gt=0,
        le=86_400,
        description="Length of the interval in seconds, exact to the microsecond (fractional "
        "where the interval is: a cancelled FS ends mid-second), so energy = power * duration.",
    )
    requested_w: float | None = Field(default=None, description="Requested power or limit.")
    baseline_w: float | None = Field(default=None, description="Baseline power (UFTP Baseline).")
    measured_w: float | None = Field(default=None, description="Measured power (UFTP Actual).")
    ordered_w: float | None = Field(default=None, description="Ordered flex (UFTP OrderedFlex).")
    delivered_w: float | None = Field(default=None, description="Delivered flex (UFTP Delivered).")
    deviation_w: float | None = Field(default=None, description="Measured minus requested.")
    deficiency_w: float | None = Field(default=None, ge=0, description="UFTP PowerDeficiency.")
    within_tolerance: bool | None = Field(default=None, description="Deviation inside tolerance.")
    energy_import_wh: float = Field(default=0, ge=0, description="Energy imported.")
    energy_export_wh: float = Field(default=0, ge=0, description="Energy exported.")


class DsrSession(OutputModel):
    """An EV session's part in the FS, pseudonymous."""

    session_ref: SessionRef = Field(description="Pseudonym of the session.")
    evse_id: EvseId = Field(description="EVSE of the session.")
    v1g_intervals: int = Field(ge=0, description="Intervals with managed charging only.")
    v2g_intervals: int = Field(ge=0, description="Intervals with discharging.")
    energy_charged_wh: float = Field(ge=0, description="Energy charged during the FS.")
    energy_injected_wh: float = Field(ge=0, description="Energy injected during the FS.")


class DsrTotals(OutputModel):
    """Key figures of the whole FS."""

    requested_energy_wh: float | None = Field(default=None, description="Flex energy ordered.")
    delivered_energy_wh: float | None = Field(
        default=None,
        description="Flex energy delivered (signed); null when no interval has a baseline to "
        "settle against (a GAP in data_quality says why), never a made-up 0.",
    )
    availability_pct: Percent = Field(description="Share of the window the targets were available.")
    accuracy_pct: Percent | None = Field(default=None, description="Share within tolerance.")
    measured_response_time_s: float | None = Field(
        default=None, ge=0, description="Time from activation to first response."
    )
    intervals_total: int = Field(ge=0, description="Intervals in the record.")
    intervals_within_tolerance: int = Field(ge=0, description="Of which within tolerance.")


class DsrMeter(OutputModel):
    """A meter whose readings the DSR uses."""

    meter_id: Id = Field(description="Id of the meter.")
    serial_number: str = Field(max_length=64, description="Manufacturer serial.")
    certified: bool = Field(description="Certified for billing (MID / Eichrecht).")
    signed_readings: int = Field(ge=0, description="Number of signed readings used.")
    start_register_wh: float | None = Field(default=None, ge=0, description="Register at start.")
    end_register_wh: float | None = Field(default=None, ge=0, description="Register at end.")


class DataQualityFlag(OutputModel):
    """A data-quality issue in the record: a gap, estimated values, clock drift, ..."""

    code: DataQualityCode = Field(description="Kind of issue.")
    start: UtcDateTime = Field(description="Start of the affected period.")
    end: UtcDateTime | None = Field(default=None, description="End; null: to the window end.")
    target: Target | None = Field(default=None, description="Target affected; null: all.")
    detail: str | None = Field(default=None, max_length=500, description="For a human.")


class DsrSettlement(OutputModel):
    """Settlement figures, as UFTP `FlexOrderSettlement` (energies over the FS, amounts in
    `currency`): net = availability + activation - penalty."""

    currency: Currency = Field(description="Currency of the amounts.")
    baseline_wh: float = Field(description="Baseline energy (signed).")
    ordered_wh: float = Field(description="Ordered flex energy (UFTP OrderedFlexPower x ISP).")
    actual_wh: float = Field(description="Measured energy (UFTP ActualPower x ISP).")
    delivered_wh: float = Field(description="Delivered flex energy (UFTP DeliveredFlexPower).")
    deficiency_wh: float = Field(ge=0, description="Undelivered flex energy (PowerDeficiency).")
    availability_amount: Money = Field(description="Availability remuneration.")
    activation_amount: Money = Field(description="Activation remuneration.")
    penalty_amount: Money = Field(description="Penalty (UFTP Penalty), >= 0.", ge=0)
    net_amount: Money = Field(description="Net settlement (UFTP NetSettlement).")


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


class DsrPenalty(OutputModel):
    """One line of the penalty, with the contract rule that gives it."""

    rule: Literal["DEFICIENCY_ENERGY", "DELIVERY_SHORTFALL", "AVAILABILITY_FORFEIT"] = Field(
        description="DEFICIENCY_ENERGY: `penalty_per_mwh` x deficiency; DELIVERY_SHORTFALL: "
        "`penalty_per_pct_shortfall` x points below `min_delivery_pct`; AVAILABILITY_FORFEIT: "
        "the availability payment not paid."
    )
    basis: str = Field(max_length=300, description="The numbers the amount comes from.")
    amount: Money = Field(ge=0, description="Amount (in the settlement's currency).")


class DsrPerformance(OutputModel):
    """What was ordered, what was measured, and the contract's deficiency and penalty rules
    applied to them (droop, FFR and reserve; other types when something was ordered)."""

    ordered_w: float | None = Field(
        default=None,
        description="The ordered quantity: the largest ordered power change (+ more import). "
        "RESERVE: the activation; DROOP: the curve at the measured frequency; FFR: the "
        "trigger level reached.",
    )
    ordered_basis: str = Field(max_length=300, description="How `ordered_w` was determined.")
    ordered_energy_wh: float | None = Field(
        default=None, ge=0, description="Flex energy ordered (magnitude)."
    )
    delivered_energy_wh: float | None = Field(
        default=None,
        ge=0,
        description="Flex energy delivered in the ordered direction, capped "
        "at what was ordered at each moment.",
    )
    delivery_pct: Percent | None = Field(
        default=None, description="delivered / ordered energy x 100 (null: nothing ordered)."
    )
    min_delivery_pct: Percent = Field(description="The contract's minimum.")
    shortfall_pct: float = Field(ge=0, description="Points below the minimum (0 if met).")
    response_time_s: float | None = Field(default=None, ge=0, description="Measured.")
    required_response_time_s: float | None = Field(
        default=None, ge=0, description="The contract's (plus its slack)."
    )
    passed: bool | None = Field(
        default=None,
        description="Delivery at or above the minimum and a response in time (null: nothing "
        "ordered, nothing to judge).",
    )
    evidence: Literal["METER_INTERVALS", "METER_READINGS", "FFR_EVIDENCE"] = Field(
        description="What the measured response comes from: the record's intervals, the meter "
        "readings (with frequency), or the high-resolution FFR evidence."
    )
    samples: int = Field(ge=0, description="Intervals or readings judged.")
    penalties: list[DsrPenalty] = Field(
        default_factory=list, max_length=3, description="Penalty lines (summed in settlement)."
    )


class DsrCorrection(OutputModel):
    """Why a record revision was made: the CSO's answer to a dispute."""

    dispute_id: Id = Field(description="The dispute answered.")
    supersedes_digest: str = Field(
        pattern=r"^[0-9a-f]{64}$", description="Digest of the record revision it replaces."
    )
    reasons: list[str] = Field(max_length=20, description="What was corrected and why.")


_OMITTED_WHEN_NULL = ("record_revision", "baseline", "performance", "correction")
"""Fields a record made before they existed does not carry: left out of the JSON when null,
so the digest of such a record (and its signed proof) stays what it was."""


class DetailedServiceRecord(OutputModel):
    """The DSR of one FS revision (`GET /v1/flexibility-services/{fs_id}/record`)."""

    model_config = OutputModel.model_config | ConfigDict(
        json_schema_extra={"examples": [_DSR_EXAMPLE]}
    )

    fs_id: Id = Field(description="The FS recorded.")
    revision: int = Field(ge=1, description="Revision recorded.")
    fsc_id: Id = Field(description="Its contract.")
    fs_type: FsType = Field(description="Its type.")
    targets: list[Target] = Field(max_length=MAX_TARGETS, description="Its targets.")
    window: TimeWindow = Field(description="Its window.")
    final_state: FsState = Field(description="How execution ended.")
    sign_convention: Literal["IMPORT_POSITIVE"] = Field(
        default=SIGN_CONVENTION, description="+ import (charge), - export (discharge)."
    )
    baseline_method: BaselineMethod = Field(description="Baseline used.")
    tolerance_pct: Percent = Field(description="Tolerance applied.")
    intervals: list[DsrInterval] = Field(
        max_length=MAX_DSR_INTERVALS, description="Intervals, ordered, not overlapping."
    )
    sessions: list[DsrSession] = Field(
        default_factory=list,
        description="EV sessions involved; only under a SESSION-level contract sharing "
        "METER_VALUES.",
        json_schema_extra={"x-personal-data-category": PersonalDataCategory.METER_VALUES.value},
    )
    totals: DsrTotals = Field(description="Key figures.")
    meters: list[DsrMeter] = Field(default_factory=list, description="Meters used.")
    data_quality: list[DataQualityFlag] = Field(default_factory=list, description="Issues.")
    settlement: DsrSettlement | None = Field(default=None, description="Settlement figures.")
    evidence: EvidenceSummary | None = Field(
        default=None,
        description="DROOP and FFR: each frequency event's ordered and delivered change, "
        "response time to 90 % and deviation, from the stations' high-resolution samples.",
    )
    created_at: UtcDateTime = Field(description="When the record was made.")
    record_revision: int | None = Field(
        default=None,
        ge=1,
        description="Revision of the record itself: 1 when made, higher for a correction "
        "answering a dispute (settlement follows the final one).",
    )
    baseline: DsrBaseline | None = Field(
        default=None, description="The baseline method used and its inputs."
    )
    performance: DsrPerformance | None = Field(
        default=None, description="Ordered vs measured, and the contract's penalty rules."
    )
    correction: DsrCorrection | None = Field(
        default=None, description="For a corrected revision: the dispute it answers."
    )

    # No return annotation on purpose: with one, pydantic would publish that type instead of
    # the record's own schema in the OpenAPI document.
    @model_serializer(mode="wrap")
    def _leave_out_nulls(self, handler: SerializerFunctionWrapHandler):  # type: ignore[no-untyped-def]
        data: dict[str, Any] = handler(self)
        for key in _OMITTED_WHEN_NULL:
            if data.get(key, 0) is None:
                del data[key]
        return data

    @model_validator(mode="after")
    def _check(self) -> DetailedServiceRecord:
        if self.final_state not in FINAL_STATES:
            raise ValueError(f"final_state must be one of {sorted(FINAL_STATES)}")
        # In whole microseconds (the resolution of `start`), so that adding a fractional
        # duration cannot make adjacent intervals overlap by a rounding error.
        origin = self.window.start
        offsets = [(i.start - origin) // timedelta(microseconds=1) for i in self.intervals]
        spans = [
            (offset / 1e6, (offset + round(i.duration_s * 1e6)) / 1e6)
            for offset, i in zip(offsets, self.intervals, strict=True)
        ]
        check_spans(spans, "intervals")
        return self
