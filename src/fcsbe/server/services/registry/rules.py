"""Cross-entry rules of a registry document, checked before anything is written.

Each field is already valid on its own (the pydantic models checked ranges and formats); these
rules look across entries: duplicate ids, EV power on a non-V2G EVSE, converter and transfer
modes that contradict the current type, and configuration types (IEC 63382-1 clause 4.2) that
contradict the equipment. Rules that need the stored registry (unknown sites, EVSEs owned by
another station) live in `services/registry/registry.py`.

This module is pure: a document in, a list of issues out, every issue located by a JSON pointer
relative to the document root.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass

from fcsbe.model import (
    ChargingStation,
    ConfigurationType,
    ConformityScope,
    ConverterLocation,
    CurrentType,
    EnergyTransferMode,
    Evse,
    RegistryDocument,
)

__all__ = [
    "AC_CONFIGURATIONS",
    "SINGLE_EVSE_CONFIGURATIONS",
    "RegistryIssue",
    "check_document",
    "configuration_name",
]

AC_CONFIGURATIONS = frozenset(
    {ConfigurationType.AC_BUS_AC_CHARGE, ConfigurationType.SINGLE_EVSE_AC}
)
"""Configurations where the EV charges on AC (the on-board charger is the converter)."""

SINGLE_EVSE_CONFIGURATIONS = frozenset(
    {ConfigurationType.SINGLE_EVSE_AC, ConfigurationType.SINGLE_EVSE_DC}
)
"""Configurations of a site with exactly one EVSE."""

_AC_MODES = frozenset(
    {
        EnergyTransferMode.AC_SINGLE_PHASE,
        EnergyTransferMode.AC_TWO_PHASE,
        EnergyTransferMode.AC_THREE_PHASE,
        EnergyTransferMode.AC_BPT,
        EnergyTransferMode.AC_BPT_DER,
        EnergyTransferMode.AC_DER,
    }
)
_NAMES = {
    ConfigurationType.DC_BUS_DC_CHARGE: "DC bus, DC charge",
    ConfigurationType.AC_BUS_DC_CHARGE: "AC bus, DC charge",
    ConfigurationType.AC_BUS_AC_CHARGE: "AC bus, AC charge",
    ConfigurationType.SINGLE_EVSE_AC: "single EVSE, AC charge",
    ConfigurationType.SINGLE_EVSE_DC: "single EVSE, DC charge",
}


@dataclass(frozen=True, slots=True)
class RegistryIssue:
    """One problem of a document: where (JSON pointer from the root), why, and a stable code."""

    pointer: str
    detail: str
    code: str


def configuration_name(kind: ConfigurationType) -> str:
    """`3 (AC bus, AC charge)`: the number and what it means, for messages."""
    return f"{int(kind)} ({_NAMES[kind]})"


def _duplicates(
    items: Iterable[tuple[str, Hashable]], what: str, issues: list[RegistryIssue]
) -> None:
    """Report every id seen before, pointing at the repeat and naming the first occurrence."""
    first: dict[Hashable, str] = {}
    for pointer, value in items:
        if value in first:
            issues.append(
                RegistryIssue(
                    pointer, f"duplicate {what} {value!r} (first at {first[value]})", "duplicate_id"
                )
            )
        else:
            first[value] = pointer


def _check_evse(evse: Evse, kind: ConfigurationType, at: str, issues: list[RegistryIssue]) -> None:
    modes = set(evse.energy_transfer_modes)
    bidirectional = any(mode.bidirectional for mode in modes)
    if evse.max_discharge_power_w > 0 and not bidirectional:
        issues.append(
            RegistryIssue(
                f"{at}/max_discharge_power_w",
                f"discharge power {evse.max_discharge_power_w:g} W on an EVSE without a "
                "bidirectional energy transfer mode (AC_BPT, AC_BPT_DER, DC_BPT, ...): "
                "set it to 0 or declare the V2G mode",
                "discharge_without_v2g",
            )
        )
    is_ac = evse.current_type is CurrentType.AC
    wrong_modes = sorted(m.value for m in modes if (m in _AC_MODES) != is_ac)
    if wrong_modes:
        issues.append(
            RegistryIssue(
                f"{at}/energy_transfer_modes",
                f"{', '.join(wrong_modes)} contradict{'s' if len(wrong_modes) == 1 else ''} "
                f"current_type {evse.current_type.value}",
                "inconsistent_transfer_mode",
            )
        )
    expected_converter = ConverterLocation.ON_BOARD if is_ac else ConverterLocation.OFF_BOARD
    if evse.converter_location is not expected_converter:
        issues.append(
            RegistryIssue(
                f"{at}/converter_location",
                f"an {evse.current_type.value} EVSE has its converter {expected_converter.value} "
                f"(the EV's on-board charger on AC, the EVSE's own on DC), not "
                f"{evse.converter_location.value}",
                "inconsistent_converter",
            )
        )
    if is_ac and evse.phases is None:
        issues.append(RegistryIssue(f"{at}/phases", "an AC EVSE needs phases (1-3)", "missing"))
    if not is_ac and evse.phases is not None:
        issues.append(
            RegistryIssue(f"{at}/phases", "a DC EVSE has no phases: leave it null", "not_allowed")
        )
    if (kind in AC_CONFIGURATIONS) != is_ac:
        issues.append(
            RegistryIssue(
                f"{at}/current_type",
                f"configuration {configuration_name(kind)} needs "
                f"{'AC' if kind in AC_CONFIGURATIONS else 'DC'} EVSEs, this one is "
                f"{evse.current_type.value}",
                "inconsistent_configuration",
            )
        )


def _check_station(station: ChargingStation, at: str, issues: list[RegistryIssue]) -> None:
    kind = station.configuration_type
    if kind in SINGLE_EVSE_CONFIGURATIONS and len(station.evses) != 1:
        issues.append(
            RegistryIssue(
                f"{at}/evses",
                f"configuration {configuration_name(kind)} allows one EVSE, found "
                f"{len(station.evses)}",
                "inconsistent_configuration",
            )
        )
    _duplicates(
        ((f"{at}/evses/{j}/ocpp_evse_id", e.ocpp_evse_id) for j, e in enumerate(station.evses)),
        "ocpp_evse_id",
        issues,
    )
    evse_ids = {e.evse_id for e in station.evses}
    for j, evse in enumerate(station.evses):
        _check_evse(evse, kind, f"{at}/evses/{j}", issues)
        _duplicates(
            (
                (f"{at}/evses/{j}/connectors/{k}/connector_id", c.connector_id)
                for k, c in enumerate(evse.connectors)
            ),
            "connector_id",
            issues,
        )
    for k, evidence in enumerate(station.conformity_evidence):
        where = f"{at}/conformity_evidence/{k}"
        if evidence.scope is ConformityScope.EV_MODEL:
            issues.append(
                RegistryIssue(
                    f"{where}/scope",
                    "EV_MODEL evidence belongs to an entry of ev_models, not to a station",
                    "wrong_scope",
                )
            )
        elif evidence.scope is ConformityScope.CS and evidence.subject_id != station.cs_id:
            issues.append(
                RegistryIssue(
                    f"{where}/subject_id",
                    f"CS evidence must name this station ({station.cs_id!r}), "
                    f"not {evidence.subject_id!r}",
                    "wrong_subject",
                )
            )
        elif evidence.scope is ConformityScope.EVSE and evidence.subject_id not in evse_ids:
            issues.append(
                RegistryIssue(
                    f"{where}/subject_id",
                    f"EVSE evidence must name one of this station's EVSEs, "
                    f"not {evidence.subject_id!r}",
                    "wrong_subject",
                )
            )


def check_document(document: RegistryDocument) -> list[RegistryIssue]:
    """Every cross-entry problem of `document` on its own (without the stored registry)."""
    issues: list[RegistryIssue] = []
    _duplicates(
        ((f"/sites/{i}/site_id", s.site_id) for i, s in enumerate(document.sites)),
        "site_id",
        issues,
    )
    _duplicates(
        (
            (f"/charging_stations/{i}/cs_id", c.cs_id)
            for i, c in enumerate(document.charging_stations)
        ),
        "cs_id",
        issues,
    )
    _duplicates(
        (
            (f"/charging_stations/{i}/evses/{j}/evse_id", e.evse_id)
            for i, c in enumerate(document.charging_stations)
            for j, e in enumerate(c.evses)
        ),
        "evse_id",
        issues,
    )
    _duplicates(
        ((f"/ev_models/{i}/ev_model_id", m.ev_model_id) for i, m in enumerate(document.ev_models)),
        "ev_model_id",
        issues,
    )
    for i, site in enumerate(document.sites):
        _duplicates(
            ((f"/sites/{i}/ders/{k}/der_id", d.der_id) for k, d in enumerate(site.ders)),
            "der_id",
            issues,
        )
    for i, station in enumerate(document.charging_stations):
        _check_station(station, f"/charging_stations/{i}", issues)
    for i, model in enumerate(document.ev_models):
        at = f"/ev_models/{i}"
        if model.onboard_inverter and not model.bidirectional:
            issues.append(
                RegistryIssue(
                    f"{at}/onboard_inverter",
                    "a bidirectional on-board inverter needs bidirectional: true",
                    "inconsistent_ev_model",
                )
            )
        if (model.max_discharge_power_w or 0) > 0 and not model.bidirectional:
            issues.append(
                RegistryIssue(
                    f"{at}/max_discharge_power_w",
                    "discharge power on an EV model that is not bidirectional",
                    "discharge_without_v2g",
                )
            )
        for k, evidence in enumerate(model.conformity_evidence):
            where = f"{at}/conformity_evidence/{k}"
            if evidence.scope is not ConformityScope.EV_MODEL:
                issues.append(
                    RegistryIssue(
                        f"{where}/scope",
                        "evidence of an EV model has scope EV_MODEL",
                        "wrong_scope",
                    )
                )
            elif evidence.subject_id != model.ev_model_id:
                issues.append(
                    RegistryIssue(
                        f"{where}/subject_id",
                        f"must name this EV model ({model.ev_model_id!r}), "
                        f"not {evidence.subject_id!r}",
                        "wrong_subject",
                    )
                )
    return issues
