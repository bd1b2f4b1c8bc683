"""Measured series of an FS's targets (`GET /v1/flexibility-services/{fs_id}/measurements`).

A series is one quantity of one target at one resolution; points are ordered in time. Values follow
the sign convention of `fcsbe.model.base` (+ import). This module must not aggregate or resample:
the server does that from the meter readings.
"""

from __future__ import annotations

from pydantic import ConfigDict, Field, model_validator

from fcsbe.model.base import Id, OutputModel, UtcDateTime
from fcsbe.model.common import Target
from fcsbe.model.enums import MeasurementQuality, Quantity

__all__ = [
    "MAX_POINTS",
    "EvidenceEvent",
    "EvidenceSample",
    "EvidenceSummary",
    "MeasurementPoint",
    "MeasurementSeries",
]

MAX_POINTS = 100_000
"""Most points in one series (e.g. one day at 1 s, or 30 min of FFR evidence at 20 ms)."""


class MeasurementPoint(OutputModel):
    """One measured value; `value` is null exactly when the quality is MISSING."""

    time: UtcDateTime = Field(description="Start of the measuring period (or the instant).")
    value: float | None = Field(description="Value in the unit of the series' quantity.")
    quality: MeasurementQuality = Field(
        default=MeasurementQuality.MEASURED, description="How the value was obtained."
    )

    @model_validator(mode="after")
    def _missing_has_no_value(self) -> MeasurementPoint:
        if (self.value is None) != (self.quality is MeasurementQuality.MISSING):
            raise ValueError("value must be null exactly when quality is MISSING")
        return self


class MeasurementSeries(OutputModel):
    """A time series of one quantity for one target (cf. OCPP `MeterValues`, IEEE 2030.5
    `MirrorMeterReading`, OpenADR 3 `report` intervals)."""

    model_config = OutputModel.model_config | ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "target": {"level": "EVSE", "id": "NL*ABC*E12345*1"},
                    "quantity": "P_W",
                    "resolution_s": 60,
                    "meter_ref": "m-cs-ams-01-1",
                    "signed": True,
                    "points": [
                        {"time": "2026-03-02T17:00:00Z", "value": 21850.0},
                        {"time": "2026-03-02T17:01:00Z", "value": 21920.0},
                        {"time": "2026-03-02T17:02:00Z", "value": None, "quality": "MISSING"},
                        {
                            "time": "2026-03-02T17:03:00Z",
                            "value": 21900.0,
                            "quality": "ESTIMATED",
                        },
                    ],
                }
            ]
        }
    )

    target: Target = Field(description="The target measured.")
    quantity: Quantity = Field(description="What is measured; the unit is in the name.")
    resolution_s: float = Field(
        gt=0, le=86_400, description="Spacing of the points (may be below 1 s for FFR evidence)."
    )
    meter_ref: Id | None = Field(default=None, description="Meter the values come from.")
    signed: bool = Field(default=False, description="Values come from signed meter readings.")
    points: list[MeasurementPoint] = Field(
        max_length=MAX_POINTS, description="Points, strictly increasing in time."
    )

    @model_validator(mode="after")
    def _ordered(self) -> MeasurementSeries:
        for index in range(1, len(self.points)):
            if self.points[index].time <= self.points[index - 1].time:
                raise ValueError(
                    f"points[{index}].time must be after points[{index - 1}].time: "
                    "points must be strictly increasing in time"
                )
        return self


class EvidenceSample(OutputModel):
    """One high-resolution sample of a locally executed response (FFR or droop) at one target,
    around a frequency event (`GET .../evidence`): what was ordered and what was delivered."""

    model_config = OutputModel.model_config | ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "target": {"level": "SITE", "id": "SITE-CARPARK"},
                    "time": "2026-03-02T17:00:00.300Z",
                    "phase": "ACTIVE",
                    "f_hz": 49.6,
                    "p_w": 20500.0,
                    "baseline_w": 50000.0,
                    "ordered_w": -30000.0,
                    "delivered_w": -29500.0,
                }
            ]
        }
    )

    target: Target = Field(description="The target (at the contract's data-sharing level).")
    time: UtcDateTime = Field(description="Instant of the sample.")
    phase: str = Field(
        max_length=16,
        description="TRIGGERED, DETECTING, ACTIVE, DEACTIVATING, ENDED (FFR) or DROOP.",
    )
    f_hz: float | None = Field(description="Frequency measured at the station.")
    p_w: float = Field(description="Active power measured (+ import).")
    baseline_w: float = Field(description="Power held before the response (the base).")
    ordered_w: float = Field(description="Change ordered at that instant (W added to the base).")
    delivered_w: float = Field(description="Change delivered: p_w - baseline_w.")


class EvidenceEvent(OutputModel):
    """How one target answered one frequency event: response time to 90 % of the ordered
    change (as grid codes measure it) and the deviation while it was held."""

    target: Target = Field(description="The target (at the contract's data-sharing level).")
    kind: str = Field(max_length=16, description="FFR or DROOP.")
    started_at: UtcDateTime = Field(description="The frequency event (trigger or change).")
    ordered_w: float = Field(description="Largest ordered change (W added to the base).")
    delivered_w: float = Field(description="Largest delivered change in the ordered direction.")
    response_time_s: float | None = Field(
        description="From the frequency that called for the largest ordered change to 90 % of "
        "it; null: never reached."
    )
    max_deviation_w: float = Field(
        ge=0, description="Largest |ordered - delivered| once 90 % was first reached."
    )
    samples: int = Field(ge=0, description="Samples recorded for the event.")


class EvidenceSummary(OutputModel):
    """The events of one FS's locally executed response, summarised (UC 2.3, 2.4)."""

    model_config = OutputModel.model_config | ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "fs_id": "fs-ffr-1",
                    "resolution_s": 0.1,
                    "events": [
                        {
                            "target": {"level": "SITE", "id": "SITE-CARPARK"},
                            "kind": "FFR",
                            "started_at": "2026-03-02T17:00:00Z",
                            "ordered_w": -30000.0,
                            "delivered_w": -30000.0,
                            "response_time_s": 0.5,
                            "max_deviation_w": 1200.0,
                            "samples": 412,
                        }
                    ],
                }
            ]
        }
    )

    fs_id: Id = Field(description="The FS.")
    resolution_s: float | None = Field(description="Spacing of the samples; null: none yet.")
    events: list[EvidenceEvent] = Field(description="One per target and event, oldest first.")
