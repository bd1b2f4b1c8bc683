"""Small value types shared by several concepts: time windows, targets, reasons, money, percent
and the eMI3 EVSE id.

These are the building blocks every other model module uses; they carry their own validation so
that a rule (a window ends after it starts, a target is a level plus an id) is written once. This
module must not depend on any other concept module of `fcsbe.model` (only on `base` and `enums`).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

from pydantic import (
    ConfigDict,
    Field,
    PlainSerializer,
    Strict,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
)
from pydantic_core import PydanticCustomError

from fcsbe.model.base import Id, InputModel, OutputModel, UtcDateTime
from fcsbe.model.enums import ReasonCode, TargetLevel

__all__ = [
    "MAX_REASONS",
    "MAX_TARGETS",
    "Currency",
    "EvseId",
    "Money",
    "Percent",
    "Reason",
    "Target",
    "TimeWindow",
]

MAX_TARGETS = 1_000
"""Most targets one FS, check or contract may name."""

MAX_REASONS = 100
"""Most reasons one decision or verdict may carry."""

Currency = Annotated[
    str,
    Field(
        pattern=r"^[A-Z]{3}$",
        description="ISO 4217 alphabetic currency code.",
        examples=["EUR"],
    ),
]
"""ISO 4217 alphabetic currency code, e.g. `EUR`."""

Money = Annotated[
    Decimal,
    Field(max_digits=15, decimal_places=6),
    PlainSerializer(float, return_type=float, when_used="json"),
    WithJsonSchema({"type": "number"}),
]
"""An amount or a price: exact in Python (`Decimal`), a JSON number on the wire (≤ 6 decimals)."""

Percent = Annotated[float, Strict(), Field(ge=0, le=100)]
"""A percentage between 0 and 100 inclusive (a number: `true` is not 100 %, nor `false` 0 %)."""

EvseId = Annotated[
    str,
    Field(
        pattern=r"^[A-Za-z]{2}\*?[A-Za-z0-9]{3}\*?E[A-Za-z0-9][A-Za-z0-9*]{0,30}$",
        description="EVSE id in eMI3 / IDACS form: country, operator, `E`, local id.",
        examples=["NL*ABC*E12345*1"],
    ),
]
"""EVSE id in eMI3 form (`NL*ABC*E12345*1`; the `*` separators are optional)."""


class TimeWindow(InputModel):
    """A half-open time interval [start, end). OpenADR 3 `intervalPeriod`, UFTP period range."""

    start: UtcDateTime = Field(description="First instant of the window (inclusive).")
    end: UtcDateTime = Field(description="End of the window (exclusive); after `start`.")

    @field_validator("end")
    @classmethod
    def _end_after_start(cls, end: datetime, info: ValidationInfo) -> datetime:
        # A field validator (not a model one) so that the error points at `.../end`.
        start = info.data.get("start")
        if isinstance(start, datetime) and end <= start:
            raise PydanticCustomError(
                "window_inverted",
                "window end ({end}) must be after window start ({start})",
                {"end": end.isoformat(), "start": start.isoformat()},
            )
        return end

    @property
    def length_s(self) -> float:
        """Length of the window in seconds."""
        return (self.end - self.start).total_seconds()

    def contains(self, instant: datetime) -> bool:
        """True when `instant` lies in [start, end)."""
        return self.start <= instant < self.end


class Target(InputModel):
    """What an FS, a query or a verdict addresses: a site, a CS, an EVSE or an EV session.

    Session targets use the pseudonymous `session_ref`, never an EV or user identifier.
    Frozen (hashable) so that sets of targets can be compared.
    """

    model_config = InputModel.model_config | ConfigDict(frozen=True)

    level: TargetLevel = Field(description="Level of the addressed object.")
    id: Id = Field(
        description="site_id, cs_id, evse_id (eMI3) or session_ref, according to `level`.",
        examples=["NL*ABC*E12345*1"],
    )


class Reason(OutputModel):
    """A reason code, optionally about one target, with a human-readable detail."""

    code: ReasonCode = Field(description="Machine-readable reason.")
    target: Target | None = Field(
        default=None, description="The target the reason is about; null when it is about the FS."
    )
    detail: str | None = Field(
        default=None, max_length=500, description="Explanation for a human, in English."
    )
