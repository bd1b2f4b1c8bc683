"""The parts of a detailed service record (DSR, UC 3.4): its intervals, sessions, totals, meters,
data-quality flags, settlement, performance with its penalty lines, and correction.

The whole record and how the parts fit together are in `fcsbe.model.records`; the baselines it
settles against are in `fcsbe.model.baselines`. Sessions appear under pseudonyms only.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from fcsbe.model.base import Id, OutputModel, UtcDateTime
from fcsbe.model.common import Currency, EvseId, Money, Percent, Target
from fcsbe.model.enums import DataQualityCode
from fcsbe.model.sessions import SessionRef

__all__ = [
    "MAX_DSR_INTERVALS",
    "DataQualityFlag",
    "DsrCorrection",
    "DsrInterval",
    "DsrMeter",
    "DsrPenalty",
    "DsrPerformance",
    "DsrSession",
    "DsrSettlement",
    "DsrTotals",
]


MAX_DSR_INTERVALS = 10_080
"""Most intervals in one DSR (a week at one-minute resolution)."""


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
