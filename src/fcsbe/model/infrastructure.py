"""Sites, charging stations, EVSEs, connectors and meters: the CS configuration part of the
interface (data item 3; configurations 1-5 of IEC 63382-1 clause 4.2).

These are what the FO reads (`GET /v1/sites`, `GET /v1/charging-stations`); they are output models
(unknown fields ignored), only shown for objects in the caller's contracts. Limits are magnitudes
(>= 0) with the direction in the name. This module must not describe live state (sessions,
availability): see `sessions` and `capabilities`.
"""

from __future__ import annotations

from pydantic import ConfigDict, Field, field_validator, model_validator
from pydantic.config import JsonDict

from fcsbe.model.base import INT32_MAX, Id, OutputModel
from fcsbe.model.common import EvseId
from fcsbe.model.credentials import ConformityEvidence
from fcsbe.model.grid_enums import (
    ConfigurationType,
    ConverterLocation,
    CurrentType,
    DerType,
    EnergyTransferMode,
    GridFunction,
    GridState,
    OcppVersion,
    VoltageLevel,
)

__all__ = [
    "ChargingStation",
    "Connector",
    "Evse",
    "EvseDynamics",
    "GridConnection",
    "Location",
    "Meter",
    "ReactiveCapability",
    "Site",
    "SiteDer",
]

_MAX_W = 1e9
_COORDINATE_DECIMALS = 2
"""Coordinates are kept to 0.01 degree (about 1 km): enough to place a site in its grid area,
too coarse to point at one home (data minimisation, GDPR Art. 5(1)(c))."""


class Location(OutputModel):
    """Where a site is, coarsely. Exact coordinates of a home site are personal data (GDPR), so
    they are rounded to about 1 km when the registry is read and never kept or shown exactly."""

    country: str = Field(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2 country.")
    postal_code: str | None = Field(default=None, max_length=16, description="Postal code.")
    latitude: float | None = Field(
        default=None, ge=-90, le=90, description="WGS 84 latitude, rounded to 0.01 degree."
    )
    longitude: float | None = Field(
        default=None, ge=-180, le=180, description="WGS 84 longitude, rounded to 0.01 degree."
    )

    @field_validator("latitude", "longitude")
    @classmethod
    def _coarse(cls, value: float | None) -> float | None:
        return None if value is None else round(value, _COORDINATE_DECIMALS)


class GridConnection(OutputModel):
    """The site's point of connection: who the DSO is and what it may draw or feed in."""

    metering_point_id: str | None = Field(
        default=None, max_length=64, description="Metering point (EAN / MeLo id)."
    )
    dso: str | None = Field(default=None, max_length=64, description="DSO name or EIC.")
    grid_node: str | None = Field(
        default=None, max_length=128, description="Grid node / congestion point it belongs to."
    )
    voltage_level: VoltageLevel = Field(description="Voltage level of the connection.")
    nominal_voltage_v: float = Field(gt=0, le=1e6, description="Nominal line-to-line voltage.")
    phases: int = Field(ge=1, le=3, description="Number of phases.")
    import_limit_w: float = Field(ge=0, le=_MAX_W, description="Contracted import limit.")
    export_limit_w: float = Field(ge=0, le=_MAX_W, description="Allowed export (0: none).")
    apparent_limit_va: float | None = Field(
        default=None, ge=0, le=_MAX_W, description="Apparent-power limit, if any."
    )


class SiteDer(OutputModel):
    """A non-EV DER behind the site's connection (PV, stationary storage; EVSS, UC 1.5)."""

    der_id: Id = Field(description="Id of the DER.")
    der_type: DerType = Field(description="Kind of DER.")
    rated_power_w: float = Field(ge=0, le=_MAX_W, description="Rated active power.")
    capacity_wh: float | None = Field(
        default=None, ge=0, le=1e12, description="Usable storage capacity (storage only)."
    )
    controllable: bool = Field(default=False, description="The FCSBE can steer it.")


class Site(OutputModel):
    """A site: one grid connection with its charging stations and other DERs."""

    model_config = OutputModel.model_config | ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "site_id": "site-ams-depot-01",
                    "name": "Amsterdam bus depot",
                    "configuration_type": 2,
                    "location": {"country": "NL", "postal_code": "1033"},
                    "grid_connection": {
                        "metering_point_id": "871687120000000123",
                        "dso": "Liander",
                        "grid_node": "871687120000000123",
                        "voltage_level": "MV",
                        "nominal_voltage_v": 10000.0,
                        "phases": 3,
                        "import_limit_w": 1500000.0,
                        "export_limit_w": 500000.0,
                        "apparent_limit_va": 1600000.0,
                    },
                    "ders": [
                        {
                            "der_id": "pv-roof-1",
                            "der_type": "PV",
                            "rated_power_w": 250000.0,
                            "controllable": False,
                        }
                    ],
                    "energy_community_id": None,
                    "grid_state": "ON_GRID",
                    "cs_ids": ["cs-ams-01", "cs-ams-02"],
                }
            ]
        }
    )

    site_id: Id = Field(description="Id of the site.")
    name: str | None = Field(default=None, max_length=200, description="Display name.")
    configuration_type: ConfigurationType = Field(description="EVCS configuration 1-5.")
    location: Location = Field(description="Where the site is.")
    grid_connection: GridConnection = Field(description="Point of connection.")
    ders: list[SiteDer] = Field(default_factory=list, description="Other DERs on the site.")
    energy_community_id: Id | None = Field(default=None, description="Energy community, if any.")
    grid_state: GridState = Field(default=GridState.ON_GRID, description="On-grid or islanded.")
    cs_ids: list[Id] = Field(default_factory=list, description="Charging stations on the site.")


