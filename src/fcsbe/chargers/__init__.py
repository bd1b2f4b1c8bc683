"""Simulated charging stations over real OCPP (2.1, 2.0.1, 1.6J): `fcsbe stations simulate`.

The simulator's fleet (`fcsbe.sim`) as OCPP charge points, one WebSocket each, so that a CSMS
(the FCSBE's OCPP endpoint, or any other) can be exercised end to end without hardware: the
physics, EV arrivals and meters are the simulator's; booting, status, transactions, meter
values, charging needs and DER alarms go out as OCPP messages; charging profiles and DER
controls coming in are checked by the station's rules and put in force on the simulated EVSEs.

It imports only the simulator, the `ocpp` library and `websockets`: never the server or the
client (import-linter contract), so it tests the server from the outside, as a charger would.
See docs/simulator.md.
"""

from fcsbe.chargers.fleet import ChargerFleet
from fcsbe.chargers.link import StationLink, basic_auth
from fcsbe.chargers.profiles import (
    EvseLimit,
    OcppVersion,
    Profile,
    ProfileStore,
    StationCapabilities,
    Verdict,
)
from fcsbe.chargers.protocol import SUBPROTOCOLS
from fcsbe.chargers.station import SimulatedStation

__all__ = [
    "SUBPROTOCOLS",
    "ChargerFleet",
    "EvseLimit",
    "OcppVersion",
    "Profile",
    "ProfileStore",
    "SimulatedStation",
    "StationCapabilities",
    "StationLink",
    "Verdict",
    "basic_auth",
]
