"""The type-specific parameter payloads of a flexibility service (UC 2.1-2.7) and their union.

The schedule- and price-based payloads live here (setpoint, demand response, dynamic price,
congestion); droop, FFR and reserve live in `fcsbe.model.fs_control_payloads`.

Each payload carries `fs_type` as a literal tag, so that `FsParameters` is a discriminated union
and a request whose `parameters.fs_type` differs from its `fs_type` is refused. Offsets are
seconds from the start of the FS window; each payload checks its own periods (ordered, not
overlapping) and reports how far it reaches (`horizon_s`) so that the request can check that it
stays inside the window. This module must not know about contracts, targets or state.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import ConfigDict, Field, model_validator

from fcsbe.model._validation import check_spans
from fcsbe.model.base import InputModel
from fcsbe.model.common import Currency, Money
from fcsbe.model.enums import FsType
from fcsbe.model.fs_control_payloads import DroopSettings, FfrSettings, ReserveOffer

__all__ = [
    "MAX_PERIODS",
    "CongestionLimits",
    "CongestionPeriod",
    "DemandResponseInterval",
    "DemandResponseSignal",
    "DynamicPriceInterval",
    "DynamicPriceSignal",
    "FsParameters",
    "SetpointPeriod",
    "SetpointSchedule",
]

MAX_PERIODS = 1_440
"""Most periods or intervals in one payload (one day at one-minute resolution)."""


_MAX_OFFSET_S = 366 * 86_400
_PowerW = Annotated[float, Field(ge=-1e9, le=1e9)]
_LimitW = Annotated[float, Field(ge=0, le=1e9)]
_OffsetS = Annotated[int, Field(ge=0, le=_MAX_OFFSET_S)]
_DurationS = Annotated[int, Field(ge=1, le=_MAX_OFFSET_S)]
_RandomizeS = Annotated[int, Field(ge=0, le=3_600)]
_RANDOMIZE_DOC = (
    "Randomised start (IEEE 2030.5 `randomizeStart`): each EVSE delays every rise of its "
    "charging by its own seeded share of this many seconds (at most half the interval it rises "
    "into), so that the EVs do not all start on the interval edge (no synchronised rebound). "
    "Null: the server's default (300 s); 0: no randomisation."
)


class SetpointPeriod(InputModel):
    """One period of a setpoint schedule: [start_offset_s, start_offset_s + resolution_s)."""

    start_offset_s: _OffsetS = Field(description="Start of the period, seconds from window start.")
    p_w: _PowerW = Field(description="Active-power setpoint; + import (charge), - export.")
    q_var: _PowerW | None = Field(
        default=None, description="Reactive-power setpoint; + absorb (inductive). Null: none."
    )
    ramp_w_per_s: float | None = Field(
        default=None, gt=0, le=1e9, description="Maximum ramp towards this setpoint; null: any."
    )


class SetpointSchedule(InputModel):
    """UC 2.1 setpoint following: a schedule of active-power setpoints.

    Peers: OCPP 2.1 `ChargingSchedulePeriod` with `operationMode` `CentralSetpoint` (`setpoint`,
    `setpointReactive`), IEEE 2030.5 `opModFixedW`, OpenADR 3 `DISPATCH_SETPOINT`.
    Each period lasts `resolution_s`; gaps between periods mean "no setpoint" (unmanaged).
    """

    model_config = InputModel.model_config | ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "fs_type": "SETPOINT",
                    "resolution_s": 900,
                    "periods": [
                        {"start_offset_s": 0, "p_w": 22000.0},
                        {"start_offset_s": 900, "p_w": 11000.0, "ramp_w_per_s": 500.0},
                        {"start_offset_s": 1800, "p_w": -7400.0, "q_var": 0.0},
                    ],
                }
            ]
        }
    )

    fs_type: Literal[FsType.SETPOINT] = Field(description="Payload tag; equals the FS type.")
    resolution_s: int = Field(ge=1, le=86_400, description="Length of every period.")
    periods: list[SetpointPeriod] = Field(
        min_length=1, max_length=MAX_PERIODS, description="Periods, ordered, not overlapping."
    )

    @model_validator(mode="after")
    def _periods_ordered(self) -> SetpointSchedule:
        spans = [(p.start_offset_s, p.start_offset_s + self.resolution_s) for p in self.periods]
        check_spans(spans, "periods")
        return self

    def horizon_s(self) -> int:
        """Seconds from window start to the end of the last period."""
        return self.periods[-1].start_offset_s + self.resolution_s


class DemandResponseInterval(InputModel):
    """One interval of a demand-response signal: a price or an incentive level, not both."""

    start_offset_s: _OffsetS = Field(description="Start, seconds from window start.")
    duration_s: _DurationS = Field(description="Length of the interval.")
    price_per_kwh: Money | None = Field(
        default=None, description="Energy price in `currency` per kWh (may be negative)."
    )
    incentive_level: int | None = Field(
        default=None, ge=0, le=3, description="OpenADR 3 SIMPLE level: 0 normal … 3 maximum shed."
    )

    @model_validator(mode="after")
    def _price_or_level(self) -> DemandResponseInterval:
        if (self.price_per_kwh is None) == (self.incentive_level is None):
            raise ValueError("give exactly one of price_per_kwh and incentive_level")
        return self


class DemandResponseSignal(InputModel):
    """UC 2.2 demand response: a price or incentive signal; the CS shifts charging, no firm
    commitment. Peers: OpenADR 3 `PRICE` / `SIMPLE`, IEEE 2030.5 `TariffProfile`."""

    model_config = InputModel.model_config | ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "fs_type": "DEMAND_RESPONSE",
                    "currency": "EUR",
                    "intervals": [
                        {"start_offset_s": 0, "duration_s": 1800, "price_per_kwh": 0.41},
                        {"start_offset_s": 1800, "duration_s": 1800, "incentive_level": 2},
                    ],
                }
            ]
        }
    )

    fs_type: Literal[FsType.DEMAND_RESPONSE] = Field(description="Payload tag.")
    currency: Currency | None = Field(
        default=None, description="Currency of the prices; required when an interval has one."
    )
    intervals: list[DemandResponseInterval] = Field(
        min_length=1, max_length=MAX_PERIODS, description="Intervals, ordered, not overlapping."
    )
    randomize_start_s: _RandomizeS | None = Field(default=None, description=_RANDOMIZE_DOC)

    @model_validator(mode="after")
    def _check(self) -> DemandResponseSignal:
        check_spans(
            [(i.start_offset_s, i.start_offset_s + i.duration_s) for i in self.intervals],
            "intervals",
        )
        if self.currency is None and any(i.price_per_kwh is not None for i in self.intervals):
            raise ValueError("currency is required when an interval has a price_per_kwh")
        return self

    def horizon_s(self) -> int:
        """Seconds from window start to the end of the last interval."""
        last = self.intervals[-1]
        return last.start_offset_s + last.duration_s


class DynamicPriceInterval(InputModel):
    """One interval of a wholesale-indexed tariff."""

    start_offset_s: _OffsetS = Field(description="Start, seconds from window start.")
    duration_s: _DurationS = Field(description="Length of the interval.")
    import_price_per_kwh: Money = Field(description="Price of imported energy (may be negative).")
    export_price_per_kwh: Money | None = Field(
        default=None, description="Price paid for exported energy; null: no export remuneration."
    )


class DynamicPriceSignal(InputModel):
    """UC 2.6 dynamic pricing: import/export price series; discharging allowed when `v2x_allowed`
    and within EV-user limits. Peers: OpenADR 3 `PRICE`/`EXPORT_PRICE`, 2030.5 `TariffProfile`."""

    model_config = InputModel.model_config | ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "fs_type": "DYNAMIC_PRICE",
                    "currency": "EUR",
                    "v2x_allowed": True,
                    "intervals": [
                        {
                            "start_offset_s": 0,
                            "duration_s": 1800,
                            "import_price_per_kwh": 0.312,
                            "export_price_per_kwh": 0.255,
                        },
                        {
                            "start_offset_s": 1800,
                            "duration_s": 1800,
                            "import_price_per_kwh": -0.012,
                        },
                    ],
                }
            ]
        }
    )

    fs_type: Literal[FsType.DYNAMIC_PRICE] = Field(description="Payload tag.")
    currency: Currency = Field(description="Currency of all prices.")
    v2x_allowed: bool = Field(default=False, description="Whether V2H/V2G discharge may be used.")
    intervals: list[DynamicPriceInterval] = Field(
        min_length=1, max_length=MAX_PERIODS, description="Intervals, ordered, not overlapping."
    )
    round_trip_efficiency: float | None = Field(
        default=None,
        gt=0,
        le=1,
        description="Share of the energy bought back to replace a discharged kWh that the "
        "battery gives again (charger and battery losses). Null: the server's default (0.9).",
    )
    battery_wear_cost_per_kwh: Money | None = Field(
        default=None,
        ge=0,
        description="Cost of battery wear per kWh discharged, in `currency`: a discharge is "
        "planned only when it earns more than the energy bought back and this wear. Null: the "
        "server's default (0.05 per kWh).",
    )
    randomize_start_s: _RandomizeS | None = Field(default=None, description=_RANDOMIZE_DOC)

    @model_validator(mode="after")
    def _ordered(self) -> DynamicPriceSignal:
        check_spans(
            [(i.start_offset_s, i.start_offset_s + i.duration_s) for i in self.intervals],
            "intervals",
        )
        return self

    def horizon_s(self) -> int:
        """Seconds from window start to the end of the last interval."""
        last = self.intervals[-1]
        return last.start_offset_s + last.duration_s


class CongestionPeriod(InputModel):
    """One period of congestion limits; at least one of the two limits."""

    start_offset_s: _OffsetS = Field(description="Start, seconds from window start.")
    duration_s: _DurationS = Field(description="Length of the period.")
    import_limit_w: _LimitW | None = Field(default=None, description="Maximum import (≥ 0).")
    export_limit_w: _LimitW | None = Field(default=None, description="Maximum export (≥ 0).")

    @model_validator(mode="after")
    def _some_limit(self) -> CongestionPeriod:
        if self.import_limit_w is None and self.export_limit_w is None:
            raise ValueError("give import_limit_w, export_limit_w or both")
        return self


class CongestionLimits(InputModel):
    """UC 2.7 congestion management: import/export limits at a grid node per period.

    Peers: OCPP 2.1 `ChargingProfile` limits (`dischargeLimit`), IEEE 2030.5 `opModImpLimW` /
    `opModExpLimW`, OpenADR 3 `IMPORT_CAPACITY_LIMIT` / `EXPORT_CAPACITY_LIMIT`, UFTP `FlexOrder`.
    """

    model_config = InputModel.model_config | ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "fs_type": "CONGESTION",
                    "grid_node": "871687120000000123",
                    "periods": [
                        {
                            "start_offset_s": 0,
                            "duration_s": 1800,
                            "import_limit_w": 400000.0,
                            "export_limit_w": 100000.0,
                        },
                        {"start_offset_s": 1800, "duration_s": 1800, "import_limit_w": 350000.0},
                    ],
                }
            ]
        }
    )

    fs_type: Literal[FsType.CONGESTION] = Field(description="Payload tag.")
    grid_node: str = Field(
        min_length=1, max_length=128, description="Grid node / congestion point (e.g. an EAN)."
    )
    periods: list[CongestionPeriod] = Field(
        min_length=1, max_length=MAX_PERIODS, description="Periods, ordered, not overlapping."
    )

    @model_validator(mode="after")
    def _ordered(self) -> CongestionLimits:
        check_spans(
            [(p.start_offset_s, p.start_offset_s + p.duration_s) for p in self.periods], "periods"
        )
        return self

    def horizon_s(self) -> int:
        """Seconds from window start to the end of the last period."""
        last = self.periods[-1]
        return last.start_offset_s + last.duration_s


FsParameters = Annotated[
    SetpointSchedule
    | DemandResponseSignal
    | DroopSettings
    | FfrSettings
    | ReserveOffer
    | DynamicPriceSignal
    | CongestionLimits,
    Field(discriminator="fs_type"),
]
"""Exactly one type-specific payload, tagged by `fs_type`."""