class Meter(OutputModel):
    """An energy meter, with whether its readings are legally certified and signed (OCMF)."""

    meter_id: Id = Field(description="Id of the meter.")
    serial_number: str = Field(min_length=1, max_length=64, description="Manufacturer serial.")
    certified: bool = Field(description="Certified for billing (MID / Eichrecht).")
    signed_values: bool = Field(description="Readings are signed (e.g. OCMF).")
    accuracy_class: str | None = Field(default=None, max_length=8, description="E.g. `B`.")


class Connector(OutputModel):
    """A connector of an EVSE (OCPP 2.x connector)."""

    connector_id: int = Field(
        ge=1, le=INT32_MAX, description="Connector number within the EVSE (OCPP)."
    )
    connector_type: str = Field(
        min_length=1, max_length=32, description="OCPP `ConnectorEnumType`, e.g. `cCCS2`."
    )
    max_power_w: float = Field(ge=0, le=_MAX_W, description="Maximum power of the connector.")


class ReactiveCapability(OutputModel):
    """Reactive power the converter can absorb or inject (magnitudes)."""

    max_absorb_var: float = Field(ge=0, le=_MAX_W, description="Inductive (absorb) limit.")
    max_inject_var: float = Field(ge=0, le=_MAX_W, description="Capacitive (inject) limit.")


class EvseDynamics(OutputModel):
    """How fast an EVSE follows a change, as measured at its meter (the station's data sheet or
    commissioning test): what the capabilities answer and the FS decision rely on."""

    response_time_s: float = Field(
        ge=0, le=600, description="From a change of setpoint to 90 % of it (latency + rise)."
    )
    response_latency_s: float = Field(
        default=0.0, ge=0, le=600, description="Dead time before the power starts to move."
    )
    ramp_rate_w_per_s: float | None = Field(
        default=None, gt=0, le=1e10, description="Largest power change per second; null: none."
    )
    setpoint_resolution_w: float | None = Field(
        default=None, gt=0, le=_MAX_W, description="Smallest setpoint step honoured."
    )


