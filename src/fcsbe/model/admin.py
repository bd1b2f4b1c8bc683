"""Messages of the operator side (`/admin/v1`): issuing one-time enrolment tokens.

The CSO/CSP operator hands an aggregator a one-time token out of band (UC 3.1); the aggregator
exchanges it for long-lived credentials at `POST /v1/enrolments`. Contract decisions use
`ContractDecision` (`contract`). This module describes messages only; tokens are made and hashed
by the server.
"""

from __future__ import annotations

from pydantic import ConfigDict, Field, model_validator
from pydantic.config import JsonDict

from fcsbe.model._validation import check_unique
from fcsbe.model.base import Id, InputModel, OutputModel, UtcDateTime
from fcsbe.model.party import FO_SCOPES

__all__ = ["MAX_ENROLMENT_TOKEN_TTL_S", "EnrolmentToken", "EnrolmentTokenRequest"]

MAX_ENROLMENT_TOKEN_TTL_S = 90 * 86_400
"""Longest lifetime of a one-time enrolment token (90 days)."""

_REQUEST: JsonDict = {
    "fo_name": "Flexa Aggregation B.V.",
    "ttl_s": 604800,
    "party_id": "NL-FLX",
    "scopes": None,
}


class EnrolmentTokenRequest(InputModel):
    """Body of `POST /admin/v1/enrolment-tokens`: a one-time token for one aggregator."""

    model_config = InputModel.model_config | ConfigDict(json_schema_extra={"examples": [_REQUEST]})

    fo_name: str = Field(
        min_length=1, max_length=200, description="Who the token is for (for the operator's log)."
    )
    ttl_s: int | None = Field(
        default=None,
        ge=60,
        le=MAX_ENROLMENT_TOKEN_TTL_S,
        description="Lifetime of the token in seconds; null: the server default (7 days).",
    )
    party_id: Id | None = Field(
        default=None,
        description="Bind the token to this FO party id (required to re-enrol a party that was "
        "enrolled before); null: any new party id.",
    )
    scopes: list[str] | None = Field(
        default=None,
        max_length=len(FO_SCOPES),
        description=f"Scopes granted at enrolment, a subset of {', '.join(FO_SCOPES)}; null: all.",
    )

    @model_validator(mode="after")
    def _known_scopes(self) -> EnrolmentTokenRequest:
        if self.scopes is not None:
            check_unique(self.scopes, "scopes")
            unknown = [scope for scope in self.scopes if scope not in FO_SCOPES]
            if unknown:
                raise ValueError(f"unknown scope(s) {unknown}; known: {list(FO_SCOPES)}")
        return self


class EnrolmentToken(OutputModel):
    """A one-time enrolment token as issued: the secret is shown here once and never again."""

    model_config = OutputModel.model_config | ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "token_id": "et_3kZ9QmVt",
                    "token": "fcsbe_et_q1w2e3r4t5y6u7i8o9p0a1s2d3f4g5h6j7k8l9z0",
                    "fo_name": "Flexa Aggregation B.V.",
                    "party_id": "NL-FLX",
                    "scopes": list(FO_SCOPES),
                    "created_at": "2026-01-15T09:00:00Z",
                    "expires_at": "2026-01-22T09:00:00Z",
                }
            ]
        }
    )

    token_id: str = Field(description="Id of the token (for revocation and the event log).")
    token: str = Field(
        min_length=16,
        description="The one-time secret: `Authorization: Bearer <token>` on `POST "
        "/v1/enrolments`. Shown once, stored hashed.",
        json_schema_extra={"x-secret": True},
    )
    fo_name: str = Field(description="Who the token is for.")
    party_id: Id | None = Field(default=None, description="FO party id it is bound to, if any.")
    scopes: list[str] = Field(description="Scopes the enrolment will get.")
    created_at: UtcDateTime = Field(description="When the token was made.")
    expires_at: UtcDateTime = Field(description="After this the token is refused.")
