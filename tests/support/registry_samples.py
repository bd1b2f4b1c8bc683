"""Registry documents for tests: a small, valid fleet to copy and break.

`sample_document()` is a depot (configuration 3, two AC stations of two V2G EVSEs), a car park
(configuration 2, one DC station of two EVSEs, one of them V2G) and a home wallbox (configuration
4), plus two EV models; every call returns a fresh deep copy.
"""

from __future__ import annotations

import copy
from typing import Any

__all__ = ["ac_evse", "dc_evse", "import_document", "sample_document", "site", "station"]


def site(site_id: str, kind: int, *, import_w: float = 250_000.0, **extra: Any) -> dict[str, Any]:
    return {
        "site_id": site_id,
        "name": f"Site {site_id}",
        "configuration_type": kind,
        "location": {"country": "NL", "postal_code": "1033"},
        "grid_connection": {
            "voltage_level": "LV",
            "nominal_voltage_v": 400.0,
            "phases": 3,
            "import_limit_w": import_w,
            "export_limit_w": 50_000.0,
            "grid_node": "NODE-1",
        },
        **extra,
    }


def ac_evse(evse_id: str, number: int, *, v2g: bool = True) -> dict[str, Any]:
    modes = ["AC_three_phase", "AC_BPT", "AC_BPT_DER"] if v2g else ["AC_three_phase"]
    return {
        "evse_id": evse_id,
        "ocpp_evse_id": number,
        "current_type": "AC",
        "phases": 3,
        "min_charge_power_w": 4140.0,
        "max_charge_power_w": 22000.0,
        "max_discharge_power_w": 11000.0 if v2g else 0.0,
        "energy_transfer_modes": modes,
        "converter_location": "ON_BOARD",
        "meter": {
            "meter_id": f"m-{evse_id}",
            "serial_number": f"SN-{number:04d}",
            "certified": True,
            "signed_values": True,
        },
        "connectors": [{"connector_id": 1, "connector_type": "cType2", "max_power_w": 22000.0}],
    }


def dc_evse(evse_id: str, number: int, *, v2g: bool = False) -> dict[str, Any]:
    return {
        "evse_id": evse_id,
        "ocpp_evse_id": number,
        "current_type": "DC",
        "min_charge_power_w": 5000.0,
        "max_charge_power_w": 150000.0,
        "max_discharge_power_w": 50000.0 if v2g else 0.0,
        "energy_transfer_modes": ["DC", "DC_BPT"] if v2g else ["DC"],
        "converter_location": "OFF_BOARD",
        "reactive": {"max_absorb_var": 60000.0, "max_inject_var": 60000.0},
        "connectors": [{"connector_id": 1, "connector_type": "cCCS2", "max_power_w": 150000.0}],
    }


def station(
    cs_id: str, site_id: str, kind: int, evses: list[dict[str, Any]], **extra: Any
) -> dict[str, Any]:
    return {
        "cs_id": cs_id,
        "site_id": site_id,
        "vendor": "Alpitronic" if kind in (1, 2, 5) else "Alfen",
        "model": "HYC150" if kind in (1, 2, 5) else "Eve Double Pro",
        "firmware_version": "2.4.1",
        "ocpp_version": "OCPP_2_1",
        "configuration_type": kind,
        "evses": evses,
        **extra,
    }


_GRID_CODE = {
    "standard": "EN 50549-1:2019",
    "certificate_id": "DEKRA-50549-2025-00417",
    "issuer": "DEKRA Certification B.V.",
    "valid_to": "2035-12-31T23:59:59Z",
}

_DOCUMENT: dict[str, Any] = {
    "format": "fcsbe-registry/1",
    "sites": [
        site("site-depot", 3),
        site("site-park", 2),
        site("site-home", 4, import_w=17_250.0),
    ],
    "charging_stations": [
        station(
            "cs-depot-1",
            "site-depot",
            3,
            [ac_evse("NL*ABC*E1001*1", 1), ac_evse("NL*ABC*E1001*2", 2)],
        ),
        station(
            "cs-depot-2",
            "site-depot",
            3,
            [ac_evse("NL*ABC*E1002*1", 1), ac_evse("NL*ABC*E1002*2", 2)],
        ),
        station(
            "cs-park-1",
            "site-park",
            2,
            [dc_evse("NL*ABC*E2001*1", 1, v2g=True), dc_evse("NL*ABC*E2001*2", 2)],
            conformity_evidence=[{**_GRID_CODE, "scope": "CS", "subject_id": "cs-park-1"}],
        ),
        station("cs-home-1", "site-home", 4, [ac_evse("NL*ABC*E3001*1", 1, v2g=False)]),
    ],
    "ev_models": [
        {
            "ev_model_id": "onboard-bidi",
            "name": "Bidirectional on-board inverter",
            "bidirectional": True,
            "onboard_inverter": True,
            "max_charge_power_w": 11000.0,
            "max_discharge_power_w": 11000.0,
            "conformity_evidence": [
                {**_GRID_CODE, "scope": "EV_MODEL", "subject_id": "onboard-bidi"}
            ],
        },
        {"ev_model_id": "compact-ac", "max_charge_power_w": 11000.0},
    ],
}


def sample_document() -> dict[str, Any]:
    """A fresh copy of the sample registry document."""
    return copy.deepcopy(_DOCUMENT)


async def import_document(app: Any, document: dict[str, Any] | None = None) -> None:
    """Write a registry document (the sample by default) into the app's database."""
    from fcsbe.server.services.registry.registry import import_registry, parse_document

    async with app.state.session_factory() as session:
        await import_registry(session, parse_document(document or sample_document()))
        await session.commit()
