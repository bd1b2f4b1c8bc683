"""Payloads of the flexibility services executed by local control or held in reserve: droop
(UC 2.3), fast frequency response (UC 2.4) and reserve (UC 2.5).

Droop and FFR run in the station from local measurements, never by a round trip through the API;
these models carry their settings (curves, deadbands, trigger levels). Part of the `FsParameters`
union of `fcsbe.model.fs_payloads`; this module must not know about contracts or targets.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Annotated, Literal

from pydantic import ConfigDict, Field, model_validator

from fcsbe.model._validation import check_strictly_increasing, check_unique
from fcsbe.model.base import InputModel
from fcsbe.model.enums import FsType
from fcsbe.model.grid_enums import CurveUnit

__all__ = [
    "MAX_CURVE_POINTS",
    "CurvePoint",
    "DerCurve",
    "DroopSettings",
    "FfrSettings",
    "FfrTriggerLevel",
    "FreqWattPoint",
    "ReserveOffer",
]

MAX_CURVE_POINTS = 20
"""Most points of a volt-var / volt-watt curve (as OCPP 2.1 and IEEE 2030.5 DERCurve)."""

_PowerW = Annotated[float, Field(ge=-1e9, le=1e9)]
_LimitW = Annotated[float, Field(ge=0, le=1e9)]
_FrequencyHz = Annotated[float, Field(ge=45, le=65)]


class CurvePoint(InputModel):
    """One point of a curve, in the units of the curve."""

    x: float = Field(description="Abscissa (e.g. voltage in % of nominal).")
    y: float = Field(description="Ordinate (e.g. reactive power in % of maximum).")


class DerCurve(InputModel):
    """A piecewise-linear curve (OCPP 2.1 `DERCurveType`, IEEE 2030.5 `DERCurve`)."""

    x_unit: CurveUnit = Field(description="Unit of x.")
    y_unit: CurveUnit = Field(description="Unit of y.")
    points: list[CurvePoint] = Field(
        min_length=2, max_length=MAX_CURVE_POINTS, description="Points, x strictly increasing."
    )

    @model_validator(mode="after")
    def _monotone(self) -> DerCurve:
        check_strictly_increasing([p.x for p in self.points], "points.x")
        return self


class FreqWattPoint(InputModel):
    """One knee of a frequency-watt curve: at `df_hz` from f_ref, `p_pct` of the reference
    power is added to the operating point (+ = more import / less export)."""

    df_hz: float = Field(ge=-5, le=5, description="Deviation from f_ref (Hz, signed).")
    p_pct: float = Field(
        ge=-100, le=100, description="Change of power in % of p_ref_w (+ = more import)."
    )


class DroopSettings(InputModel):
    """UC 2.3 droop control, executed locally from local measurements.

    The FO orders a frequency response in its own terms, around whatever each EVSE is doing
    (idle, charging or discharging):

    - a droop: outside the deadband a deviation of `droop_*_pct` % of f_ref changes the power by
      100 % of `p_ref_w` (or a gain `gain_*_w_per_hz` in W/Hz), asymmetric above and below f_ref;
    - or a frequency-watt curve `freq_watt` with deadband and knees (e.g. Dynamic Containment:
      ±15 mHz deadband, 5 % at ±200 mHz, 100 % at ±500 mHz);

    bounded by the aggregate power range [p_min_w, p_max_w]; `response_time_s` is the time to
    90 % of the ordered change. Optional volt-var (V → Q) and volt-watt (V → P) curves act on
    the local voltage. Peers: OCPP 2.1 `SetDERControl` with `FreqDroopType` / `DERCurveType`,
    IEEE 2030.5 `opModFreqDroop` / `opModFreqWatt` / `opModVoltVar` / `opModVoltWatt`,
    OpenADR 3 `CURVE`.
    """

    model_config = InputModel.model_config | ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "fs_type": "DROOP",
                    "f_ref_hz": 50.0,
                    "deadband_over_hz": 0.2,
                    "deadband_under_hz": 0.2,
                    "droop_over_pct": 5.0,
                    "droop_under_pct": 5.0,
                    "response_time_s": 2.0,
                    "p_min_w": -11000.0,
                    "p_max_w": 11000.0,
                    "volt_var": {
                        "x_unit": "PCT_EFFECTIVE_V",
                        "y_unit": "PCT_MAX_VAR",
                        "points": [
                            {"x": 92.0, "y": 44.0},
                            {"x": 98.0, "y": 0.0},
                            {"x": 102.0, "y": 0.0},
                            {"x": 108.0, "y": -44.0},
                        ],
                    },
                },
            ]
        }
    )

    fs_type: Literal[FsType.DROOP] = Field(description="Payload tag.")
    f_ref_hz: _FrequencyHz = Field(description="Reference (nominal) frequency.")
    deadband_over_hz: float = Field(default=0.0, ge=0, le=5, description="Deadband above f_ref.")
    deadband_under_hz: float = Field(default=0.0, ge=0, le=5, description="Deadband below f_ref.")
    droop_over_pct: float | None = Field(
        default=None,
        gt=0,
        le=100,
        description="Droop above f_ref: Δf in % of f_ref that moves the power by 100 % of p_ref_w.",
    )
    droop_under_pct: float | None = Field(
        default=None, gt=0, le=100, description="Droop below f_ref (as droop_over_pct)."
    )
    gain_over_w_per_hz: float | None = Field(
        default=None, gt=0, le=1e10, description="Gain above f_ref (W/Hz); instead of the droop."
    )
    gain_under_w_per_hz: float | None = Field(
        default=None, gt=0, le=1e10, description="Gain below f_ref (W/Hz); instead of the droop."
    )
    p_ref_w: float | None = Field(
        default=None,
        gt=0,
        le=1e9,
        description="Reference of the droop % and of freq_watt; null: max(|p_min_w|, |p_max_w|).",
    )
    freq_watt: list[FreqWattPoint] | None = Field(
        default=None,
        min_length=2,
        max_length=MAX_CURVE_POINTS,
        description="Frequency-watt curve (deadband and knees), instead of droops and gains.",
    )
    response_time_s: float = Field(
        ge=0, le=600, description="Time to 90 % of the ordered change (open-loop response time)."
    )
    p_min_w: _PowerW = Field(description="Lower power bound while drooping (- = export).")
    p_max_w: _PowerW = Field(description="Upper power bound while drooping (+ = import).")
    volt_var: DerCurve | None = Field(default=None, description="Volt-var curve (V → Q).")
    volt_watt: DerCurve | None = Field(default=None, description="Volt-watt curve (V → P).")

    @model_validator(mode="after")
    def _check(self) -> DroopSettings:
        if self.p_min_w > self.p_max_w:
            raise ValueError(
                f"p_min_w ({self.p_min_w:g}) must not exceed p_max_w ({self.p_max_w:g})"
            )
        if self.freq_watt is not None:
            xs = [p.df_hz for p in self.freq_watt]
            check_strictly_increasing(xs, "freq_watt.df_hz")
            ys = [p.p_pct for p in self.freq_watt]
            if any(b < a for a, b in pairwise(ys)):
                raise ValueError("freq_watt.p_pct must not decrease as the frequency rises")
            if not xs[0] <= 0 <= xs[-1] or _at(self.freq_watt, 0.0) != 0:
                raise ValueError("freq_watt must pass through p_pct 0 at df_hz 0")
        else:
            for side in ("over", "under"):
                if getattr(self, f"droop_{side}_pct") is None and (
                    getattr(self, f"gain_{side}_w_per_hz") is None
                ):
                    raise ValueError(
                        f"droop_{side}_pct or gain_{side}_w_per_hz is required without freq_watt"
                    )
        if self.volt_var and not (
            self.volt_var.x_unit.is_voltage and self.volt_var.y_unit.is_reactive_power
        ):
            raise ValueError("volt_var must map a voltage x_unit to a reactive-power y_unit")
        if self.volt_watt and not (
            self.volt_watt.x_unit.is_voltage and self.volt_watt.y_unit.is_active_power
        ):
            raise ValueError("volt_watt must map a voltage x_unit to an active-power y_unit")
        return self

    @property
    def reference_w(self) -> float:
        """The reference power of the percentages: p_ref_w, else the larger bound."""
        if self.p_ref_w is not None:
            return self.p_ref_w
        return max(abs(self.p_min_w), abs(self.p_max_w))

    def gain_w_per_hz(self, side: Literal["over", "under"]) -> float:
        """The linear gain of one side (W/Hz); 0 when a freq_watt curve is ordered."""
        gain = getattr(self, f"gain_{side}_w_per_hz")
        if gain is not None:
            return float(gain)
        pct = getattr(self, f"droop_{side}_pct")
        if pct is None:
            return 0.0
        return self.reference_w / (float(pct) / 100.0 * self.f_ref_hz)

    def horizon_s(self) -> int:
        """Droop has no periods: it applies over the whole window."""
        return 0


def _at(points: list[FreqWattPoint], df_hz: float) -> float:
    """The curve's p_pct at `df_hz` (linear between knees)."""
    for a, b in pairwise(points):
        if a.df_hz <= df_hz <= b.df_hz:
            return a.p_pct + (b.p_pct - a.p_pct) * (df_hz - a.df_hz) / (b.df_hz - a.df_hz)
    return points[0].p_pct if df_hz < points[0].df_hz else points[-1].p_pct


