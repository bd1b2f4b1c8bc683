"""RFC 9457 problem details, shared so that the client decodes exactly what the server sends."""

from __future__ import annotations

from pydantic import Field

from fcsbe.model.base import OutputModel

__all__ = ["PROBLEM_BASE_URI", "FieldError", "Problem", "problem_type"]

PROBLEM_BASE_URI = "https://fcsbe.org/problems/"
"""Every problem `type` is this base followed by a stable slug, e.g. `.../validation-error`."""


def problem_type(slug: str) -> str:
    """Return the stable type URI of a problem kind; the slug is the part clients switch on."""
    return PROBLEM_BASE_URI + slug


class FieldError(OutputModel):
    """One invalid field of a request, located by a JSON pointer (RFC 6901)."""

    pointer: str = Field(
        description="JSON pointer to the bad value: `/body/window/end`, `/query/limit`, "
        "`/header/idempotency-key`.",
        examples=["/body/window/end"],
    )
    detail: str = Field(description="Why the value was refused, for a human.")
    code: str = Field(description="Machine-readable error kind (pydantic error type).")


class Problem(OutputModel):
    """RFC 9457 problem details (`application/problem+json`)."""

    type: str = Field(
        default="about:blank",
        description="Stable URI of the error kind; clients switch on it.",
        examples=[problem_type("validation-error")],
    )
    title: str = Field(description="Short summary of the error kind.")
    status: int = Field(ge=100, le=599, description="HTTP status code of this response.")
    detail: str | None = Field(default=None, description="Explanation of this occurrence.")
    instance: str | None = Field(
        default=None,
        description="The request id (`urn:request:<id>`), also written to the server logs.",
    )
    errors: list[FieldError] | None = Field(
        default=None, description="For validation errors: every bad field."
    )

    @property
    def slug(self) -> str:
        """The part of `type` after the problem base URI (`validation-error`, ...)."""
        return self.type.removeprefix(PROBLEM_BASE_URI)
