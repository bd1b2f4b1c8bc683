"""Capability rules: V1G everywhere, V2G only through a bidirectional, conformant DER."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from fcsbe.model import ChargingStation, ConformityEvidence, FsType, ReasonCode
from fcsbe.server.services.registry.capabilities import EvTechnical, assess, grid_code_of

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def _evidence(
    scope: str, subject: str, standard: str = "EN 50549-1:2019", days: int = 365
) -> ConformityEvidence:
    return ConformityEvidence.model_validate(
        {
            "standard": standard,
            "scope": scope,
            "subject_id": subject,
            "certificate_id": "C-1",
            "issuer": "DEKRA",
            "valid_to": (NOW + timedelta(days=days)).isoformat(),
        }
    )


def _station(
    current: str, *, discharge_w: float, modes: list[str], evidence: list[ConformityEvidence]
) -> ChargingStation:
    evse: dict[str, Any] = {
        "evse_id": "NL*ABC*E1*1",
        "ocpp_evse_id": 1,
        "current_type": current,
        "phases": 3 if current == "AC" else None,
        "min_charge_power_w": 1400.0,
        "max_charge_power_w": 22000.0 if current == "AC" else 50000.0,
        "max_discharge_power_w": discharge_w,
        "energy_transfer_modes": modes,
        "converter_location": "ON_BOARD" if current == "AC" else "OFF_BOARD",
        "connectors": [{"connector_id": 1, "connector_type": "cType2", "max_power_w": 22000.0}],
    }
    return ChargingStation.model_validate(
        {
            "cs_id": "cs-1",
            "site_id": "site-1",
            "vendor": "V",
            "model": "M",
            "ocpp_version": "OCPP_2_1",
            "configuration_type": 3 if current == "AC" else 2,
            "evses": [evse],
            "conformity_evidence": [e.model_dump(mode="json") for e in evidence],
        }
    )


def test_v1g_is_supported_without_conformity() -> None:
    station = _station("AC", discharge_w=0, modes=["AC_three_phase"], evidence=[])
    result = assess(FsType.SETPOINT, station.evses[0], station, EvTechnical(), NOW)
    assert result.capable
    assert result.conformant
    assert (result.capability.p_min_w, result.capability.p_max_w) == (0.0, 22000.0)


def test_ac_v2g_needs_the_evs_own_conformity_uc_1_7() -> None:
    station = _station("AC", discharge_w=11000, modes=["AC_three_phase", "AC_BPT_DER"], evidence=[])
    no_inverter = assess(
        FsType.SETPOINT, station.evses[0], station, EvTechnical(bidirectional=True), NOW
    )
    assert no_inverter.capability.p_min_w == 0.0
    ev_without_cert = EvTechnical(bidirectional=True, onboard_inverter=True)
    uncertified = assess(FsType.SETPOINT, station.evses[0], station, ev_without_cert, NOW)
    assert ReasonCode.NOT_CONFORMANT in uncertified.reasons
    assert uncertified.capability.p_min_w == 0.0
    certified_ev = EvTechnical(
        bidirectional=True, onboard_inverter=True, conformity=(_evidence("EV_MODEL", "ID.4"),)
    )
    ok = assess(FsType.SETPOINT, station.evses[0], station, certified_ev, NOW)
    assert ok.conformant
    assert ok.capability.p_min_w == -11000.0
    droop = assess(FsType.DROOP, station.evses[0], station, certified_ev, NOW)
    assert droop.capable


def test_dc_v2g_uses_the_evse_conformity_and_expiry_counts() -> None:
    ev = EvTechnical(bidirectional=True, max_discharge_w=30000)
    valid = _station(
        "DC", discharge_w=50000, modes=["DC", "DC_BPT"], evidence=[_evidence("EVSE", "NL*ABC*E1*1")]
    )
    assert assess(FsType.FFR, valid.evses[0], valid, ev, NOW).capability.p_min_w == -30000.0
    expired = _station(
        "DC", discharge_w=50000, modes=["DC", "DC_BPT"], evidence=[_evidence("CS", "cs-1", days=-1)]
    )
    result = assess(FsType.FFR, expired.evses[0], expired, ev, NOW)
    assert not result.capable
    assert set(result.reasons) == {ReasonCode.NOT_CONFORMANT, ReasonCode.NOT_CAPABLE}


def test_droop_on_ac_without_der_mode_is_not_capable() -> None:
    station = _station("AC", discharge_w=0, modes=["AC_three_phase"], evidence=[])
    result = assess(FsType.DROOP, station.evses[0], station, None, NOW)
    assert not result.capable
    assert result.missing_functions


@pytest.mark.parametrize(
    ("text", "code"),
    [("EN 50549-1:2019", "EN 50549-1"), ("vde-ar-n 4105", "VDE-AR-N 4105"), ("IEC 61851-1", None)],
)
def test_grid_code_names(text: str, code: str | None) -> None:
    assert grid_code_of(text) == code


def _dc_v2g() -> ChargingStation:
    return _station(
        "DC",
        discharge_w=25000,
        modes=["DC", "DC_BPT"],
        evidence=[_evidence("EVSE", "NL*ABC*E1*1")],
    )


def test_what_the_station_reported_over_ocpp_bounds_the_capability() -> None:
    station = _dc_v2g()
    evse, ev = station.evses[0], EvTechnical(bidirectional=True)
    full = {"version": "2.1", "v2x": True, "der": True}
    for fs_type in (FsType.DROOP, FsType.FFR):
        assert assess(fs_type, evse, station, ev, NOW, reported=full).capable
    assert assess(FsType.SETPOINT, evse, station, ev, NOW, reported=full).capability.p_min_w < 0
    old = {"version": "1.6", "v2x": False, "der": False}
    setpoint = assess(FsType.SETPOINT, evse, station, ev, NOW, reported=old)
    assert setpoint.capable
    assert setpoint.capability.p_min_w == 0.0
    assert any("OCPP 1.6" in note for note in setpoint.notes)
    ffr = assess(FsType.FFR, evse, station, ev, NOW, reported=old)
    assert not ffr.capable
    assert ReasonCode.NOT_CAPABLE in ffr.reasons
    assert "no fast frequency response" in "; ".join(ffr.notes)
    no_der = {"version": "2.1", "v2x": True, "der": False}
    droop = assess(FsType.DROOP, evse, station, ev, NOW, reported=no_der)
    assert droop.capable
    assert "VOLT_WATT" not in {f.value for f in droop.capability.grid_functions}
    neither = {"version": "2.1", "v2x": False, "der": False}
    assert not assess(FsType.DROOP, evse, station, ev, NOW, reported=neither).capable


def test_the_declared_ocpp_version_counts_until_the_station_reports() -> None:
    document = _dc_v2g().model_dump(mode="json") | {"ocpp_version": "OCPP_1_6"}
    declared_16 = ChargingStation.model_validate(document)
    evse, ev = declared_16.evses[0], EvTechnical(bidirectional=True)
    assert not assess(FsType.FFR, evse, declared_16, ev, NOW).capable
    reported_21 = {"version": "2.1", "v2x": True, "der": True}
    assert assess(FsType.FFR, evse, declared_16, ev, NOW, reported=reported_21).capable
