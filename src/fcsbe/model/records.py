"""Detailed service record (DSR) of a flexibility service (UC 3.4).

The DSR compares, per interval, what was requested, the baseline, what was measured and what was
delivered; its settlement part has the fields of a UFTP `FlexSettlement` (baseline, ordered, actual,
delivered, deficiency, penalty). Its parts are in `fcsbe.model.record_parts` and its baselines in
`fcsbe.model.baselines` (both re-exported here); the proof of work that signs it is in
`fcsbe.model.proofs`.
Building it is the server's job; this module must hold no personal data beyond session pseudonyms.
"""

from __future__ import annotations

from datetime import timedelta
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
from fcsbe.model.base import SIGN_CONVENTION, Id, OutputModel, UtcDateTime
from fcsbe.model.baselines import (
    BaselinePeriod,
    BaselineSubmission,
    DsrBaseline,
    DsrEvBaseline,
    SubmittedBaselineInfo,
)
from fcsbe.model.common import MAX_TARGETS, Percent, Target, TimeWindow
from fcsbe.model.enums import BaselineMethod, FsState, FsType, PersonalDataCategory
from fcsbe.model.measurements import EvidenceSummary
from fcsbe.model.record_parts import (
    MAX_DSR_INTERVALS,
    DataQualityFlag,
    DsrCorrection,
    DsrInterval,
    DsrMeter,
    DsrPenalty,
    DsrPerformance,
    DsrSession,
    DsrSettlement,
    DsrTotals,
)

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
