"""Technical capabilities and availability forecasts per target (interface data item 3).

`Capability` says what a target can do for one FS type (grid functions, limits, speed);
`AvailabilityForecast` says how much flexibility it is expected to offer over time. Direction
words: UP = less import / more export, DOWN = more import / less export. This module must not
compute forecasts: the server fills them from the station adapter and its forecaster.
"""

from __future__ import annotations

from pydantic import ConfigDict, Field, model_validator

from fcsbe.model._validation import check_spans
from fcsbe.model.base import OutputModel, UtcDateTime
from fcsbe.model.common import Percent, Target
from fcsbe.model.enums import FsType
from fcsbe.model.fs_control_payloads import MAX_CURVE_POINTS
from fcsbe.model.fs_payloads import MAX_PERIODS
from fcsbe.model.grid_enums import GridFunction

__all__ = ["AvailabilityForecast", "AvailabilityInterval", "Capability", "CurveLimits"]

_MAX_W = 1e9


class CurveLimits(OutputModel):
    """Limits on the curves a target accepts (OCPP 2.1 `DERCurve` constraints)."""

    max_points: int = Field(ge=2, le=MAX_CURVE_POINTS, description="Most points per curve.")
    min_response_time_s: float = Field(ge=0, description="Fastest open-loop response time.")
    max_response_time_s: float = Field(ge=0, description="Slowest settable response time.")

    @model_validator(mode="after")
    def _ordered(self) -> CurveLimits:
        if self.min_response_time_s > self.max_response_time_s:
            raise ValueError("min_response_time_s must not exceed max_response_time_s")
        return self


class Capability(OutputModel):
    """What one target can do for one FS type (cf. IEEE 2030.5 `DERCapability`, OCPP 2.1
    `NotifyDERStartStop`/device-model DER variables).

    `mandatory_grid_functions` are grid-code settings in the inverter firmware, reported as
    configuration; `grid_functions` are those the FCSBE can use for market-driven FS.
    """

    model_config = OutputModel.model_config | ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "target": {"level": "EVSE", "id": "NL*ABC*E12345*1"},
                    "fs_type": "DROOP",
                    "supported": True,
                    "grid_functions": ["FREQ_DROOP", "VOLT_VAR", "VOLT_WATT"],
                    "mandatory_grid_functions": ["LF_MUST_TRIP", "HF_MUST_TRIP"],
                    "curve_limits": {
                        "max_points": 10,
                        "min_response_time_s": 0.5,
                        "max_response_time_s": 60.0,
                    },
                    "p_min_w": -50000.0,
                    "p_max_w": 150000.0,
                    "response_time_s": 0.5,
                    "ramp_up_w_per_s": 25000.0,
                    "ramp_down_w_per_s": 25000.0,
                    "setpoint_resolution_w": 100.0,
                    "telemetry_interval_s": 1,
                }
            ]
        }
    )

    target: Target = Field(description="The target described.")
    fs_type: FsType = Field(description="The FS type described.")
    supported: bool = Field(description="Whether the target can serve this FS type at all.")
    grid_functions: list[GridFunction] = Field(
        default_factory=list, description="Grid functions usable for FS (OCPP 2.1 DER controls)."
    )
    mandatory_grid_functions: list[GridFunction] = Field(
        default_factory=list, description="Grid-code functions active in firmware (not FS)."
    )
    curve_limits: CurveLimits | None = Field(default=None, description="Curve constraints.")
    p_min_w: float = Field(ge=-_MAX_W, le=_MAX_W, description="Lowest power (- = export).")
    p_max_w: float = Field(ge=-_MAX_W, le=_MAX_W, description="Highest power (+ = import).")
    response_time_s: float = Field(ge=0, description="Typical time to first response.")
    ramp_up_w_per_s: float | None = Field(default=None, gt=0, description="Ramp-up rate.")
    ramp_down_w_per_s: float | None = Field(default=None, gt=0, description="Ramp-down rate.")
    setpoint_resolution_w: float | None = Field(default=None, gt=0, description="Setpoint step.")
    telemetry_interval_s: int = Field(ge=1, description="Shortest measurement interval offered.")

    @model_validator(mode="after")
    def _ordered(self) -> Capability:
        if self.p_min_w > self.p_max_w:
            raise ValueError("p_min_w must not exceed p_max_w")
        return self


class AvailabilityInterval(OutputModel):
    """Expected flexibility of a target during [start, start + duration_s)."""

    start: UtcDateTime = Field(description="Start of the interval.")
    duration_s: int = Field(ge=1, le=86_400, description="Length of the interval.")
    min_import_w: float = Field(ge=0, le=_MAX_W, description="Import that cannot be shed.")
    max_import_w: float = Field(ge=0, le=_MAX_W, description="Largest possible import.")
    max_export_w: float = Field(ge=0, le=_MAX_W, description="Largest possible export (V2G).")
    energy_up_wh: float = Field(ge=0, description="Energy that can be shifted UP.")
    energy_down_wh: float = Field(ge=0, description="Energy that can be shifted DOWN.")
    connected_evs: int = Field(ge=0, description="EVs expected to be connected.")
    v2g_capable_evs: int = Field(ge=0, description="Of which able to discharge.")
    confidence_pct: Percent = Field(description="Confidence of the forecast.")

    @model_validator(mode="after")
    def _check(self) -> AvailabilityInterval:
        if self.min_import_w > self.max_import_w:
            raise ValueError("min_import_w must not exceed max_import_w")
        if self.v2g_capable_evs > self.connected_evs:
            raise ValueError("v2g_capable_evs must not exceed connected_evs")
        return self


class AvailabilityForecast(OutputModel):
    """Forecast of flexible power and energy of a target (cf. UFTP `FlexOffer` capacity,
    OpenADR 3 `IMPORT_CAPACITY_AVAILABLE` reports)."""

    model_config = OutputModel.model_config | ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "target": {"level": "SITE", "id": "site-ams-depot-01"},
                    "generated_at": "2026-03-02T16:00:00Z",
                    "resolution_s": 900,
                    "intervals": [
                        {
                            "start": "2026-03-02T17:00:00Z",
                            "duration_s": 900,
                            "min_import_w": 20000.0,
                            "max_import_w": 600000.0,
                            "max_export_w": 150000.0,
                            "energy_up_wh": 140000.0,
                            "energy_down_wh": 90000.0,
                            "connected_evs": 12,
                            "v2g_capable_evs": 3,
                            "confidence_pct": 85.0,
                        }
                    ],
                }
            ]
        }
    )

    target: Target = Field(description="The target forecast.")
    generated_at: UtcDateTime = Field(description="When the forecast was made.")
    resolution_s: int = Field(ge=1, le=86_400, description="Nominal interval length.")
    intervals: list[AvailabilityInterval] = Field(
        max_length=MAX_PERIODS, description="Intervals, ordered, not overlapping."
    )

    @model_validator(mode="after")
    def _ordered(self) -> AvailabilityForecast:
        if self.intervals:
            origin = self.intervals[0].start
            offsets = [(i.start - origin).total_seconds() for i in self.intervals]
            spans = [(o, o + i.duration_s) for o, i in zip(offsets, self.intervals, strict=True)]
            check_spans(spans, "intervals")
        return self
