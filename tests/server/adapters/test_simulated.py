"""The simulator behind the `StationAdapter` seam: commands, expiry, state, sessions, readings."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from fcsbe.server.adapters.base import (
    ClearCommand,
    Command,
    ControlLevel,
    ControlTarget,
    DroopCommand,
    FfrCommand,
    LimitCommand,
    SetpointCommand,
    StationAdapter,
)
from fcsbe.server.adapters.scenario_registry import scenario_fleet
from fcsbe.server.adapters.simulated import SimulatedStations
from fcsbe.server.adapters.unconnected import UnconnectedStations
from fcsbe.sim import SimOptions, VirtualClock

EVSE1 = "DE*FCS*E0000001*1"
EVSE2 = "DE*FCS*E0000002*1"


def _evse(evse_id: str) -> ControlTarget:
    return ControlTarget(ControlLevel.EVSE, evse_id)


@pytest.fixture
def stations() -> SimulatedStations:
    """UC 1.7: two AC V2G EVSEs, one EV with an on-board inverter, one without."""
    fleet = scenario_fleet("uc-1.7")
    options = SimOptions(meter_resolution_s=10, ffr_resolution_s=0.1)
    return SimulatedStations(fleet, VirtualClock(fleet.start), options=options)


def test_both_adapters_satisfy_the_protocol(stations: SimulatedStations) -> None:
    assert isinstance(stations, StationAdapter)
    assert isinstance(UnconnectedStations(), StationAdapter)


async def test_setpoints_limits_and_clear_reach_the_evse(stations: SimulatedStations) -> None:
    target = _evse(EVSE1)
    assert (await stations.apply(Command(target, SetpointCommand(-5_000.0)))).accepted
    stations.advance(60)
    (state,) = await stations.read_state([target])
    assert state.p_w == pytest.approx(-5_000.0)
    assert state.controls == ("SetpointCommand",)
    assert state.max_export_w > 0
    await stations.apply(Command(target, LimitCommand(max_export_w=2_000.0)))
    stations.advance(60)
    (state,) = await stations.read_state([target])
    assert state.p_w == pytest.approx(-2_000.0)
    await stations.apply(Command(target, ClearCommand()))
    stations.advance(60)
    (state,) = await stations.read_state([target])
    assert state.p_w == pytest.approx(11_000.0)
    assert state.controls == ()


async def test_an_expired_command_is_dropped_and_the_others_stay(
    stations: SimulatedStations,
) -> None:
    target = _evse(EVSE1)
    until = stations.now() + timedelta(minutes=5)
    await stations.apply(Command(target, LimitCommand(max_import_w=8_000.0), fs_id="fs-1"))
    await stations.apply(Command(target, SetpointCommand(4_500.0), valid_until=until))
    stations.advance(60)
    assert (await stations.read_state([target]))[0].p_w == pytest.approx(4_500.0)
    stations.advance(300)
    (state,) = await stations.read_state([target])
    assert state.controls == ("LimitCommand",)
    assert state.p_w == pytest.approx(8_000.0)
    late = Command(target, SetpointCommand(1_000.0), valid_until=stations.now())
    refused = await stations.apply(late)
    assert (refused.accepted, refused.reason) == (False, "valid_until has passed")


async def test_site_and_grid_node_targets(stations: SimulatedStations) -> None:
    site = ControlTarget(ControlLevel.SITE, "SITE-AC-V2G")
    assert (await stations.apply(Command(site, LimitCommand(max_import_w=4_000.0)))).accepted
    stations.advance(60)
    (state,) = await stations.read_state([site])
    assert state.p_w <= 4_000.0 + 1e-6
    assert state.connected_evs == 2
    node = ControlTarget(ControlLevel.GRID_NODE, "NODE-NOWHERE")
    refused = await stations.apply(Command(node, LimitCommand(max_import_w=1.0)))
    assert not refused.accepted
    assert "unknown grid node" in (refused.reason or "")
    wrong = await stations.apply(Command(node, SetpointCommand(1.0)))
    assert (wrong.accepted, wrong.reason) == (False, "a grid node takes limits only")
    assert await stations.read_state([node, _evse("XX*NOP*E1*1")]) == []


async def test_apply_many_fast_path_and_mixed_batches(stations: SimulatedStations) -> None:
    results = await stations.apply_many(
        [
            Command(_evse(EVSE1), SetpointCommand(2_000.0)),
            Command(_evse(EVSE2), SetpointCommand(4_000.0)),
        ]
    )
    assert all(r.accepted for r in results)
    stations.advance(30)
    states = await stations.read_state([_evse(EVSE1), _evse(EVSE2)])
    # An AC EVSE offers 0 or at least 6 A on three phases (4,140 W): setpoints round to either.
    assert [round(s.p_w) for s in states] == [0, 4140]
    mixed = await stations.apply_many(
        [
            Command(_evse(EVSE1), SetpointCommand(9_000.0)),
            Command(_evse("XX*NOP*E1*1"), ClearCommand()),
        ]
    )
    assert [r.accepted for r in mixed] == [True, False]


async def test_droop_and_ffr_run_locally_and_leave_evidence(stations: SimulatedStations) -> None:
    target = _evse(EVSE1)
    ffr = FfrCommand(
        trigger_hz=49.7, delta_p_w=-8_000.0, full_activation_time_s=1.0, support_duration_s=5.0
    )
    assert (await stations.apply(Command(target, ffr))).accepted
    droop = DroopCommand(
        f_ref_hz=50.0, deadband_hz=0.02, droop_pct=5.0, p_min_w=-11_000.0, p_max_w=11_000.0
    )
    assert (await stations.apply(Command(_evse(EVSE2), droop))).accepted
    stations.simulator.set_frequency("SITE-AC-V2G", 49.6)
    stations.advance(3, dt_s=0.5)
    evidence = await stations.drain_ffr_evidence()
    ffr_samples = [e for e in evidence if e.phase != "DROOP"]
    assert {e.evse_id for e in ffr_samples} == {EVSE1}
    assert min(e.commanded_delta_w for e in ffr_samples) == pytest.approx(-8_000.0)
    # The droop answered the same frequency change, sampled at high resolution too.
    assert {e.evse_id for e in evidence if e.phase == "DROOP"} == {EVSE2}
    kinds = {e.kind for e in await stations.drain_events()}
    assert "FFR_ACTIVATED" in kinds


async def test_sessions_readings_and_events_map_onto_adapter_types(
    stations: SimulatedStations,
) -> None:
    sessions = {s.evse_id: s for s in await stations.sessions()}
    bidi, plain = sessions[EVSE1], sessions[EVSE2]
    assert (bidi.ev.model_id, bidi.ev.onboard_inverter, bidi.consent_v2g) == (
        "onboard-bidi",
        True,
        True,
    )
    assert "EN 50549-1" in bidi.ev.conformity
    assert (plain.ev.bidirectional, plain.ev.onboard_inverter) == (False, False)
    assert bidi.min_soc_at_departure_pct == 60.0
    assert bidi.max_energy_to_grid_wh == 10_000.0
    # An ISO 15118 EV: Plug & Charge with its contract id, and the EV's own ids.
    assert bidi.id_token is not None
    assert re.fullmatch(r"[A-Z]{2}-[A-Z]{3}-C\w{8}-\w", bidi.id_token)
    assert bidi.vin is not None
    assert len(bidi.vin) == 17
    assert bidi.evcc_id is not None
    assert re.fullmatch(r"[0-9A-F]{12}", bidi.evcc_id)
    assert plain.id_token
    assert plain.id_token != bidi.id_token
    stations.advance(30)
    readings = await stations.drain_measurements()
    assert {r.meter_id for r in readings} >= {EVSE1, EVSE2, "SITE-AC-V2G"}
    assert all(r.quality == "MEASURED" for r in readings)
    assert await stations.drain_measurements() == []
    stations.simulator.set_grid_state("SITE-AC-V2G", "OFF_GRID")
    (event,) = [e for e in await stations.drain_events() if e.kind == "GRID_STATE_CHANGED"]
    assert (event.kind, event.site_id, event.data["grid_state"]) == (
        "GRID_STATE_CHANGED",
        "SITE-AC-V2G",
        "OFF_GRID",
    )
    assert stations.telemetry_interval_s == 10


async def test_unconnected_stations_refuse_everything() -> None:
    adapter = UnconnectedStations()
    await adapter.start()
    result = await adapter.apply(Command(_evse(EVSE1), SetpointCommand(1.0)))
    assert not result.accepted
    assert "no station connection" in (result.reason or "")
    assert [
        r.accepted for r in await adapter.apply_many([Command(_evse(EVSE1), ClearCommand())])
    ] == [False]
    assert await adapter.sessions() == []
    assert await adapter.read_state([_evse(EVSE1)]) == []
    assert await adapter.drain_measurements() == []
    assert await adapter.drain_ffr_evidence() == []
    assert await adapter.drain_events() == []
    await adapter.stop()


async def test_expiry_is_not_logged_at_info(
    stations: SimulatedStations, caplog: pytest.LogCaptureFixture
) -> None:
    """An FS window ending is routine: the log at INFO does not repeat it for every target."""
    until = stations.now() + timedelta(minutes=1)
    await stations.apply(Command(_evse(EVSE1), SetpointCommand(4_500.0), valid_until=until))
    with caplog.at_level("INFO", logger="fcsbe"):
        stations.advance(120)
        (state,) = await stations.read_state([_evse(EVSE1)])
    assert state.controls == ()
    assert [r.getMessage() for r in caplog.records if r.levelno >= 20] == []


async def test_a_batch_with_an_end_expires_together(stations: SimulatedStations) -> None:
    until = stations.now() + timedelta(minutes=2)
    batch = [
        Command(_evse(EVSE1), SetpointCommand(-6_000.0), fs_id="fs-9", valid_until=until),
        Command(_evse(EVSE2), SetpointCommand(-6_000.0), fs_id="fs-9", valid_until=until),
    ]
    assert all(r.accepted for r in await stations.apply_many(batch))
    stations.advance(60)
    assert [s.p_w for s in await stations.read_state([_evse(EVSE1)])] == [-6_000.0]
    stations.advance(120)
    states = await stations.read_state([_evse(EVSE1), _evse(EVSE2)])
    assert [s.controls for s in states] == [(), ()]
    assert states[0].p_w > 0  # back to unmanaged charging
