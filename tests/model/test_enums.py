"""Enum spelling rules: values equal names, except OCPP 2.1 energy transfer modes."""

from __future__ import annotations

import inspect
from enum import Enum, IntEnum, StrEnum

import pytest

import fcsbe.model as m

ENUMS = [
    value
    for name in m.__all__
    if inspect.isclass(value := getattr(m, name)) and issubclass(value, Enum)
]


@pytest.mark.parametrize("enum", [e for e in ENUMS if e is not m.EnergyTransferMode], ids=str)
def test_values_equal_names(enum: type[Enum]) -> None:
    if issubclass(enum, IntEnum):
        return
    assert issubclass(enum, StrEnum)
    assert all(member.value == member.name for member in enum)
    assert all(member.name.isupper() for member in enum)


def test_energy_transfer_modes_keep_ocpp_spelling() -> None:
    assert {mode.value for mode in m.EnergyTransferMode} == {
        "AC_single_phase",
        "AC_two_phase",
        "AC_three_phase",
        "DC",
        "AC_BPT",
        "AC_BPT_DER",
        "AC_DER",
        "DC_BPT",
        "DC_ACDP",
        "DC_ACDP_BPT",
        "WPT",
    }
    assert m.EnergyTransferMode.DC_BPT.bidirectional
    assert not m.EnergyTransferMode.AC_DER.bidirectional


def test_grid_functions_mirror_ocpp_der_control() -> None:
    assert len(m.GridFunction) == 22
    assert m.GridFunction.FREQ_DROOP.ocpp_name == "FreqDroop"
    assert m.GridFunction.POWER_MONITORING_MUST_TRIP.ocpp_name == "PowerMonitoringMustTrip"
    # Every member maps, and the mapping is the OCPP camel-case of the name.
    for function in m.GridFunction:
        assert function.ocpp_name.lower() == function.name.replace("_", "").lower()


def test_configuration_types_are_one_to_five_and_documented() -> None:
    assert [c.value for c in m.ConfigurationType] == [1, 2, 3, 4, 5]
    assert m.ConfigurationType(4) is m.ConfigurationType.SINGLE_EVSE_AC


def test_quantities_carry_their_unit() -> None:
    assert {q: q.unit for q in m.Quantity} == {
        m.Quantity.P_W: "W",
        m.Quantity.Q_VAR: "var",
        m.Quantity.E_IMPORT_WH: "Wh",
        m.Quantity.E_EXPORT_WH: "Wh",
        m.Quantity.F_HZ: "Hz",
        m.Quantity.U_V: "V",
        m.Quantity.SOC_AGG_PCT: "%",
    }


def test_required_vocabularies() -> None:
    assert set(m.FsType) == {
        "SETPOINT",
        "DEMAND_RESPONSE",
        "DROOP",
        "FFR",
        "RESERVE",
        "DYNAMIC_PRICE",
        "CONGESTION",
    }
    assert len(m.FsState) == 14
    assert len(m.ReasonCode) == 15
    assert len(m.NotificationType) == 19  # EV_LIMITS_CHANGED (UC 3.6), four dispute steps added
    assert set(m.PartyRole) == {"FO", "CSO", "CSP", "H_CSP", "V_CSO", "EC", "FLEET_OPERATOR"}
    assert m.SIGN_CONVENTION == "IMPORT_POSITIVE"


def test_every_notification_type_has_a_data_model() -> None:
    assert set(m.NOTIFICATION_DATA_MODELS) == set(m.NotificationType)
