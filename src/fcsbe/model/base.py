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
from typing import Annotated, Any, Final

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    PlainSerializer,
    WithJsonSchema,
)
from pydantic_core import CoreSchema, PydanticCustomError, core_schema

__all__ = [
    "INT32_MAX",
    "MAX_SAFE_INTEGER",
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


def _not_a_number(value: Any) -> Any:
    """Refuse numbers: pydantic would read them as Unix times, but the published schema says an
    RFC 3339 string, and a client sending `0` has made a mistake, not named 1970."""
    if isinstance(value, int | float):
        raise ValueError(
            "time must be an RFC 3339 string (e.g. 2026-01-01T00:00:00Z), not a number"
        )
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


MAX_SAFE_INTEGER: Final = 2**53 - 1
"""Largest integer on the wire: RFC 8785 canonical JSON (every digest and signature) holds
integers as IEEE 754 doubles, exact only up to 2^53 - 1, and so do JavaScript clients."""

INT32_MAX: Final = 2**31 - 1
"""Largest value of a field stored in a 32-bit database column (revisions, OCPP numbers)."""


def _no_nul(value: str) -> str:
    """Refuse NUL: PostgreSQL text and jsonb cannot hold U+0000, and no field needs it."""
    if "\x00" in value:
        raise PydanticCustomError("string_nul", "must not contain the NUL character (U+0000)")
    return value


def _deep_wire_check(value: Any) -> Any:
    """The checks of `_wire_bounds` on a free-form JSON value (`dict[str, Any]`, `Any`)."""
    kind = type(value)
    if kind is str:
        _no_nul(value)
    elif kind is int and not -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
        raise PydanticCustomError(
            "int_out_of_range", "integers must lie within ±(2^53 - 1): {value}", {"value": value}
        )
    elif kind is dict:
        for key, item in value.items():
            _deep_wire_check(key)
            _deep_wire_check(item)
    elif kind is list or kind is tuple:
        for item in value:
            _deep_wire_check(item)
    return value


def _wire_bounds(node: Any) -> Any:
    """Bound every integer of a core schema to ±(2^53 - 1) (tighter bounds stay) and refuse
    NUL in every string, free-form values included.

    Applied by the model bases to the whole schema of each model, so no field can be added
    without these limits: an integer the canonical JSON of the event log cannot hold used to be
    accepted, applied and then fail to be recorded. The bounds show in the JSON Schema.
    """
    if isinstance(node, list):
        return [_wire_bounds(item) for item in node]
    if not isinstance(node, dict):
        return node
    for key, child in list(node.items()):
        if key not in ("metadata", "serialization") and isinstance(child, dict | list):
            node[key] = _wire_bounds(child)
    kind = node.get("type")
    if kind == "int":
        upper, below = node.get("le"), node.get("lt")
        if (upper is None or upper > MAX_SAFE_INTEGER) and (
            below is None or below > MAX_SAFE_INTEGER + 1
        ):
            node.pop("lt", None)
            node["le"] = MAX_SAFE_INTEGER
        lower, above = node.get("ge"), node.get("gt")
        if (lower is None or lower < -MAX_SAFE_INTEGER) and (
            above is None or above < -MAX_SAFE_INTEGER - 1
        ):
            node.pop("gt", None)
            node["ge"] = -MAX_SAFE_INTEGER
    elif kind == "str" and not node.get("metadata", {}).get("fcsbe_no_nul"):
        node.setdefault("metadata", {})["fcsbe_no_nul"] = True
        return core_schema.no_info_after_validator_function(_no_nul, node)
    elif kind == "any" and not node.get("metadata", {}).get("fcsbe_no_nul"):
        node.setdefault("metadata", {})["fcsbe_no_nul"] = True
        return core_schema.no_info_after_validator_function(_deep_wire_check, node)
    return node


class _WireModel(BaseModel):
    """What every wire model, either way, may hold (see `_wire_bounds`)."""

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: type[BaseModel], handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        schema: CoreSchema = _wire_bounds(handler(source))
        return schema


class InputModel(_WireModel):
    """A model the server receives: unknown fields are an error."""

    model_config = ConfigDict(
        extra="forbid", populate_by_name=True, validate_default=True, allow_inf_nan=False
    )


class OutputModel(_WireModel):
    """A model the server sends: unknown fields are ignored by older clients."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True, allow_inf_nan=False)
