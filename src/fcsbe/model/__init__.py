"""The shared information model of the FO <-> FCSBE interface (pydantic v2, no I/O)."""

from fcsbe.model.base import SIGN_CONVENTION, Id, InputModel, OutputModel, UtcDateTime
from fcsbe.model.discovery import ModuleEndpoint, VersionDetails, VersionInfo, VersionList
from fcsbe.model.paging import MAX_PAGE_SIZE, Page
from fcsbe.model.problem import PROBLEM_BASE_URI, FieldError, Problem, problem_type

__all__ = [
    "MAX_PAGE_SIZE",
    "PROBLEM_BASE_URI",
    "SIGN_CONVENTION",
    "FieldError",
    "Id",
    "InputModel",
    "ModuleEndpoint",
    "OutputModel",
    "Page",
    "Problem",
    "UtcDateTime",
    "VersionDetails",
    "VersionInfo",
    "VersionList",
    "problem_type",
]
