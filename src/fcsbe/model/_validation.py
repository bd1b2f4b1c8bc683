"""Cross-field checks shared by several models (private to `fcsbe.model`).

Each function raises `ValueError` with a message that names the offending field and index, which
pydantic turns into one 422 entry. No I/O, no pydantic models here: plain values in, error out.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence

__all__ = ["check_spans", "check_strictly_increasing", "check_unique"]


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


def check_unique(values: Iterable[Hashable], field: str) -> None:
    """No value may appear twice."""
    seen: set[Hashable] = set()
    for index, value in enumerate(values):
        if value in seen:
            raise ValueError(f"{field}[{index}] duplicates an earlier entry ({value!s})")
        seen.add(value)
