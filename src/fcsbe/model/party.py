"""Parties, enrolment, credential rotation and heartbeat (UC 3.1).

Enrolment is the OCPI-style credentials exchange: the FO presents a one-time token with its party,
callback URL and signing key, and receives the CSO/CSP party, its keys and a long-lived access
token. This module describes the messages only; tokens are generated, hashed and checked in
`fcsbe.server.security`, never here.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, ConfigDict, Field, HttpUrl, ValidationError, model_validator
from pydantic.config import JsonDict

from fcsbe.model.base import Id, InputModel, OutputModel, UtcDateTime
from fcsbe.model.crypto import JsonWebKeySet, Jwk
from fcsbe.model.enums import EnrolmentStatus, FallbackPolicy, PartyRole

__all__ = [
    "FO_SCOPES",
    "CallbackUrl",
    "CredentialsRotation",
    "Enrolment",
    "EnrolmentRequest",
    "EnrolmentResult",
    "EnrolmentUpdate",
    "HeartbeatRequest",
    "HeartbeatResponse",
    "Party",
    "PartyIdentifiers",
]

FO_SCOPES = (
    "contracts",
    "credential-checks",
    "contract-holders",
    "infrastructure",
    "sessions",
    "flexibility-services",
    "notifications",
    "records",
)
"""API scopes an enrolment can grant, one per group of FO routes (all of them by default)."""


def _check_url(value: str) -> str:
    """Validate as an http(s) URL but keep the caller's string (only a trailing `/` is cut)."""
    try:
        HttpUrl(value)
    except ValidationError as exc:
        raise ValueError(f"not an absolute http(s) URL: {value!r}") from exc
    return value.rstrip("/")


CallbackUrl = Annotated[
    str,
    Field(max_length=2_048, examples=["https://fo.example.com/fcsbe"]),
    AfterValidator(_check_url),
]
"""An absolute http(s) URL kept as a string, without a trailing slash."""

_ED25519_JWK: JsonDict = {
    "kty": "OKP",
    "crv": "Ed25519",
    "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
    "kid": "fo-2026-01",
    "alg": "Ed25519",
    "use": "sig",
}
_CSO_JWK: JsonDict = {
    "kty": "OKP",
    "crv": "Ed25519",
    "x": "CZH7YWqpeIpW07rizvGPa9C-pVf0bhc0_p04V6GvWpQ",
    "kid": "cso-2026-01",
    "alg": "Ed25519",
    "use": "sig",
}
_FO_PARTY: JsonDict = {
    "party_id": "NL-FLX",
    "roles": ["FO"],
    "legal_name": "Flexa Aggregation B.V.",
    "country": "NL",
    "identifiers": {"eic": "38X-FLEXA-AGG--7", "vat": "NL123456789B01"},
    "jwks": {"keys": [_ED25519_JWK]},
}
_CSO_PARTY: JsonDict = {
    "party_id": "NL-ABC",
    "roles": ["CSO"],
    "legal_name": "ABC Charging N.V.",
    "country": "NL",
    "identifiers": {"ocpi_party_id": "NL*ABC", "vat": "NL987654321B01"},
    "jwks": {"keys": [_CSO_JWK]},
}
_ENROLMENT: JsonDict = {
    "enrolment_id": "7d3e1b52-4c8a-4f6e-b0d9-2a1c5e8f9b34",
    "fo_party_id": "NL-FLX",
    "status": "ACTIVE",
    "scopes": ["contracts", "flexibility-services", "records"],
    "callback_base_url": "https://fo.example.com/fcsbe",
    "heartbeat_interval_s": 60,
    "offline_timeout_s": 300,
    "fallback_policy": "REVERT_UNMANAGED",
    "signing_key": _ED25519_JWK,
    "created_at": "2026-01-15T09:30:00Z",
    "rotated_at": None,
    "last_heartbeat_at": "2026-03-02T17:00:00Z",
    "offline_since": None,
    "revoked_at": None,
}


class PartyIdentifiers(InputModel):
    """Registry identifiers of a party; all optional, at least the ones the market uses."""

    eic: str | None = Field(
        default=None, pattern=r"^[0-9]{2}[A-Z0-9\-]{13}[A-Z0-9]$", description="ENTSO-E EIC code."
    )
    vat: str | None = Field(default=None, max_length=20, description="EU VAT number.")
    ocpi_party_id: str | None = Field(
        default=None,
        pattern=r"^[A-Z]{2}\*?[A-Z0-9]{3}$",
        description="OCPI country code + party id (eMI3 operator id), e.g. `NL*ABC`.",
    )


