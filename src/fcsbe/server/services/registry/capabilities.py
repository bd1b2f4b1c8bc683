"""What a target can do: capabilities per FS type, derived from the equipment and the EV.

One rule set serves the capabilities API, the credentials check and the FS decision, so the
three can never disagree. The rules (IEC 63382 clause 5.3 and UC 1.7, our reading):

- The DER is the power converter. With an off-board converter (DC EVSE) it is the EVSE; with an
  on-board converter (AC EVSE) it is the EV's on-board charger, so for AC V2G the **EV's**
  grid-code conformity is what counts, not only the EVSE's.
- Export (V2G) needs a bidirectional converter on both sides: a DC EVSE with discharge power
  and a bidirectional EV, or an AC EVSE offering AC_BPT(_DER) and an EV with a bidirectional
  on-board inverter.
- Any export, and the locally executed grid functions (DROOP, FFR), need valid conformity of
  the DER to a grid code (EN 50549-1, VDE-AR-N 4105, CEI 0-21, ...).
- Every target can reduce or shift its import (V1G): SETPOINT, DEMAND_RESPONSE, RESERVE (down
  = less import), DYNAMIC_PRICE and CONGESTION are supported for import at least.
- The station must be able to carry the order: only OCPP 2.1 has V2X (discharge, FFR) and DER
  control (droop). What the station reported when it connected (`StationLimits` JSON) wins
  over the OCPP version the registry declares (`ocpp_refusal`).

This module is pure (no SQL, no I/O): callers load the documents and pass them in.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fcsbe.model import (
    MAX_CURVE_POINTS,
    Capability,
    ChargingStation,
    ConformityEvidence,
    ConformityScope,
    CurrentType,
    CurveLimits,
    EnergyTransferMode,
    Evse,
    FsType,
    GridFunction,
    ReasonCode,
    Target,
    TargetLevel,
)

__all__ = [
    "GRID_CODE_STANDARDS",
    "UNKNOWN_RESPONSE_S",
    "Assessment",
    "EvTechnical",
    "assess",
    "assess_all",
    "evse_response_time_s",
    "grid_code_of",
    "ocpp_refusal",
    "valid_evidence",
]

GRID_CODE_STANDARDS = frozenset(
    {
        "EN 50549-1",
        "EN 50549-2",
        "VDE-AR-N 4105",
        "VDE-AR-N 4110",
        "CEI 0-21",
        "CEI 0-16",
        "G99",
        "G98",
        "IEEE 1547",
        "AS/NZS 4777.2",
        "NC RfG",
    }
)
"""Standards accepted as grid-code conformity of a DER."""

_LOCAL_FUNCTIONS: dict[FsType, tuple[GridFunction, ...]] = {
    FsType.DROOP: (GridFunction.FREQ_DROOP,),
    FsType.FFR: (GridFunction.FREQ_DROOP,),
}
_CHAIN_TIME_S: dict[FsType, float] = {
    FsType.SETPOINT: 2.0,
    FsType.DEMAND_RESPONSE: 60.0,
    FsType.DROOP: 0.0,
    FsType.FFR: 0.0,
    FsType.RESERVE: 30.0,
    FsType.DYNAMIC_PRICE: 60.0,
    FsType.CONGESTION: 5.0,
}
"""Time the server's own chain adds before a station is told (dispatch, telemetry); zero for
the functions the station executes locally (droop, FFR)."""
UNKNOWN_RESPONSE_S: dict[CurrentType, float] = {CurrentType.AC: 5.0, CurrentType.DC: 1.0}
"""Response time assumed when the registry does not state one: on AC the EV may take up to 5 s
to follow the PWM (IEC 61851-1); a DC converter is assumed to follow within a second."""
_AC_BIDIRECTIONAL = {EnergyTransferMode.AC_BPT, EnergyTransferMode.AC_BPT_DER}
_DER_MODES = {EnergyTransferMode.AC_BPT_DER, EnergyTransferMode.AC_DER}


@dataclass(frozen=True, slots=True)
class EvTechnical:
    """What the connected EV can do (internal; never sent to the FO as such)."""

    bidirectional: bool = False
    onboard_inverter: bool = False
    max_charge_w: float | None = None
    max_discharge_w: float | None = None
    conformity: tuple[ConformityEvidence, ...] = ()


@dataclass(frozen=True, slots=True)
class Assessment:
    """A capability plus why: the verdict material of the credentials check."""

    capability: Capability
    reasons: tuple[ReasonCode, ...] = ()
    required_standards: frozenset[str] = frozenset()
    evidence: tuple[ConformityEvidence, ...] = ()
    missing_functions: tuple[GridFunction, ...] = ()
    notes: tuple[str, ...] = field(default=())

    @property
    def capable(self) -> bool:
        return self.capability.supported

    @property
    def conformant(self) -> bool:
        return ReasonCode.NOT_CONFORMANT not in self.reasons


def grid_code_of(standard: str) -> str | None:
    """The grid code a standard designation names, ignoring its edition (`EN 50549-1:2019`)."""
    base = standard.split(":", 1)[0].strip().upper()
    return next((code for code in GRID_CODE_STANDARDS if code.upper() == base), None)


def valid_evidence(
    evidence: Iterable[ConformityEvidence], scopes: set[ConformityScope], now: datetime
) -> list[ConformityEvidence]:
    """Grid-code evidence of the given scopes that is valid at `now`."""
    return [
        e
        for e in evidence
        if e.scope in scopes
        and grid_code_of(e.standard) is not None
        and e.valid_to > now
        and (e.valid_from is None or e.valid_from <= now)
    ]


def _export_limit_w(evse: Evse, ev: EvTechnical | None) -> tuple[float, str | None]:
    """Largest export, and why it is zero when it is."""
    if evse.max_discharge_power_w <= 0:
        return 0.0, "the EVSE has no discharge power"
    if ev is None:
        return 0.0, "no EV connected"
    if evse.current_type is CurrentType.DC:
        if not ev.bidirectional:
            return 0.0, "the EV is not bidirectional"
    else:
        if not _AC_BIDIRECTIONAL.intersection(evse.energy_transfer_modes):
            return 0.0, "the AC EVSE offers no bidirectional transfer mode"
        if not ev.onboard_inverter:
            return 0.0, "the EV has no bidirectional on-board inverter"
    limit = evse.max_discharge_power_w
    if ev.max_discharge_w is not None:
        limit = min(limit, ev.max_discharge_w)
    return limit, None


def _der_evidence(
    evse: Evse, station: ChargingStation, ev: EvTechnical | None, now: datetime
) -> list[ConformityEvidence]:
    """Conformity of whichever converter is the DER (UC 1.7 for the on-board case)."""
    if evse.current_type is CurrentType.AC:
        return valid_evidence(ev.conformity if ev else (), {ConformityScope.EV_MODEL}, now)
    own = [e for e in station.conformity_evidence if e.subject_id in {evse.evse_id, station.cs_id}]
    return valid_evidence(own, {ConformityScope.EVSE, ConformityScope.CS}, now)


_OCPP_VERSIONS = {"OCPP_1_6": "1.6", "OCPP_2_0_1": "2.0.1", "OCPP_2_1": "2.1"}


def ocpp_refusal(
    fs_type: FsType,
    declared_version: str | None,
    reported: Mapping[str, Any] | None,
    *,
    needs_export: bool,
    voltage_curves: bool = False,
) -> str | None:
    """Why an EVSE's station cannot serve `fs_type` over OCPP (None: it can).

    What the station reported when it connected (`StationLimits` JSON: `version`, `v2x`,
    `der`) wins over the registry's declared `ocpp_version`. Only OCPP 2.1 carries V2X:
    discharge (an FS that needs export), droop and FFR on a 1.6 or 2.0.1 station, or on a 2.1
    station that reported no V2X (droop: nor DER control), cannot be executed. A droop with
    volt-var or volt-watt curves (`voltage_curves`) needs DER control (`SetDERControl`
    curves): V2X profiles carry no voltage curve."""
    version = (
        str(reported.get("version"))
        if reported
        else _OCPP_VERSIONS.get(str(declared_version), "2.1")
    )
    v2x = bool(reported.get("v2x")) if reported else version == "2.1"
    der = bool(reported.get("der")) if reported else version == "2.1"
    label = f"OCPP {version}" + ("" if version != "2.1" else " without V2X")
    if fs_type is FsType.DROOP and not (version == "2.1" and (v2x or der)):
        return f"the station speaks {label} (and no DER control): no local droop"
    if fs_type is FsType.DROOP and voltage_curves and not der:
        return f"the station speaks OCPP {version} without DER control: no volt-var / volt-watt"
    if fs_type is FsType.FFR and not (version == "2.1" and v2x):
        return f"the station speaks {label}: no fast frequency response"
    if needs_export and not (version == "2.1" and v2x):
        return f"the station speaks {label}: it cannot be told to discharge"
    return None


MAX_RESPONSE_TIME_S = 600.0
"""Slowest response time a droop may be ordered with (the model's bound)."""


def evse_response_time_s(evse: Evse) -> float:
    """The EVSE's time from a change to 90 % of it: the registry's figure, else the
    conservative one for its current type."""
    if evse.dynamics is not None:
        return evse.dynamics.response_time_s
    return UNKNOWN_RESPONSE_S[evse.current_type]


def assess(
    fs_type: FsType,
    evse: Evse,
    station: ChargingStation,
    ev: EvTechnical | None,
    now: datetime,
    telemetry_interval_s: int = 1,
    reported: Mapping[str, Any] | None = None,
) -> Assessment:
    """Capability of one EVSE (with its connected EV, if any) for one FS type.

    `reported`: what the station reported over OCPP when it connected (None: not known, the
    registry's declared OCPP version is taken)."""
    max_import = evse.max_charge_power_w
    if ev is not None and ev.max_charge_w is not None:
        max_import = min(max_import, ev.max_charge_w)
    export_w, no_export_why = _export_limit_w(evse, ev)
    declared = station.ocpp_version.value
    if export_w > 0:
        no_discharge = ocpp_refusal(FsType.SETPOINT, declared, reported, needs_export=True)
        if no_discharge is not None:
            export_w, no_export_why = 0.0, no_discharge
    evidence = _der_evidence(evse, station, ev, now)
    needs_local = _LOCAL_FUNCTIONS.get(fs_type, ())
    reasons: list[ReasonCode] = []
    notes: list[str] = []
    missing: list[GridFunction] = []
    supported = max_import > 0 or export_w > 0
    if needs_local:
        local_ok = evse.current_type is CurrentType.DC or bool(
            _DER_MODES.intersection(evse.energy_transfer_modes) and ev and ev.onboard_inverter
        )
        protocol = ocpp_refusal(fs_type, declared, reported, needs_export=False)
        if not local_ok or protocol is not None:
            supported = False
            missing.extend(needs_local)
            notes.append(protocol or "no DER able to execute the function locally")
    needs_conformity = bool(needs_local) or export_w > 0
    if needs_conformity and not evidence:
        reasons.append(ReasonCode.NOT_CONFORMANT)
        notes.append("no valid grid-code conformity for the DER")
        if needs_local:
            supported = False
        export_w = 0.0  # never export through a non-conformant converter
    if not supported:
        reasons.append(ReasonCode.NOT_CAPABLE)
    if no_export_why:
        notes.append(no_export_why)
    functions = [GridFunction.LIMIT_MAX_DISCHARGE] if export_w > 0 else []
    functions.extend(f for f in needs_local if f not in missing)
    if fs_type is FsType.DROOP and supported:
        functions.append(GridFunction.FREQ_WATT)
        # Voltage curves are DER controls: a 2.1 station that reported no DER control has none.
        if not reported or reported.get("der"):
            functions.append(GridFunction.VOLT_WATT)
            if evse.reactive is not None:
                functions.append(GridFunction.VOLT_VAR)
    own_s = evse_response_time_s(evse)
    dynamics = evse.dynamics
    capability = Capability(
        target=Target(level=TargetLevel.EVSE, id=evse.evse_id),
        fs_type=fs_type,
        supported=supported,
        grid_functions=functions,
        mandatory_grid_functions=list(evse.mandatory_grid_functions),
        curve_limits=(
            CurveLimits(
                max_points=MAX_CURVE_POINTS,
                min_response_time_s=own_s,
                max_response_time_s=max(own_s, MAX_RESPONSE_TIME_S),
            )
            if fs_type is FsType.DROOP and supported
            else None
        ),
        p_min_w=-export_w if supported else 0.0,
        p_max_w=max_import if supported else 0.0,
        response_time_s=round(max(_CHAIN_TIME_S[fs_type], own_s), 3),
        ramp_up_w_per_s=dynamics.ramp_rate_w_per_s if dynamics else None,
        ramp_down_w_per_s=dynamics.ramp_rate_w_per_s if dynamics else None,
        setpoint_resolution_w=dynamics.setpoint_resolution_w if dynamics else None,
        telemetry_interval_s=telemetry_interval_s,
    )
    return Assessment(
        capability=capability,
        reasons=tuple(dict.fromkeys(reasons)),
        required_standards=GRID_CODE_STANDARDS if needs_conformity else frozenset(),
        evidence=tuple(evidence),
        missing_functions=tuple(missing),
        notes=tuple(notes),
    )


def assess_all(
    evse: Evse,
    station: ChargingStation,
    ev: EvTechnical | None,
    now: datetime,
    fs_types: Sequence[FsType] = tuple(FsType),
    reported: Mapping[str, Any] | None = None,
) -> list[Assessment]:
    """`assess` for several FS types (all by default)."""
    return [assess(t, evse, station, ev, now, reported=reported) for t in fs_types]