class FfrTriggerLevel(InputModel):
    """One pre-armed trigger of fast frequency response."""

    frequency_hz: _FrequencyHz = Field(description="Frequency at which the step is triggered.")
    full_activation_time_s: float = Field(
        gt=0, le=30, description="Time to full ΔP after the trigger (may be below 1 s)."
    )
    delta_p_w: _PowerW = Field(
        description="Power change at full activation; - = less import / more export."
    )

    @model_validator(mode="after")
    def _nonzero(self) -> FfrTriggerLevel:
        if self.delta_p_w == 0:
            raise ValueError("delta_p_w must not be zero")
        return self


class FfrSettings(InputModel):
    """UC 2.4 fast frequency response: triggers armed locally, never activated over the API.

    Peers: OCPP 2.1 `FreqDroop`/`HFMustTrip`-style DER controls, IEEE 2030.5 `opModFreqWatt`;
    market products such as Nordic FFR and UK Dynamic Containment.
    """

    model_config = InputModel.model_config | ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "fs_type": "FFR",
                    "trigger_levels": [
                        {
                            "frequency_hz": 49.7,
                            "full_activation_time_s": 1.0,
                            "delta_p_w": -10000.0,
                        },
                        {
                            "frequency_hz": 49.6,
                            "full_activation_time_s": 0.7,
                            "delta_p_w": -20000.0,
                        },
                    ],
                    "support_duration_s": 30,
                    "deactivation_ramp_s": 10,
                    "rearm_time_s": 900,
                    "evidence_sampling_ms": 20,
                    "detection_delay_s": 0.1,
                    "latched": True,
                }
            ]
        }
    )

    fs_type: Literal[FsType.FFR] = Field(description="Payload tag.")
    trigger_levels: list[FfrTriggerLevel] = Field(
        min_length=1, max_length=10, description="Trigger levels, distinct frequencies."
    )
    support_duration_s: int = Field(ge=1, le=3_600, description="How long support is held.")
    deactivation_ramp_s: int = Field(ge=0, le=3_600, description="Ramp back after support.")
    rearm_time_s: int = Field(ge=0, le=86_400, description="Time before a trigger can fire again.")
    detection_delay_s: float = Field(
        default=0.0,
        ge=0,
        le=2,
        description="Wait after a crossing before acting (counts in the full-activation time).",
    )
    latched: bool = Field(
        default=True,
        description="Hold the support for its duration whatever the frequency does; "
        "false: end it once the frequency is back inside every level.",
    )
    evidence_sampling_ms: int = Field(
        ge=1, le=1_000, description="Sampling period of the high-resolution evidence."
    )

    @model_validator(mode="after")
    def _distinct(self) -> FfrSettings:
        check_unique([t.frequency_hz for t in self.trigger_levels], "trigger_levels.frequency_hz")
        for level in self.trigger_levels:
            if self.detection_delay_s >= level.full_activation_time_s:
                raise ValueError(
                    f"detection_delay_s ({self.detection_delay_s:g}) must be shorter than "
                    f"full_activation_time_s ({level.full_activation_time_s:g})"
                )
        return self

    def horizon_s(self) -> int:
        """FFR is armed over the whole window."""
        return 0


class ReserveOffer(InputModel):
    """UC 2.5 reserve (mFRR-like): power held up/down over the window, activated separately by
    `ReserveActivation`. Peers: OpenADR 3 `*_CAPACITY_RESERVATION`, UFTP `FlexReservation`."""

    model_config = InputModel.model_config | ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "fs_type": "RESERVE",
                    "up_w": 30000.0,
                    "down_w": 10000.0,
                    "full_activation_time_s": 750,
                    "min_activation_duration_s": 300,
                }
            ]
        }
    )

    fs_type: Literal[FsType.RESERVE] = Field(description="Payload tag.")
    up_w: _LimitW = Field(description="Reserved upward power (less import / more export).")
    down_w: _LimitW = Field(description="Reserved downward power (more import / less export).")
    full_activation_time_s: int = Field(ge=1, le=3_600, description="Time to full activation.")
    min_activation_duration_s: int = Field(ge=0, le=86_400, description="Shortest activation.")

    @model_validator(mode="after")
    def _something_reserved(self) -> ReserveOffer:
        if self.up_w == 0 and self.down_w == 0:
            raise ValueError("at least one of up_w and down_w must be positive")
        return self

    def horizon_s(self) -> int:
        """The reservation spans the whole window."""
        return 0