class Party(InputModel):
    """A legal party at the interface: FO, CSO, CSP, energy community, fleet operator.

    Peer: OCPI `CredentialsRole` (party id, role, business details). The JWK set holds the public
    keys its JWS signatures (FS requests, responses, DSR, PoW) are verified with.
    """

    model_config = InputModel.model_config | ConfigDict(json_schema_extra={"examples": [_FO_PARTY]})

    party_id: Id = Field(description="Stable id of the party, chosen by the party.")
    roles: list[PartyRole] = Field(min_length=1, max_length=7, description="Roles it plays.")
    legal_name: str = Field(min_length=1, max_length=200, description="Registered legal name.")
    country: str = Field(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2 country.")
    identifiers: PartyIdentifiers = Field(
        default_factory=PartyIdentifiers, description="Registry identifiers."
    )
    jwks: JsonWebKeySet | None = Field(
        default=None, description="Public signing keys (RFC 7517 JWK set)."
    )

    @model_validator(mode="after")
    def _roles_unique(self) -> Party:
        if len(set(self.roles)) != len(self.roles):
            raise ValueError("roles must not repeat")
        return self


class EnrolmentRequest(InputModel):
    """Body of `POST /v1/enrolments`, sent with the one-time enrolment token (UC 3.1)."""

    model_config = InputModel.model_config | ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "party": _FO_PARTY,
                    "callback_base_url": "https://fo.example.com/fcsbe",
                    "signing_key": _ED25519_JWK,
                }
            ]
        }
    )

    party: Party = Field(description="The FO's party.")
    callback_base_url: CallbackUrl = Field(
        description="Base URL of the FO's webhook receiver (`{base}/notifications`)."
    )
    signing_key: Jwk = Field(
        description="Public JWK the FO signs with (Ed25519, with `kid`); added to its key set."
    )
    webhook_secret: str | None = Field(
        default=None,
        min_length=24,
        max_length=256,
        description="Optional shared secret for HMAC webhook signatures instead of Ed25519.",
        json_schema_extra={"x-secret": True, "writeOnly": True},
    )

    @model_validator(mode="after")
    def _key_has_kid(self) -> EnrolmentRequest:
        if not self.signing_key.get("kid"):
            raise ValueError("signing_key must carry a `kid`: signatures name their key by it")
        return self


class Enrolment(OutputModel):
    """The FO <-> CSO/CSP link created by enrolment, as `GET /v1/enrolments/self` shows it."""

    model_config = OutputModel.model_config | ConfigDict(
        json_schema_extra={"examples": [_ENROLMENT]}
    )

    enrolment_id: Id = Field(description="Id of the enrolment.")
    fo_party_id: Id = Field(description="The enrolled FO.")
    status: EnrolmentStatus = Field(description="State of the link.")
    scopes: list[str] = Field(default_factory=list, description="Granted API scopes.")
    callback_base_url: CallbackUrl | None = Field(
        default=None, description="Where notifications are pushed; null: feed only."
    )
    heartbeat_interval_s: int = Field(ge=1, description="Expected heartbeat period.")
    offline_timeout_s: int = Field(ge=1, description="Silence after which the fallback applies.")
    fallback_policy: FallbackPolicy = Field(description="Default fallback when the FO is offline.")
    signing_key: Jwk | None = Field(
        default=None, description="The FO's current public signing key (verifies its requests)."
    )
    created_at: UtcDateTime = Field(description="When the enrolment was made.")
    rotated_at: UtcDateTime | None = Field(
        default=None, description="Last credentials rotation; null if never."
    )
    last_heartbeat_at: UtcDateTime | None = Field(
        default=None, description="Last heartbeat received; null if none yet."
    )
    offline_since: UtcDateTime | None = Field(
        default=None, description="When the FO was declared offline; null while it is online."
    )
    revoked_at: UtcDateTime | None = Field(
        default=None, description="When the enrolment was revoked; null while it is not."
    )