class Evse(OutputModel):
    """An EVSE: power ratings, topology and energy transfer modes (OCPP 2.1 EVSE + ISO 15118-20).

    `max_discharge_power_w` = 0 means no V2G. With an ON_BOARD converter (AC), the EV's inverter is
    the DER and its own conformity must be checked (UC 1.7).
    """

    evse_id: EvseId = Field(description="eMI3 EVSE id.")
    ocpp_evse_id: int = Field(ge=1, le=INT32_MAX, description="EVSE number within the CS (OCPP).")
    current_type: CurrentType = Field(description="AC or DC at the connector.")
    phases: int | None = Field(default=None, ge=1, le=3, description="AC phases; null for DC.")
    min_charge_power_w: float = Field(ge=0, le=_MAX_W, description="Lowest charge power.")
    max_charge_power_w: float = Field(ge=0, le=_MAX_W, description="Highest charge power.")
    max_discharge_power_w: float = Field(
        default=0, ge=0, le=_MAX_W, description="Highest discharge power; 0 = no V2G."
    )
    max_apparent_power_va: float | None = Field(
        default=None, ge=0, le=_MAX_W, description="Apparent-power rating."
    )
    reactive: ReactiveCapability | None = Field(
        default=None, description="Reactive capability; null: none."
    )
    energy_transfer_modes: list[EnergyTransferMode] = Field(
        min_length=1, description="Supported modes (OCPP 2.1 names)."
    )
    converter_location: ConverterLocation = Field(description="Where the converter is.")
    meter: Meter | None = Field(default=None, description="The EVSE's meter.")
    connectors: list[Connector] = Field(min_length=1, description="Connectors of the EVSE.")
    dynamics: EvseDynamics | None = Field(
        default=None, description="Response time, ramp and resolution; null: not known."
    )
    mandatory_grid_functions: list[GridFunction] = Field(
        default_factory=list,
        description="Grid-code functions active in the converter's firmware (not FS).",
    )

    @model_validator(mode="after")
    def _check(self) -> Evse:
        if self.min_charge_power_w > self.max_charge_power_w:
            raise ValueError("min_charge_power_w must not exceed max_charge_power_w")
        return self


_EVSE: JsonDict = {
    "evse_id": "NL*ABC*E12345*1",
    "ocpp_evse_id": 1,
    "current_type": "DC",
    "min_charge_power_w": 5000.0,
    "max_charge_power_w": 150000.0,
    "max_discharge_power_w": 50000.0,
    "max_apparent_power_va": 160000.0,
    "reactive": {"max_absorb_var": 60000.0, "max_inject_var": 60000.0},
    "energy_transfer_modes": ["DC", "DC_BPT"],
    "converter_location": "OFF_BOARD",
    "meter": {
        "meter_id": "m-cs-ams-01-1",
        "serial_number": "EMH-1ESY2160012345",
        "certified": True,
        "signed_values": True,
        "accuracy_class": "B",
    },
    "connectors": [{"connector_id": 1, "connector_type": "cCCS2", "max_power_w": 150000.0}],
}


class ChargingStation(OutputModel):
    """A charging station with its EVSEs and conformity evidence."""

    model_config = OutputModel.model_config | ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "cs_id": "cs-ams-01",
                    "site_id": "site-ams-depot-01",
                    "vendor": "Alpitronic",
                    "model": "HYC150",
                    "firmware_version": "2.4.1",
                    "ocpp_version": "OCPP_2_1",
                    "configuration_type": 2,
                    "evses": [_EVSE],
                    "conformity_evidence": [
                        {
                            "standard": "EN 50549-1:2019",
                            "scope": "CS",
                            "subject_id": "cs-ams-01",
                            "certificate_id": "DEKRA-50549-2025-00417",
                            "issuer": "DEKRA Certification B.V.",
                            "valid_to": "2029-12-31T23:59:59Z",
                        }
                    ],
                }
            ]
        }
    )

    cs_id: Id = Field(description="Id of the charging station (OCPP identity).")
    site_id: Id = Field(description="Site it stands on.")
    vendor: str = Field(
        max_length=50, description="Vendor (OCPP `ChargingStationType.vendorName`)."
    )
    model: str = Field(max_length=50, description="Model (OCPP `ChargingStationType.model`).")
    firmware_version: str | None = Field(default=None, max_length=50, description="Firmware.")
    ocpp_version: OcppVersion = Field(description="OCPP version spoken to the CSBE.")
    configuration_type: ConfigurationType = Field(description="EVCS configuration 1-5.")
    evses: list[Evse] = Field(min_length=1, description="EVSEs of the station.")
    conformity_evidence: list[ConformityEvidence] = Field(
        default_factory=list, description="Grid-code and standard certificates."
    )
