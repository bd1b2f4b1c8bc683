"""Closed vocabularies of equipment and grid functions: configurations, converters, energy
transfer modes and the DER grid-support functions.

Values equal member names (UPPER_SNAKE) except `EnergyTransferMode`, whose values keep the OCPP 2.1
spelling so that they pass to and from stations unchanged. `GridFunction` and `CurveUnit` carry
their OCPP 2.1 spelling as a property for the adapters. This module must hold vocabularies only.
"""

from __future__ import annotations

from enum import IntEnum, StrEnum

__all__ = [
    "ConfigurationType",
    "ConformityScope",
    "ConverterLocation",
    "CurrentType",
    "CurveUnit",
    "DerType",
    "EnergyTransferMode",
    "GridFunction",
    "GridState",
    "OcppVersion",
    "VoltageLevel",
]


class ConfigurationType(IntEnum):
    """EVCS configuration of IEC 63382-1 clause 4.2 (figures 3-7); see use-cases.md."""

    DC_BUS_DC_CHARGE = 1
    """Several EVSEs on a DC bus behind one site-level converter, DC charge."""
    AC_BUS_DC_CHARGE = 2
    """Several EVSEs on an AC bus, each with its own off-board converter (DC-EVSE)."""
    AC_BUS_AC_CHARGE = 3
    """Several EVSEs on an AC bus, AC charge: the EV's on-board charger is the converter."""
    SINGLE_EVSE_AC = 4
    """A single EVSE with AC charge (home wallbox pattern)."""
    SINGLE_EVSE_DC = 5
    """A single EVSE with DC charge (DC wallbox, single DC charger)."""


class CurrentType(StrEnum):
    """Current at the EV connector."""

    AC = "AC"
    DC = "DC"


class ConverterLocation(StrEnum):
    """Where the AC/DC converter (the DER of the charging process) sits."""

    OFF_BOARD = "OFF_BOARD"
    ON_BOARD = "ON_BOARD"


class EnergyTransferMode(StrEnum):
    """OCPP 2.1 `EnergyTransferModeEnumType`; values keep the OCPP spelling.

    BPT = bidirectional power transfer (ISO 15118-20), DER = the EV/EVSE acts as a DER with grid
    functions, ACDP = DC charging through a pantograph (ACD), WPT = wireless.
    """

    AC_SINGLE_PHASE = "AC_single_phase"
    AC_TWO_PHASE = "AC_two_phase"
    AC_THREE_PHASE = "AC_three_phase"
    DC = "DC"
    AC_BPT = "AC_BPT"
    AC_BPT_DER = "AC_BPT_DER"
    AC_DER = "AC_DER"
    DC_BPT = "DC_BPT"
    DC_ACDP = "DC_ACDP"
    DC_ACDP_BPT = "DC_ACDP_BPT"
    WPT = "WPT"

    @property
    def bidirectional(self) -> bool:
        """True when the mode allows discharging (V2G)."""
        return "BPT" in self.value


class ConformityScope(StrEnum):
    """What a conformity certificate covers: the EVSE, the whole CS, or an EV model (UC 1.7)."""

    EVSE = "EVSE"
    CS = "CS"
    EV_MODEL = "EV_MODEL"


class GridState(StrEnum):
    """Whether a site (energy community) is connected to the public grid (UC 1.6)."""

    ON_GRID = "ON_GRID"
    OFF_GRID = "OFF_GRID"


class VoltageLevel(StrEnum):
    """Voltage level of the grid connection."""

    LV = "LV"
    MV = "MV"
    HV = "HV"


class DerType(StrEnum):
    """Kind of a non-EV distributed energy resource on a site (EVSS, UC 1.5)."""

    PV = "PV"
    STORAGE = "STORAGE"
    WIND = "WIND"
    CHP = "CHP"
    HEAT_PUMP = "HEAT_PUMP"
    OTHER = "OTHER"


class OcppVersion(StrEnum):
    """OCPP version a charging station speaks to its CSBE."""

    OCPP_1_6 = "OCPP_1_6"
    OCPP_2_0_1 = "OCPP_2_0_1"
    OCPP_2_1 = "OCPP_2_1"