class EnrolmentUpdate(InputModel):
    """Body of `PATCH /v1/enrolments/self`: move the callback URL or rotate the signing key.

    A new signing key replaces the current one at once; the previous key keeps verifying for the
    server's overlap window, so requests signed just before the switch still pass.
    """

    model_config = InputModel.model_config | ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "callback_base_url": "https://fo.example.com/fcsbe/v2",
                    "signing_key": {**_ED25519_JWK, "kid": "fo-2026-07"},
                }
            ]
        }
    )

    callback_base_url: CallbackUrl | None = Field(
        default=None, description="New base URL of the FO's webhook receiver; null: unchanged."
    )
    signing_key: Jwk | None = Field(
        default=None, description="New public signing key (Ed25519, with `kid`); null: unchanged."
    )

    @model_validator(mode="after")
    def _something_changes(self) -> EnrolmentUpdate:
        if self.callback_base_url is None and self.signing_key is None:
            raise ValueError("give callback_base_url, signing_key or both")
        if self.signing_key is not None and not self.signing_key.get("kid"):
            raise ValueError("signing_key must carry a `kid`: signatures name their key by it")
        return self


class EnrolmentResult(OutputModel):
    """Answer to an enrolment: the link, the long-lived token and the server's party and keys."""

    model_config = OutputModel.model_config | ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "enrolment": _ENROLMENT,
                    "access_token": "fcsbe_at_6QxkR3mN9pLwT2vY8bZc4dFh7jKs1aGe",
                    "token_expires_at": "2027-01-15T09:30:00Z",
                    "server_party": _CSO_PARTY,
                }
            ]
        }
    )

    enrolment: Enrolment = Field(description="The enrolment created.")
    access_token: str = Field(
        min_length=16,
        description="Bearer token for all further calls; shown once, stored hashed.",
        json_schema_extra={"x-secret": True},
    )
    token_expires_at: UtcDateTime | None = Field(
        default=None,
        description="When the token expires (the CSO sets the lifetime, 90 days by default); "
        "rotate it before then (`PUT /v1/enrolments/self/credentials`, announced by "
        "`CREDENTIAL_EXPIRING`). Null: until rotated or revoked.",
    )
    server_party: Party = Field(description="The CSO/CSP party and its signing keys.")


class CredentialsRotation(OutputModel):
    """Answer to `PUT /v1/enrolments/self/credentials`: a new token and the overlap window."""

    model_config = OutputModel.model_config | ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "access_token": "fcsbe_at_Zr8Yt5Uq2Wn7Pm3Lk9Jh4Gf6Ds1Ae0Cx",
                    "token_expires_at": "2027-06-01T08:00:00Z",
                    "previous_token_valid_until": "2026-06-02T08:00:00Z",
                }
            ]
        }
    )

    access_token: str = Field(
        min_length=16, description="The new bearer token.", json_schema_extra={"x-secret": True}
    )
    token_expires_at: UtcDateTime | None = Field(
        default=None, description="When the new token expires; null: until rotated or revoked."
    )
    previous_token_valid_until: UtcDateTime = Field(
        description="The old token keeps working until then (overlap window)."
    )


class HeartbeatRequest(InputModel):
    """Body of `POST /v1/heartbeat`: the FO is alive (OCPP `Heartbeat` at the FO interface)."""

    model_config = InputModel.model_config | ConfigDict(
        json_schema_extra={"examples": [{"sent_at": "2026-03-02T17:00:00Z"}]}
    )

    sent_at: UtcDateTime = Field(description="FO's clock when sending (for skew detection).")


class HeartbeatResponse(OutputModel):
    """Answer to a heartbeat: the server is alive, its clock, and the agreed timing."""

    model_config = OutputModel.model_config | ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "server_time": "2026-03-02T17:00:00.120000Z",
                    "heartbeat_interval_s": 60,
                    "offline_timeout_s": 300,
                    "next_heartbeat_at": "2026-03-02T17:01:00.120000Z",
                }
            ]
        }
    )

    server_time: UtcDateTime = Field(description="Server clock on receipt.")
    heartbeat_interval_s: int = Field(ge=1, description="Send the next heartbeat within this.")
    offline_timeout_s: int = Field(ge=1, description="Silence after which the fallback applies.")
    next_heartbeat_at: UtcDateTime = Field(
        description="When the next heartbeat is expected (server time + interval)."
    )
