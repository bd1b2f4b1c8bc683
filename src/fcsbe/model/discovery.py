"""Version and module discovery: `GET /versions` and `GET /v1` (OCPI-style).

An FO that knows only the server's base URL learns from these which interface versions exist,
where each module lives and which keys the server signs with, before it enrols. This module must
not build URLs: the server fills them from its settings.
"""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field

from fcsbe.model.base import OutputModel

__all__ = ["ModuleEndpoint", "VersionDetails", "VersionInfo", "VersionList"]


class VersionInfo(OutputModel):
    """One supported interface version and where it lives."""

    version: str = Field(description="Interface version, e.g. `1`.", examples=["1"])
    url: str = Field(description="Base URL of that version's version-details document.")


class VersionList(OutputModel):
    """Every interface version this server speaks."""

    model_config = OutputModel.model_config | ConfigDict(
        json_schema_extra={
            "examples": [{"versions": [{"version": "1", "url": "https://cso.example/v1"}]}]
        }
    )

    versions: list[VersionInfo] = Field(description="Supported versions, newest first.")


class ModuleEndpoint(OutputModel):
    """One module (group of endpoints) of a version."""

    module: str = Field(description="Module name, e.g. `flexibility-services`.")
    url: str = Field(description="Base URL of the module.")


class VersionDetails(OutputModel):
    """Version details: modules, the server's party and its public signing keys."""

    model_config = OutputModel.model_config | ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "version": "1",
                    "server_party_id": "NL-ABC",
                    "modules": [
                        {"module": "enrolments", "url": "https://cso.example/v1/enrolments"}
                    ],
                    "jwks": {
                        "keys": [
                            {
                                "kty": "OKP",
                                "crv": "Ed25519",
                                "x": "CZH7YWqpeIpW07rizvGPa9C-pVf0bhc0_p04V6GvWpQ",
                                "kid": "cso-2026-01",
                                "alg": "Ed25519",
                                "use": "sig",
                            }
                        ]
                    },
                    "webhook_public_key": "whpk_CZH7YWqpeIpW07rizvGPa9C+pVf0bhc0/p04V6GvWpQ=",
                    "record_delay_s": 30.0,
                }
            ]
        }
    )

    version: str = Field(description="This version.")
    server_party_id: str | None = Field(
        default=None,
        description="Party id of the CSO/CSP behind this FCSBE; null until the operator has "
        "initialised its party.",
    )
    modules: list[ModuleEndpoint] = Field(description="Modules of this version.")
    jwks: dict[str, Any] = Field(
        description='JSON Web Key Set (RFC 7517) of the server\'s public signing keys; `{"keys": '
        "[]}` until keys exist."
    )
    webhook_public_key: str | None = Field(
        default=None,
        description="The key that verifies `v1a` (Ed25519) webhook signatures: `whpk_` + base64 "
        "of the server's active Ed25519 public key (also in `jwks`).",
    )
    record_delay_s: float | None = Field(
        default=None,
        ge=0,
        description="Seconds the server waits after an FS has ended for late meter readings "
        "before it makes the detailed service record (the FS becomes RECORDED); until then "
        "`GET .../record` answers 404 `record-not-available`. Null: not announced.",
        examples=[30.0],
    )
