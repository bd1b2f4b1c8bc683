"""Closed vocabularies of measurements, records and their settlement: measured quantities and
their quality, data-quality codes, proof validation and disputes.

Values equal the member names (UPPER_SNAKE), as everywhere in `fcsbe.model.enums`.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "DataQualityCode",
    "DisputeAnswerKind",
    "DisputeReasonCode",
    "DisputeResponseKind",
    "DisputeStatus",
    "MeasurementQuality",
    "ProofDecision",
    "ProofValidationStatus",
    "Quantity",
]


class Quantity(StrEnum):
    """Measured quantity of a series; the unit is in the name (see `unit`)."""

    P_W = "P_W"
    Q_VAR = "Q_VAR"
    E_IMPORT_WH = "E_IMPORT_WH"
    E_EXPORT_WH = "E_EXPORT_WH"
    F_HZ = "F_HZ"
    U_V = "U_V"
    SOC_AGG_PCT = "SOC_AGG_PCT"

    @property
    def unit(self) -> str:
        """The unit symbol (`W`, `var`, `Wh`, `Hz`, `V`, `%`)."""
        return _QUANTITY_UNITS[self]


_QUANTITY_UNITS = {
    Quantity.P_W: "W",
    Quantity.Q_VAR: "var",
    Quantity.E_IMPORT_WH: "Wh",
    Quantity.E_EXPORT_WH: "Wh",
    Quantity.F_HZ: "Hz",
    Quantity.U_V: "V",
    Quantity.SOC_AGG_PCT: "%",
}


class MeasurementQuality(StrEnum):
    """Quality of one measured point (as OCPP `ReadingContext`/UFTP data quality, simplified)."""

    MEASURED = "MEASURED"
    ESTIMATED = "ESTIMATED"
    SUBSTITUTED = "SUBSTITUTED"
    MISSING = "MISSING"


class DataQualityCode(StrEnum):
    """A data-quality issue flagged in a detailed service record.

    GAP: no reading in an interval (dropped or never sent); DUPLICATE_READING: the same reading
    received more than once (one kept); LATE_READING: received long after it was taken (used);
    OUT_OF_ORDER: received before an earlier reading (re-sorted); INVALID_READING: unusable (a
    register running backwards, a time outside the record) and left out.
    """

    GAP = "GAP"
    ESTIMATED_VALUES = "ESTIMATED_VALUES"
    CLOCK_DRIFT = "CLOCK_DRIFT"
    METER_NOT_CERTIFIED = "METER_NOT_CERTIFIED"
    SIGNATURE_INVALID = "SIGNATURE_INVALID"
    COMM_LOSS = "COMM_LOSS"
    LOW_RESOLUTION = "LOW_RESOLUTION"
    DUPLICATE_READING = "DUPLICATE_READING"
    LATE_READING = "LATE_READING"
    OUT_OF_ORDER = "OUT_OF_ORDER"
    INVALID_READING = "INVALID_READING"


class ProofValidationStatus(StrEnum):
    """State of the FO's validation of a proof of work (UC 3.4)."""

    PENDING = "PENDING"
    ACCEPTED = "ACCEPTED"
    DISPUTED = "DISPUTED"


class ProofDecision(StrEnum):
    """What the FO answers on a proof of work: accept it or dispute it (with reasons)."""

    ACCEPT = "ACCEPT"
    DISPUTE = "DISPUTE"


class DisputeReasonCode(StrEnum):
    """Why a record is disputed, or why the CSO answers as it does (documented in records.md)."""

    METER_DATA = "METER_DATA"
    """Readings missing, wrong or not the FO's own measurement."""
    BASELINE = "BASELINE"
    """The baseline (method or its inputs) is contested."""
    PERFORMANCE = "PERFORMANCE"
    """The delivery ratio, response time or tolerance verdict is contested."""
    SETTLEMENT = "SETTLEMENT"
    """The amounts (prices, penalty rules) do not follow the contract."""
    PROOF_INVALID = "PROOF_INVALID"
    """The proof of work does not verify."""
    OTHER = "OTHER"
    """Anything else (the reasons say what)."""


class DisputeStatus(StrEnum):
    """Where a dispute of a record stands.

    OPEN (awaiting the CSO's answer) -> REVISED (a corrected record revision) or REJECTED (with
    reasons) -> ACCEPTED (by the FO, or deemed so when the FO lets the response deadline pass)
    or ESCALATED (by the FO, or at once when the CSO lets the answer deadline pass).
    """

    OPEN = "OPEN"
    REVISED = "REVISED"
    REJECTED = "REJECTED"
    ACCEPTED = "ACCEPTED"
    ESCALATED = "ESCALATED"


class DisputeAnswerKind(StrEnum):
    """The CSO's answer to a dispute: a corrected record revision, or a rejection."""

    REVISE = "REVISE"
    REJECT = "REJECT"


class DisputeResponseKind(StrEnum):
    """The FO's response to the CSO's answer: accept it, or escalate the dispute."""

    ACCEPT = "ACCEPT"
    ESCALATE = "ESCALATE"
