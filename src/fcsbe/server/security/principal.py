"""The authenticated caller as every layer sees it: a frozen `Principal` and its `Role`.

Pure on purpose: storage filters every query on party data by the principal, so this module
sits below storage and imports nothing of the server but its errors. Turning a bearer token
into a principal is the request edge's job (`server/api/edge/authentication.py`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from fcsbe.server.errors import Forbidden

__all__ = ["Principal", "Role", "check_scope"]


class Role(StrEnum):
    """What a credential lets its holder be."""

    FO = "FO"
    OPERATOR = "OPERATOR"
    EV_USER = "EV_USER"


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller. `party_id` is the tenant every query is filtered by."""

    party_id: str
    role: Role
    credential_id: str
    enrolment_id: str | None = None
    scopes: frozenset[str] = field(default_factory=frozenset)

    @property
    def is_operator(self) -> bool:
        return self.role is Role.OPERATOR


def check_scope(principal: Principal, scope: str) -> Principal:
    """Refuse (403) an FO whose enrolment does not grant `scope`; other roles pass (their
    role checks are the routes' own)."""
    if principal.role is Role.FO and scope not in principal.scopes:
        raise Forbidden(f"The enrolment does not grant the `{scope}` scope.", slug="scope-missing")
    return principal
