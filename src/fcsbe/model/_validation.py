"""Cross-field checks shared by several models (private to `fcsbe.model`).

Each function raises `ValueError` with a message that names the offending field and index, which
pydantic turns into one 422 entry. No I/O, no pydantic models here: plain values in, error out.

A check run by a *model* validator is reported by pydantic at the model itself (`/body`), not at
the member at fault; `invalid_at` makes an error that carries where it is (an RFC 6901 pointer
relative to the model, in the error's context as `pointer`), which the server appends to the
error's location, so a client is pointed at the member to fix.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence

from pydantic_core import PydanticCustomError

__all__ = ["check_spans", "check_strictly_increasing", "check_unique", "invalid_at"]


def invalid_at(pointer: str, message: str) -> PydanticCustomError:
    """A `value_error` located at `pointer` (relative to the model being validated)."""
    return PydanticCustomError(
        "value_error", message.replace("{", "(").replace("}", ")"), {"pointer": pointer}
    )


def check_spans(spans: Sequence[tuple[float, float]], field: str) -> None:
    """Spans (start, end) must each be non-empty, ordered by start and must not overlap."""
    for index, (start, end) in enumerate(spans):
        if end <= start:
            raise ValueError(f"{field}[{index}] must have a positive duration")
        if index:
            prev_start, prev_end = spans[index - 1]
            if start <= prev_start:
                raise ValueError(
                    f"{field}[{index}] starts at {start:g} s, not after {field}[{index - 1}] "
                    f"({prev_start:g} s): {field} must be ordered by start"
                )
            if start < prev_end:
                raise ValueError(
                    f"{field}[{index}] starts at {start:g} s, before {field}[{index - 1}] "
                    f"ends ({prev_end:g} s): {field} must not overlap"
                )


def check_strictly_increasing(values: Sequence[float], field: str) -> None:
    """Values must be strictly increasing (curve x coordinates, timestamps)."""
    for index in range(1, len(values)):
        if values[index] <= values[index - 1]:
            raise ValueError(
                f"{field}[{index}] ({values[index]:g}) must be greater than "
                f"{field}[{index - 1}] ({values[index - 1]:g}): strictly increasing"
            )


def check_unique(
    values: Iterable[Hashable], field: str, *, from_field_validator: bool = False
) -> None:
    """No value may appear twice.

    The error points at the second occurrence: `/<field>/<index>` for a list member (with the
    rest of a dotted `field` after the index: `commitments.fs_type` gives
    `/commitments/2/fs_type`), relative to the model; `/<index>` when called from a field
    validator (pydantic already locates the error at the field).
    """
    head, _, rest = field.partition(".")
    seen: set[Hashable] = set()
    for index, value in enumerate(values):
        if value in seen:
            where = f"/{index}" if from_field_validator else f"/{head}/{index}"
            if rest:
                where += "/" + rest.replace(".", "/")
            raise invalid_at(where, f"{field}[{index}] duplicates an earlier entry ({value!s})")
        seen.add(value)
