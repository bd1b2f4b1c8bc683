"""Base classes and shared field types of the wire model.

Every wire model derives from one of two bases so that the input/output policy is stated once:
input models reject unknown fields (a typo must not silently change meaning), output models
ignore them (an older client keeps working when the server adds a field).

Sign convention (stated once for the whole model): active power is **positive for import**
(the EV charges, energy flows from the grid) and **negative for export** (the EV discharges,
V2G). Reactive power is positive when the equipment absorbs reactive power (inductive).

This module must not import anything of fcsbe outside `fcsbe.model` and must do no I/O.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Final

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    WithJsonSchema,
)

__all__ = [
    "SIGN_CONVENTION",
    "Id",
    "InputModel",
    "OutputModel",
    "UtcDateTime",
]

SIGN_CONVENTION: Final = "IMPORT_POSITIVE"
"""Active power is positive for import (charging) and negative for export (discharging)."""


def _require_utc(value: datetime) -> datetime:
    """Reject naive times: a time without an offset is ambiguous across the CSO/FO boundary."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("time must carry a UTC offset (RFC 3339), e.g. 2026-01-01T00:00:00Z")
    try:
        return value.astimezone(UTC)
    except OverflowError as exc:  # 0001-01-01T00:00+01:00 is before year 1 in UTC
        raise ValueError("time is out of range once converted to UTC") from exc


def _not_a_number(value: object) -> object:
    """Refuse numbers: the schema says an RFC 3339 string, and pydantic would otherwise read
    `0` as 1970-01-01 (a request with a wrong type must be a 422, not a silent epoch)."""
    if isinstance(value, int | float):
        raise ValueError("time must be an RFC 3339 string, e.g. 2026-01-01T00:00:00Z")
    return value


def _format_utc(value: datetime) -> str:
    """Serialise as RFC 3339 with a `Z` suffix so both sides compare strings byte for byte."""
    text = value.astimezone(UTC).isoformat()
    return text.replace("+00:00", "Z")


UtcDateTime = Annotated[
    datetime,
    BeforeValidator(_not_a_number),
    AfterValidator(_require_utc),
    PlainSerializer(_format_utc, return_type=str, when_used="json"),
    # One schema for both directions, so OpenAPI does not split models into -Input/-Output.
    WithJsonSchema({"type": "string", "format": "date-time"}),
]
"""An RFC 3339 time, normalised to UTC, written with a `Z` suffix."""

Id = Annotated[
    str,
    Field(
        min_length=1,
        max_length=128,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._:*\-]*$",
        description="Opaque identifier chosen by the creating party (UUID recommended).",
    ),
]
"""Opaque identifier: letters, digits and `. _ : * -`, at most 128 characters."""


class InputModel(BaseModel):
    """A model the server receives: unknown fields are an error."""

    model_config = ConfigDict(
        extra="forbid", populate_by_name=True, validate_default=True, allow_inf_nan=False
    )


class OutputModel(BaseModel):
    """A model the server sends: unknown fields are ignored by older clients."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True, allow_inf_nan=False)
