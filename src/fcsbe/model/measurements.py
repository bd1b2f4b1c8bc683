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

__all__ = ["MAX_POINTS", "MeasurementPoint", "MeasurementSeries"]

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
