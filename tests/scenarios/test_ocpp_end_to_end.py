"""The OCPP path end to end, per version: simulated chargers over real WebSockets to the real app.

boot -> status -> transactions -> an FS accepted through the real client -> charging profiles
received, checked and applied by the simulated station -> meter values -> measurements and the
service record -> profiles cleared when the FS ends. A station that loses power comes back,
boots and gets its profiles again; two FS on the same EVSEs never make the station refuse a
profile. Every message both ways is schema-validated by the `ocpp` library on both ends.

Each test runs on one backend (both are covered across them), to keep the suite lean.
"""

from __future__ import annotations

import pytest

from fcsbe.model import FsState
from fcsbe.server.settings import Settings
from fcsbe.sim import LimitControl, SetpointControl
from tests.chargers.served import OcppWorld, ocpp_world

STATION = "CS-0000001"
SITE = "SITE-AC-V2G"
EVSES = ["DE*FCS*E0000001*1", "DE*FCS*E0000002*1"]


def _limited(world: OcppWorld) -> list[LimitControl | SetpointControl]:
    """The limits and setpoints in force on the simulated EVSEs (2.1 gets setpoints)."""
    return [
        c
        for evse in EVSES
        for c in world.fleet.sim.evse_state(evse).controls
        if isinstance(c, LimitControl | SetpointControl)
    ]


def _power_w(world: OcppWorld) -> float:
    return sum(world.fleet.sim.evse_state(e).p_w for e in EVSES)


@pytest.mark.parametrize(
    ("version", "backend"),
    [("2.1", "sqlite"), ("2.0.1", "sqlite"), ("1.6", "postgresql")],
)
async def test_an_fs_runs_over_ocpp(settings: Settings, version: str) -> None:
    async with ocpp_world(settings, version) as world:
        link = world.fleet.links[STATION]
        station = world.fleet.stations[STATION]
        assert link.boots == 1
        sessions = await world.adapter.sessions()
        assert sorted(s.evse_id for s in sessions) == EVSES  # the two transactions

        fs = await world.start_fs("fs-ocpp", SITE, p_w=6_000.0)
        assert fs.state is FsState.ACTIVE
        assert len(station.store) >= 1  # profiles received and installed
        assert _limited(world)  # ... and in force on the simulated EVSEs
        await world.run(10, tick_s=10)
        assert _power_w(world) <= 6_000 * 1.05
        series = await world.fo.flexibility_services.measurements("fs-ocpp")
        assert any(s.points for s in series)  # meter values reached the FO

        # A power cut: the station forgets its profiles, reconnects and boots; the server
        # sends them again.
        world.fleet.power_cycle(STATION)
        await world.reconnected()
        await world.steps()
        assert link.boots == 2
        assert len(station.store) >= 1
        assert _limited(world)

        await world.run(100, tick_s=50)  # past the window and the record delay
        done = await world.fo.flexibility_services.get("fs-ocpp")
        assert done.state is FsState.RECORDED
        record = await world.fo.records.get("fs-ocpp")
        assert record.intervals
        assert record.intervals[0].measured_w is not None
        assert len(station.store) == 0  # cleared when the FS ended
        assert not _limited(world)
        assert station.refusals == []
        assert link.errors == {}


@pytest.mark.parametrize(("version", "backend"), [("2.1", "sqlite"), ("2.0.1", "postgresql")])
async def test_two_fs_on_the_same_evses_never_collide(settings: Settings, version: str) -> None:
    async with ocpp_world(settings, version) as world:
        await world.request_fs("fs-setpoint", SITE, p_w=8_000.0, minutes=2)
        dr = {
            "fs_type": "DEMAND_RESPONSE",
            "currency": "EUR",
            "intervals": [{"start_offset_s": 0, "duration_s": 120, "price_per_kwh": 0.60}],
        }
        await world.request_fs("fs-dr", SITE, fs_type="DEMAND_RESPONSE", parameters=dr, minutes=2)
        await world.run(12, tick_s=12)
        for fs_id in ("fs-setpoint", "fs-dr"):
            assert (await world.fo.flexibility_services.get(fs_id)).state is FsState.ACTIVE
        station = world.fleet.stations[STATION]
        assert _limited(world)
        await world.run(30, tick_s=15)
        assert _power_w(world) <= 8_000 * 1.05
        assert station.refusals == []
        assert world.fleet.links[STATION].errors == {}
        slots = [(p.evse, p.purpose, p.stack_level) for p in station.store.profiles]
        assert len(slots) == len(set(slots))