class GridFunction(StrEnum):
    """DER grid-support function, mirroring OCPP 2.1 `DERControlEnumType` (see `ocpp_name`).

    The same functions appear as IEEE 2030.5 `DERControlBase` modes (`opModFreqDroop`,
    `opModVoltVar`, ...) and IEC 61850-7-420 logical nodes.
    """

    ENTER_SERVICE = "ENTER_SERVICE"
    FREQ_DROOP = "FREQ_DROOP"
    FREQ_WATT = "FREQ_WATT"
    FIXED_PF_ABSORB = "FIXED_PF_ABSORB"
    FIXED_PF_INJECT = "FIXED_PF_INJECT"
    FIXED_VAR = "FIXED_VAR"
    GRADIENTS = "GRADIENTS"
    HF_MUST_TRIP = "HF_MUST_TRIP"
    HF_MAY_TRIP = "HF_MAY_TRIP"
    HV_MUST_TRIP = "HV_MUST_TRIP"
    HV_MOM_CESS = "HV_MOM_CESS"
    HV_MAY_TRIP = "HV_MAY_TRIP"
    LIMIT_MAX_DISCHARGE = "LIMIT_MAX_DISCHARGE"
    LF_MUST_TRIP = "LF_MUST_TRIP"
    LV_MUST_TRIP = "LV_MUST_TRIP"
    LV_MOM_CESS = "LV_MOM_CESS"
    LV_MAY_TRIP = "LV_MAY_TRIP"
    POWER_MONITORING_MUST_TRIP = "POWER_MONITORING_MUST_TRIP"
    VOLT_VAR = "VOLT_VAR"
    VOLT_WATT = "VOLT_WATT"
    WATT_PF = "WATT_PF"
    WATT_VAR = "WATT_VAR"

    @property
    def ocpp_name(self) -> str:
        """The OCPP 2.1 `DERControlEnumType` value, e.g. `FreqDroop`."""
        return _GRID_FUNCTION_OCPP[self]


_GRID_FUNCTION_OCPP = {
    GridFunction.ENTER_SERVICE: "EnterService",
    GridFunction.FREQ_DROOP: "FreqDroop",
    GridFunction.FREQ_WATT: "FreqWatt",
    GridFunction.FIXED_PF_ABSORB: "FixedPFAbsorb",
    GridFunction.FIXED_PF_INJECT: "FixedPFInject",
    GridFunction.FIXED_VAR: "FixedVar",
    GridFunction.GRADIENTS: "Gradients",
    GridFunction.HF_MUST_TRIP: "HFMustTrip",
    GridFunction.HF_MAY_TRIP: "HFMayTrip",
    GridFunction.HV_MUST_TRIP: "HVMustTrip",
    GridFunction.HV_MOM_CESS: "HVMomCess",
    GridFunction.HV_MAY_TRIP: "HVMayTrip",
    GridFunction.LIMIT_MAX_DISCHARGE: "LimitMaxDischarge",
    GridFunction.LF_MUST_TRIP: "LFMustTrip",
    GridFunction.LV_MUST_TRIP: "LVMustTrip",
    GridFunction.LV_MOM_CESS: "LVMomCess",
    GridFunction.LV_MAY_TRIP: "LVMayTrip",
    GridFunction.POWER_MONITORING_MUST_TRIP: "PowerMonitoringMustTrip",
    GridFunction.VOLT_VAR: "VoltVar",
    GridFunction.VOLT_WATT: "VoltWatt",
    GridFunction.WATT_PF: "WattPF",
    GridFunction.WATT_VAR: "WattVar",
}


class CurveUnit(StrEnum):
    """Unit of a curve axis: OCPP 2.1 `DERUnitEnumType` plus absolute units (see `ocpp_name`)."""

    PCT_MAX_W = "PCT_MAX_W"
    PCT_MAX_VAR = "PCT_MAX_VAR"
    PCT_W_AVAIL = "PCT_W_AVAIL"
    PCT_VAR_AVAIL = "PCT_VAR_AVAIL"
    PCT_EFFECTIVE_V = "PCT_EFFECTIVE_V"
    V = "V"
    HZ = "HZ"
    W = "W"
    VAR = "VAR"

    @property
    def ocpp_name(self) -> str | None:
        """The OCPP 2.1 `DERUnitEnumType` value, or None for an absolute unit OCPP lacks."""
        return _CURVE_UNIT_OCPP.get(self)

    @property
    def is_voltage(self) -> bool:
        """True for a voltage axis (x of volt-var and volt-watt curves)."""
        return self in (CurveUnit.V, CurveUnit.PCT_EFFECTIVE_V)

    @property
    def is_active_power(self) -> bool:
        """True for an active-power axis (y of a volt-watt curve)."""
        return self in (CurveUnit.W, CurveUnit.PCT_MAX_W, CurveUnit.PCT_W_AVAIL)

    @property
    def is_reactive_power(self) -> bool:
        """True for a reactive-power axis (y of a volt-var curve)."""
        return self in (CurveUnit.VAR, CurveUnit.PCT_MAX_VAR, CurveUnit.PCT_VAR_AVAIL)


_CURVE_UNIT_OCPP = {
    CurveUnit.PCT_MAX_W: "PctMaxW",
    CurveUnit.PCT_MAX_VAR: "PctMaxVar",
    CurveUnit.PCT_W_AVAIL: "PctWAvail",
    CurveUnit.PCT_VAR_AVAIL: "PctVarAvail",
    CurveUnit.PCT_EFFECTIVE_V: "PctEffectiveV",
}
