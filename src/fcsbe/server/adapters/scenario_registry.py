"""A simulated fleet's registry: `ScenarioFleet` -> `RegistryDocument`, and the named scenarios.

The simulator and the server's registry are loaded from the same `ScenarioFleet`, so the FO sees
exactly the sites, stations and EVSEs that are simulated. What the fleet description leaves
implicit is filled in here, always the same way (so re-importing on every start changes nothing):

- EVSE ids are the simulator's eMI3 ids (`DE*FCS*E0000001*1`), used as they are;
- energy transfer modes and converter side follow the current type (AC: on-board, `AC_BPT` and
  `AC_BPT_DER` when the EVSE can discharge; DC: off-board, `DC_BPT`);
- a site's country is its EVSE ids' country, its voltage level LV up to 400 kW of import, MV above;
- the standards a station or an EV model declares become conformity evidence with certificate ids
  marked as simulated, valid to the end of 2035.

This module maps values only; it must not run a simulator.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

import yaml

from fcsbe.model import REGISTRY_FORMAT, RegistryDocument
from fcsbe.sim import EvProfile, EvseSpec, ScenarioFleet, SiteSpec, StationSpec
from fcsbe.sim import scenarios as fleets

__all__ = [
    "SCENARIOS",
    "SCENARIO_TITLES",
    "floor_to_second",
    "registry_of",
    "render_registry",
    "scenario_fleet",
]

_VALID_TO = "2035-12-31T23:59:59Z"
_ISSUER = "fcsbe simulator (declared by the scenario)"
_MV_FROM_W = 400_000.0

SCENARIOS: dict[str, Callable[[int, datetime, int], ScenarioFleet]] = {
    "demo": lambda seed, start, _n: fleets.demo_fleet(seed, start=start),
    "uc-1.1": lambda seed, start, _n: fleets.uc_1_1_home(1, seed=seed, start=start),
    "uc-1.1-s2": lambda seed, start, _n: fleets.uc_1_1_home(2, seed=seed, start=start),
    "uc-1.2": lambda seed, start, _n: fleets.uc_1_2_visited(1, seed=seed, start=start),
    "uc-1.2-s2": lambda seed, start, _n: fleets.uc_1_2_visited(2, seed=seed, start=start),
    "uc-1.3": lambda seed, start, _n: fleets.uc_1_3_fleet_depot(seed=seed, start=start),
    "uc-1.4": lambda seed, start, _n: fleets.uc_1_4_fleet_public(1, seed=seed, start=start),
    "uc-1.4-s2": lambda seed, start, _n: fleets.uc_1_4_fleet_public(2, seed=seed, start=start),
    "uc-1.5": lambda seed, start, _n: fleets.uc_1_5_evss(seed=seed, start=start),
    "uc-1.6": lambda seed, start, _n: fleets.uc_1_6_energy_community(False, seed=seed, start=start),
    "uc-1.6-off-grid": lambda seed, start, _n: fleets.uc_1_6_energy_community(
        True, seed=seed, start=start
    ),
    "uc-1.7": lambda seed, start, _n: fleets.uc_1_7_onboard_inverter(seed=seed, start=start),
    "large": lambda seed, start, n: fleets.large_fleet(n, seed, start=start),
}
"""Every scenario `FCSBE_SIMULATOR_SCENARIO` names, by name."""

SCENARIO_TITLES = {
    "demo": "Demo fleet: home wallbox, fleet depot, public car park, EV service station, "
    "energy community",
    "uc-1.1": "UC 1.1 S1: a CSP backend with ten home wallboxes (AC, every fifth DC V2G)",
    "uc-1.1-s2": "UC 1.1 S2: one home CS served by an embedded FCSBE",
    "uc-1.2": "UC 1.2 S1: roaming EV users at a visited CSO's car park (visited CSO governs)",
    "uc-1.2-s2": "UC 1.2 S2: roaming EV users at a visited CSO's car park (home CSP governs; "
    "same equipment as S1, the sessions differ)",
    "uc-1.3": "UC 1.3: fleet depot, 20 AC EVSEs behind a 150 kW connection",
    "uc-1.4": "UC 1.4 S1: fleet vans at a public car park (visited CSO governs)",
    "uc-1.4-s2": "UC 1.4 S2: fleet vans at a public car park (home party governs; same "
    "equipment as S1, the sessions differ)",
    "uc-1.5": "UC 1.5: EV service station on a DC bus with PV and storage",
    "uc-1.6": "UC 1.6 S1: energy community on-grid (households, PV, storage, AC V2G)",
    "uc-1.6-off-grid": "UC 1.6 S2: the same energy community off-grid (island mode)",
    "uc-1.7": "UC 1.7: AC V2G through the EV's on-board inverter",
}
"""One line per scenario with a registry file in `examples/registry/` (all but `large`)."""


def scenario_fleet(
    name: str, *, seed: int = 0, start: datetime | None = None, size: int = 10_000
) -> ScenarioFleet:
    """The fleet of a named scenario, starting at `start` (default: the scenario's own)."""
    try:
        factory = SCENARIOS[name]
    except KeyError:
        raise ValueError(f"unknown scenario {name!r}; known: {', '.join(SCENARIOS)}") from None
    return factory(seed, start or fleets.DEFAULT_START, size)


def _evidence(standard: str, scope: str, subject: str) -> dict[str, Any]:
    slug = "".join(c if c.isalnum() else "-" for c in standard).strip("-")
    return {
        "standard": standard,
        "scope": scope,
        "subject_id": subject,
        "certificate_id": f"SIM-{subject}-{slug}"[:128],
        "issuer": _ISSUER,
        "valid_to": _VALID_TO,
    }


_GRID_CODE_FUNCTIONS = [
    "FREQ_DROOP",
    "HF_MUST_TRIP",
    "HV_MUST_TRIP",
    "LF_MUST_TRIP",
    "LV_MUST_TRIP",
]
"""What a grid code (EN 50549-1: LFSM-O, protection) makes a bidirectional converter do."""
_GRID_CODES = frozenset({"EN 50549-1", "EN 50549-2", "VDE-AR-N 4105", "CEI 0-21", "G99"})


def _evse(spec: EvseSpec, number: int, conformity: tuple[str, ...] = ()) -> dict[str, Any]:
    ac = spec.current_type == "AC"
    v2g = spec.max_discharge_w > 0
    if ac:
        modes = ["AC_single_phase" if spec.phases == 1 else "AC_three_phase"]
        modes += ["AC_BPT", "AC_BPT_DER"] if v2g else []
    else:
        modes = ["DC", "DC_BPT"] if v2g else ["DC"]
    document: dict[str, Any] = {
        "evse_id": spec.evse_id,
        "ocpp_evse_id": number,
        "current_type": spec.current_type,
        "phases": spec.phases if ac else None,
        "min_charge_power_w": spec.min_charge_w,
        "max_charge_power_w": spec.max_charge_w,
        "max_discharge_power_w": spec.max_discharge_w,
        "energy_transfer_modes": modes,
        "converter_location": "ON_BOARD" if ac else "OFF_BOARD",
        "meter": {
            "meter_id": f"M-{spec.evse_id}",
            "serial_number": f"SIM-{spec.evse_id.replace('*', '')}"[:64],
            "certified": True,
            "signed_values": True,
        },
        "connectors": [
            {
                "connector_id": 1,
                "connector_type": "cType2" if ac else "cCCS2",
                "max_power_w": spec.max_charge_w,
            }
        ],
    }
    if spec.response_time_s > 0 or spec.ramp_w_per_s != float("inf"):
        dynamics: dict[str, Any] = {
            "response_time_s": round(spec.response_time_s, 3),
            "response_latency_s": round(spec.response_latency_s, 3),
        }
        if spec.ramp_w_per_s != float("inf"):
            dynamics["ramp_rate_w_per_s"] = spec.ramp_w_per_s
        if spec.setpoint_resolution_w > 0:
            dynamics["setpoint_resolution_w"] = spec.setpoint_resolution_w
        document["dynamics"] = dynamics
    if v2g and not ac and any(c.split(":")[0] in _GRID_CODES for c in conformity):
        document["mandatory_grid_functions"] = _GRID_CODE_FUNCTIONS
    if spec.max_reactive_var > 0:
        document["reactive"] = {
            "max_absorb_var": spec.max_reactive_var,
            "max_inject_var": spec.max_reactive_var,
        }
    return document


def _site(spec: SiteSpec, country: str) -> dict[str, Any]:
    medium = spec.import_limit_w > _MV_FROM_W
    ders: list[dict[str, Any]] = []
    if spec.pv_peak_w > 0:
        ders.append(
            {"der_id": f"{spec.site_id}-PV", "der_type": "PV", "rated_power_w": spec.pv_peak_w}
        )
    if spec.storage is not None:
        ders.append(
            {
                "der_id": f"{spec.site_id}-STORAGE",
                "der_type": "STORAGE",
                "rated_power_w": max(spec.storage.max_charge_w, spec.storage.max_discharge_w),
                "capacity_wh": spec.storage.capacity_wh,
                "controllable": True,
            }
        )
    return {
        "site_id": spec.site_id,
        "configuration_type": spec.configuration_type,
        "location": {"country": country},
        "grid_connection": {
            "grid_node": spec.grid_node_id,
            "voltage_level": "MV" if medium else "LV",
            "nominal_voltage_v": 10_000.0 if medium else 400.0,
            "phases": 3,
            "import_limit_w": spec.import_limit_w,
            "export_limit_w": spec.export_limit_w,
        },
        "ders": ders,
        "energy_community_id": spec.energy_community_id,
        "grid_state": spec.grid_state,
    }


def _station(spec: StationSpec, kind: int, evses: list[EvseSpec]) -> dict[str, Any]:
    return {
        "cs_id": spec.cs_id,
        "site_id": spec.site_id,
        "vendor": spec.vendor,
        "model": spec.model,
        "firmware_version": "sim",
        "ocpp_version": "OCPP_2_1",
        "configuration_type": kind,
        "evses": [_evse(e, n, spec.conformity) for n, e in enumerate(evses, start=1)],
        "conformity_evidence": [_evidence(s, "CS", spec.cs_id) for s in spec.conformity],
    }


def _ev_models(fleet: ScenarioFleet) -> Iterable[EvProfile]:
    seen: dict[str, EvProfile] = {}
    for session in fleet.initial_sessions:
        seen.setdefault(session.ev.model, session.ev)
    for site in fleet.sites:
        for profile, _share in site.profile.ev_mix if site.profile else ():
            seen.setdefault(profile.model, profile)
    return seen.values()


def _ev_model(profile: EvProfile) -> dict[str, Any]:
    bidirectional = profile.max_discharge_w > 0
    return {
        "ev_model_id": profile.model,
        "name": profile.model.replace("-", " "),
        "bidirectional": bidirectional,
        "onboard_inverter": profile.onboard_bidirectional and bidirectional,
        "max_charge_power_w": profile.max_charge_w,
        "max_discharge_power_w": profile.max_discharge_w if bidirectional else None,
        "conformity_evidence": [
            _evidence(s, "EV_MODEL", profile.model) for s in profile.conformity
        ],
    }


def registry_of(fleet: ScenarioFleet) -> RegistryDocument:
    """The registry document of a simulated fleet (validated like any imported file)."""
    kinds = {s.site_id: s.configuration_type for s in fleet.sites}
    by_station: dict[str, list[EvseSpec]] = {}
    for evse in fleet.evses:
        by_station.setdefault(evse.cs_id, []).append(evse)
    countries: dict[str, str] = {}
    for evse in fleet.evses:
        countries.setdefault(evse.site_id, evse.evse_id[:2].upper())
    document = {
        "format": REGISTRY_FORMAT,
        "sites": [_site(s, countries.get(s.site_id, "DE")) for s in fleet.sites],
        "charging_stations": [
            _station(s, kinds[s.site_id], by_station[s.cs_id])
            for s in fleet.stations
            if by_station.get(s.cs_id)
        ],
        "ev_models": [_ev_model(p) for p in _ev_models(fleet)],
    }
    return RegistryDocument.model_validate(document, extra="forbid")


def floor_to_second(when: datetime) -> datetime:
    """`when` without its fraction of a second (a scenario start on the wall clock)."""
    return when.astimezone(UTC).replace(microsecond=0)


def render_registry(name: str) -> str:
    """The YAML registry file of a scenario, as kept in `examples/registry/<name>.yaml`."""
    document = registry_of(scenario_fleet(name)).model_dump(mode="json", exclude_none=True)
    for site in document["sites"]:
        del site["cs_ids"]  # derived from the stations
    header = (
        f"# {SCENARIO_TITLES.get(name, name)}\n"
        f"# The registry of the simulated scenario {name!r} (`fcsbe admin stations scenario "
        f"{name}`).\n"
        "# Import it with `fcsbe admin stations import <this file>`; see docs/registry.md.\n"
    )
    return header + yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100)
