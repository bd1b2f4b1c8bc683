"""The station registry document a CSO imports: sites, charging stations (with their EVSEs) and
EV models, in the same shapes the FO later reads (`Site`, `ChargingStation`).

One document is both the file of `fcsbe admin stations import stations.yaml` and the body of
`POST /admin/v1/stations/import`. The import is all-or-nothing and idempotent; the cross-entry
rules (unknown sites, duplicate ids, V2G power without a bidirectional mode, inconsistent
configuration types) are checked by the server, which names the file, the entry and the field of
every problem. This module describes the document only.
"""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field
from pydantic.config import JsonDict

from fcsbe.model.base import Id, InputModel, OutputModel
from fcsbe.model.credentials import ConformityEvidence
from fcsbe.model.infrastructure import ChargingStation, Site

__all__ = [
    "REGISTRY_FORMAT",
    "EvModel",
    "ImportCounts",
    "RegistryDocument",
    "RegistryImportResult",
]

REGISTRY_FORMAT = "fcsbe-registry/1"
"""Format tag of a registry document; a later, incompatible format gets a new tag."""

_MAX_ENTRIES = 1_000_000
_MAX_W = 1e9

_EV_MODEL: JsonDict = {
    "ev_model_id": "acme-e-van-2025",
    "name": "ACME e-Van 2025",
    "bidirectional": True,
    "onboard_inverter": True,
    "max_charge_power_w": 11000.0,
    "max_discharge_power_w": 11000.0,
    "conformity_evidence": [
        {
            "standard": "EN 50549-1:2019",
            "scope": "EV_MODEL",
            "subject_id": "acme-e-van-2025",
            "certificate_id": "TUV-50549-EV-2025-0042",
            "issuer": "TÜV Rheinland",
            "valid_to": "2030-06-30T23:59:59Z",
        }
    ],
}

_SITE: JsonDict = {
    "site_id": "site-ams-depot-01",
    "name": "Amsterdam depot",
    "configuration_type": 3,
    "location": {"country": "NL", "postal_code": "1033"},
    "grid_connection": {
        "voltage_level": "LV",
        "nominal_voltage_v": 400.0,
        "phases": 3,
        "import_limit_w": 250000.0,
        "export_limit_w": 50000.0,
    },
}
_STATION: JsonDict = {
    "cs_id": "cs-ams-01",
    "site_id": "site-ams-depot-01",
    "vendor": "Alfen",
    "model": "Eve Double Pro",
    "ocpp_version": "OCPP_2_1",
    "configuration_type": 3,
    "evses": [
        {
            "evse_id": "NL*ABC*E12345*1",
            "ocpp_evse_id": 1,
            "current_type": "AC",
            "phases": 3,
            "min_charge_power_w": 4140.0,
            "max_charge_power_w": 22000.0,
            "max_discharge_power_w": 11000.0,
            "energy_transfer_modes": ["AC_three_phase", "AC_BPT", "AC_BPT_DER"],
            "converter_location": "ON_BOARD",
            "connectors": [{"connector_id": 1, "connector_type": "cType2", "max_power_w": 22000.0}],
        }
    ],
}


class EvModel(OutputModel):
    """An EV model as far as flexibility needs it: can it discharge, is its on-board charger a
    bidirectional inverter, and to which grid codes is that inverter certified (UC 1.7).

    A connected EV reports its model (ISO 15118-20 / OCPP 2.1); the server then judges AC V2G and
    droop on the model's evidence, not only on the EVSE's.
    """

    model_config = OutputModel.model_config | ConfigDict(
        json_schema_extra={"examples": [_EV_MODEL]}
    )

    ev_model_id: Id = Field(description="Id of the EV model (as the station reports it).")
    name: str | None = Field(default=None, max_length=200, description="Display name.")
    bidirectional: bool = Field(default=False, description="The battery may be discharged.")
    onboard_inverter: bool = Field(
        default=False, description="The on-board charger is a bidirectional inverter (AC V2G)."
    )
    max_charge_power_w: float | None = Field(
        default=None, ge=0, le=_MAX_W, description="Highest charge power of the EV."
    )
    max_discharge_power_w: float | None = Field(
        default=None, ge=0, le=_MAX_W, description="Highest discharge power of the EV."
    )
    conformity_evidence: list[ConformityEvidence] = Field(
        default_factory=list, description="Certificates of the EV model (scope EV_MODEL)."
    )


class RegistryDocument(InputModel):
    """A station registry file: what a CSO operates, as one document.

    `Site.cs_ids` may be left out: it is derived from `charging_stations`. Unknown fields are
    refused everywhere in the document, also inside the nested shapes.
    """

    model_config = InputModel.model_config | ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "format": REGISTRY_FORMAT,
                    "sites": [_SITE],
                    "charging_stations": [_STATION],
                    "ev_models": [_EV_MODEL],
                }
            ]
        }
    )

    format: Literal["fcsbe-registry/1"] = Field(
        default="fcsbe-registry/1", description="Format tag of the document."
    )
    sites: list[Site] = Field(
        default_factory=list, max_length=_MAX_ENTRIES, description="Sites (new or updated)."
    )
    charging_stations: list[ChargingStation] = Field(
        default_factory=list,
        max_length=_MAX_ENTRIES,
        description="Charging stations with all their EVSEs (a station is replaced as a whole).",
    )
    ev_models: list[EvModel] = Field(
        default_factory=list, max_length=_MAX_ENTRIES, description="EV models (new or updated)."
    )


class ImportCounts(OutputModel):
    """What an import did to one kind of entry."""

    created: int = Field(ge=0, description="Entries that did not exist.")
    updated: int = Field(ge=0, description="Entries that existed and changed.")
    unchanged: int = Field(ge=0, description="Entries identical to what was stored.")
    removed: int = Field(default=0, ge=0, description="EVSEs dropped from a re-imported station.")


class RegistryImportResult(OutputModel):
    """Outcome of a registry import (or of a dry run, which writes nothing)."""

    model_config = OutputModel.model_config | ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "dry_run": False,
                    "changed": True,
                    "sites": {"created": 1, "updated": 0, "unchanged": 0, "removed": 0},
                    "charging_stations": {
                        "created": 2,
                        "updated": 0,
                        "unchanged": 0,
                        "removed": 0,
                    },
                    "evses": {"created": 4, "updated": 0, "unchanged": 0, "removed": 0},
                    "ev_models": {"created": 1, "updated": 0, "unchanged": 0, "removed": 0},
                }
            ]
        }
    )

    dry_run: bool = Field(description="True when nothing was written (validation only).")
    changed: bool = Field(description="False when the registry already matched the document.")
    sites: ImportCounts = Field(description="Sites.")
    charging_stations: ImportCounts = Field(description="Charging stations.")
    evses: ImportCounts = Field(description="EVSEs.")
    ev_models: ImportCounts = Field(description="EV models.")
