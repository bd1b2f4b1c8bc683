"""What a detailed service record is built from: meter readings, meters, sessions, baselines.

These are the inputs the FS executor hands to `services.records.record_fs` when an FS ends (the
station adapter turns its meter data into `MeterSample`s). They are plain, immutable values:
the DSR builder is a pure function of them plus the FS and its contract, so a record can be
rebuilt and checked at any time. Readings come in *arrival order*, faults and all (duplicates,
gaps, late or reordered deliveries); the builder cleans and flags them, never trusts them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, NamedTuple

from fcsbe.model import Target, TargetLevel

__all__ = [
    "Activation",
    "ConnectionPoint",
    "MeterInfo",
    "MeterSample",
    "PowerPeriod",
    "RecordInputs",
    "RecordOptions",
    "ResponseSample",
    "SessionSpan",
    "SetpointChange",
    "SubmittedBaseline",
]


class MeterSample(NamedTuple):
    """One meter reading as delivered: registers are cumulative and never decrease.

    `p_w` is the instantaneous active power (+ import), used for the response time only;
    energies always come from the registers. `received_at` is when the server got it (for
    lateness); `signed_data`/`signed_format` carry a signed reading (e.g. OCMF) as delivered.
    """

    meter_id: str
    at: datetime
    e_import_wh: float
    e_export_wh: float
    p_w: float | None = None
    soc_pct: float | None = None
    quality: str = "MEASURED"
    received_at: datetime | None = None
    signed_data: str | None = None
    signed_format: str | None = None


@dataclass(frozen=True, slots=True)
class MeterInfo:
    """A meter whose readings the record uses, and what it measures.

    `in_total`: its energy counts in the FS's measured power (False for a meter only used for
    sessions, e.g. EVSE meters behind a site meter that already measures the total).
    """

    meter_id: str
    target: Target
    serial_number: str
    certified: bool
    in_total: bool = True
    public_key: str | None = None

    @property
    def evse_id(self) -> str | None:
        """The EVSE it meters, for an EVSE meter."""
        return self.target.id if self.target.level is TargetLevel.EVSE else None


@dataclass(frozen=True, slots=True)
class SessionSpan:
    """An EV session (pseudonymous) at an EVSE; `disconnected_at` None: still connected."""

    session_ref: str
    evse_id: str
    connected_at: datetime
    disconnected_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class PowerPeriod:
    """A power over [start, end): a declared baseline period."""

    start: datetime
    end: datetime
    p_w: float


@dataclass(frozen=True, slots=True)
class ConnectionPoint:
    """A site's point of connection, for a record judged there (CONGESTION).

    `site_id` names it in the record: the site id, or `POC-<its first EVSE id>` for a site the
    FO may not see. `metered`: its point-of-connection meter (meter id = that name) is among
    the record's meters
    (with `in_total`, and the site's EVSE meters, `evse_ids`, without). Otherwise the site is
    estimated: its EVSE meters count in the total and `other_load` (the non-EV power, load minus
    PV, that the stations reported at each plan; empty when they knew none) is added to them.
    """

    site_id: str
    metered: bool
    other_load: Sequence[PowerPeriod] = ()
    evse_ids: Sequence[str] = ()


@dataclass(frozen=True, slots=True)
class SubmittedBaseline:
    """A baseline the FO or the CSO submitted before the FS started (a D-prognosis)."""

    party_id: str
    role: Literal["FO", "CSO"]
    at: datetime
    periods: Sequence[PowerPeriod]


class ResponseSample(NamedTuple):
    """A high-resolution reading of an EVSE around a frequency event: the EVSE meter's power
    with the frequency it saw, or an FFR evidence row (`kind` says which)."""

    meter_id: str
    at: datetime
    p_w: float
    f_hz: float | None
    kind: str = "EVSE"


@dataclass(frozen=True, slots=True)
class SetpointChange:
    """A dynamic setpoint (`POST .../setpoints`) in force from `at` until the next one."""

    at: datetime
    p_w: float


@dataclass(frozen=True, slots=True)
class Activation:
    """A RESERVE activation as executed: a power change (+ more import) over a span."""

    start: datetime
    duration_s: float
    delta_w: float


@dataclass(frozen=True, slots=True)
class RecordOptions:
    """How readings are judged. Defaults suit 1-60 s meter data and 15-minute settlement."""

    interval_s: int = 900
    """Settlement interval for FS types without periods of their own (droop, FFR, reserve)."""
    baseline_lookback_s: int = 900
    """METER_BEFORE_ACTIVATION: the baseline is the mean power over this long before start."""
    history_days: int = 5
    """HISTORICAL_AVERAGE: the same interval on up to this many previous days."""
    high_x_days: int = 4
    """HIGH_X_OF_Y: X, the days of highest use kept."""
    of_y_days: int = 5
    """HIGH_X_OF_Y: Y, the previous days looked at."""
    adjustment_s: int = 3_600
    """HIGH_X_OF_Y: the same-day adjustment compares this long before the window (0: none)."""
    late_after_s: float = 60.0
    """A reading received more than this long after it was taken is flagged LATE_READING."""
    clock_skew_s: float = 60.0
    """A reading taken more than this long after it was received is flagged CLOCK_DRIFT."""
    gap_factor: float = 1.5
    """A gap is a pause between readings longer than this many times the meter's usual one."""
    response_threshold_pct: float = 10.0
    """Response time: until the power has moved this share of the ordered change."""


@dataclass(frozen=True, slots=True)
class RecordInputs:
    """Everything measured about an FS's execution, for `record_fs`."""

    meters: Sequence[MeterInfo]
    readings: Sequence[MeterSample]
    sessions: Sequence[SessionSpan] = ()
    declared_baseline: Sequence[PowerPeriod] = ()
    setpoint_changes: Sequence[SetpointChange] = ()
    activations: Sequence[Activation] = ()
    options: RecordOptions = field(default_factory=RecordOptions)
    declared_at: datetime | None = None
    """When the declared baseline was declared (the decision)."""
    submitted_baseline: SubmittedBaseline | None = None
    response: Sequence[ResponseSample] = ()
    """DROOP / FFR: the readings with frequency and the FFR evidence in the window."""
    connection_points: Sequence[ConnectionPoint] = ()
    """CONGESTION: the sites whose points of connection the record measures (empty: the
    measured power is the sum of the EVSE meters)."""
