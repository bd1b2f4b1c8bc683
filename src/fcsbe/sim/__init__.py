"""Deterministic station simulator: sites, EVSEs and EVs to run every use case without hardware.

Pure Python and seeded, with the clock injected and no I/O: the server drives it through its
station adapter, the tests fast-forward it on a `VirtualClock`, and `fcsbe serve` paces it on the
wall clock with `RealTimeRunner`. See docs/simulator.md.

It imports nothing of fcsbe (not even `fcsbe.model`): the adapter maps its plain values onto the
wire model, so the simulator never has to follow changes of the interface.
"""

from fcsbe.sim.clock import Clock, SystemClock, VirtualClock
from fcsbe.sim.controls import (
    ClearControl,
    Control,
    DroopControl,
    FfrControl,
    LimitControl,
    SetpointControl,
)
from fcsbe.sim.engine import Simulator
from fcsbe.sim.fleet import (
    Consent,
    DwellTime,
    EvProfile,
    EvseSpec,
    EvUserLimits,
    InitialSession,
    KnownEvUser,
    ScenarioFleet,
    SiteProfile,
    SiteSpec,
    StationSpec,
    StorageSpec,
)
from fcsbe.sim.meters import FaultOptions, FfrSample, MeterReading
from fcsbe.sim.runner import RealTimeRunner
from fcsbe.sim.signals import FrequencyEventOptions
from fcsbe.sim.state import (
    Aggregate,
    EnergyRequest,
    EvSession,
    EvseState,
    Headroom,
    SimEvent,
    SimOptions,
    SimStats,
    SiteState,
)
from fcsbe.sim.views import EvseGroup

__all__ = [
    "Aggregate",
    "ClearControl",
    "Clock",
    "Consent",
    "Control",
    "DroopControl",
    "DwellTime",
    "EnergyRequest",
    "EvProfile",
    "EvSession",
    "EvUserLimits",
    "EvseGroup",
    "EvseSpec",
    "EvseState",
    "FaultOptions",
    "FfrControl",
    "FfrSample",
    "FrequencyEventOptions",
    "Headroom",
    "InitialSession",
    "KnownEvUser",
    "LimitControl",
    "MeterReading",
    "RealTimeRunner",
    "ScenarioFleet",
    "SetpointControl",
    "SimEvent",
    "SimOptions",
    "SimStats",
    "Simulator",
    "SiteProfile",
    "SiteSpec",
    "SiteState",
    "StationSpec",
    "StorageSpec",
    "SystemClock",
    "VirtualClock",
]
