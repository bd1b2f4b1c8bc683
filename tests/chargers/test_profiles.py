"""The station side of OCPP smart charging: what a simulated station installs and what it allows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from fcsbe.chargers.profiles import (
    EvseElectrics,
    EvseLimit,
    OcppVersion,
    Period,
    Profile,
    ProfileStore,
    StationCapabilities,
    profile_from_2x,
    profile_from_16,
)

NOW = datetime(2025, 6, 2, 15, 0, tzinfo=UTC)
TX = {1: "tx-1", 2: None}


def store(version: OcppVersion = "2.1", **caps: object) -> ProfileStore:
    capabilities = StationCapabilities(version=version, **caps)  # type: ignore[arg-type]
    return ProfileStore(capabilities, {1: EvseElectrics(3, 230.0), 2: EvseElectrics(1, 230.0)})


def profile(
    pid: int,
    purpose: str = "TxProfile",
    *,
    evse: int = 1,
    stack: int = 0,
    periods: tuple[Period, ...] = (Period(0, limit=10_000.0),),
    unit: str = "W",
    **extra: object,
) -> Profile:
    return Profile(
        id=pid,
        evse=evse,
        stack_level=stack,
        purpose=purpose,
        kind=str(extra.pop("kind", "Relative")),
        unit=unit,
        periods=periods,
        **extra,  # type: ignore[arg-type]
    )


def test_the_highest_stack_level_of_a_purpose_wins() -> None:
    s = store()
    assert s.install(profile(1, stack=1, periods=(Period(0, 6_000.0),)), NOW, TX).accepted
    assert s.install(profile(2, stack=3, periods=(Period(0, 4_000.0),)), NOW, TX).accepted
    assert s.limits(NOW, [1])[1] == EvseLimit(4_000.0, None, None)
    assert s.clear(2)
    assert s.limits(NOW, [1])[1].max_import_w == 6_000.0


def test_a_tx_profile_replaces_the_default_and_the_station_maximum_caps_both() -> None:
    s = store()
    default = profile(1, "TxDefaultProfile", evse=0, stack=5, periods=(Period(0, 9_000.0),))
    assert s.install(default, NOW, TX).accepted
    assert s.limits(NOW, [1])[2].max_import_w == 9_000.0  # station-wide default on every EVSE
    assert s.install(profile(2, stack=0, periods=(Period(0, 7_000.0),)), NOW, TX).accepted
    assert s.limits(NOW, [1])[1].max_import_w == 7_000.0  # TxProfile beats any default level
    cap = profile(3, "ChargingStationMaxProfile", evse=0, periods=(Period(0, 8_000.0),))
    assert s.install(cap, NOW, TX).accepted
    limits = s.limits(NOW, [1, 2])  # 8 kW shared by the two occupied EVSEs
    assert limits[1].max_import_w == 4_000.0
    assert limits[2].max_import_w == 4_000.0


def test_amperes_count_phases_and_voltage() -> None:
    s = store()
    amps = profile(1, "TxDefaultProfile", evse=2, unit="A", periods=(Period(0, 16.0),))
    assert s.install(amps, NOW, TX).accepted
    assert s.limits(NOW, [])[2].max_import_w == pytest.approx(16 * 230)
    three = profile(2, unit="A", periods=(Period(0, 16.0, number_phases=3),))
    assert s.install(three, NOW, TX).accepted
    assert s.limits(NOW, [])[1].max_import_w == pytest.approx(16 * 3 * 230)


def test_operation_modes_of_2_1() -> None:
    s = store()
    periods = (
        Period(
            0,
            limit=11_000.0,
            discharge_limit=-5_000.0,
            setpoint=-8_000.0,
            operation_mode="CentralSetpoint",
        ),
        Period(600, operation_mode="Idle"),
        Period(1200, limit=3_000.0, operation_mode="ChargingOnly"),
    )
    assert s.install(profile(1, periods=periods), NOW, TX).accepted
    assert s.limits(NOW, [1])[1] == EvseLimit(11_000.0, 5_000.0, -5_000.0)  # setpoint clamped
    assert s.limits(NOW + timedelta(seconds=700), [1])[1] == EvseLimit(0.0, 0.0, None)
    assert s.limits(NOW + timedelta(seconds=1300), [1])[1] == EvseLimit(3_000.0, 0.0, None)


def test_schedules_start_end_and_expire() -> None:
    s = store()
    later = profile(
        1,
        "TxDefaultProfile",
        kind="Absolute",
        start_schedule=NOW + timedelta(minutes=10),
        duration_s=600,
        valid_to=NOW + timedelta(hours=1),
    )
    assert s.install(later, NOW, TX).accepted
    assert s.limits(NOW, [])[1].free
    assert s.limits(NOW + timedelta(minutes=15), [])[1].max_import_w == 10_000.0
    assert s.limits(NOW + timedelta(minutes=25), [])[1].free
    s.purge(NOW + timedelta(hours=1))
    assert len(s) == 0


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        (profile(1, "ChargingStationExternalConstraints", evse=0), "InvalidProfile"),
        (profile(1, "ChargingStationMaxProfile", evse=1), "InvalidProfile"),
        (profile(1, evse=0), "InvalidProfile"),
        (profile(1, evse=9), "UnknownEvse"),
        (profile(1, stack=9), "InvalidStackLevel"),
        (profile(1, evse=2), "TxNotFound"),
        (profile(1, transaction_id="other"), "TxNotFound"),
        (profile(1, periods=tuple(Period(60 * k, 1.0) for k in range(25))), "InvalidSchedule"),
        (profile(1, periods=(Period(10, 1.0),)), "InvalidSchedule"),
        (profile(1, periods=(Period(0, 1.0), Period(0, 2.0))), "InvalidSchedule"),
        (profile(1, periods=(Period(0, 1.0, operation_mode="LocalFrequency"),)), "InvalidSchedule"),
        (profile(1, periods=(Period(0, 1.0, discharge_limit=5.0),)), "InvalidSchedule"),
        (profile(1, "TxDefaultProfile", kind="Absolute"), "InvalidSchedule"),
    ],
)
def test_what_a_station_refuses(bad: Profile, reason: str) -> None:
    s = store()
    verdict = s.install(bad, NOW, TX)
    assert not verdict.accepted
    assert verdict.reason == reason
    assert len(s) == 0


def test_units_the_station_does_not_support_are_refused() -> None:
    verdict = store(rate_units=("W",)).install(profile(1, unit="A"), NOW, TX)
    assert verdict.reason == "UnsupportedRateUnit"


def test_same_slot_2x_refuses_16_replaces_same_id_replaces() -> None:
    s2 = store("2.0.1")
    assert s2.install(profile(1, stack=2), NOW, TX).accepted
    verdict = s2.install(profile(2, stack=2), NOW, TX)
    assert verdict.reason == "DuplicateProfile"
    assert s2.install(profile(1, stack=2, periods=(Period(0, 5.0),)), NOW, TX).accepted
    assert [p.periods[0].limit for p in s2.profiles] == [5.0]
    s16 = store("1.6")
    assert s16.install(profile(1, stack=2), NOW, TX).accepted
    assert s16.install(profile(2, stack=2), NOW, TX).accepted
    assert [p.id for p in s16.profiles] == [2]


def test_the_profile_table_has_a_size() -> None:
    s = store(max_profiles=2)
    assert s.install(profile(1, stack=0), NOW, TX).accepted
    assert s.install(profile(2, stack=1), NOW, TX).accepted
    assert s.install(profile(3, stack=2), NOW, TX).reason == "MaxProfiles"
    assert s.install(profile(2, stack=3), NOW, TX).accepted  # replacing by id is no new entry


def test_a_tx_profile_ends_with_its_transaction_and_clear_takes_criteria() -> None:
    s = store()
    assert s.install(profile(1), NOW, TX).accepted
    assert s.install(profile(2, "TxDefaultProfile", evse=2, stack=1), NOW, TX).accepted
    assert s.install(profile(3, "TxDefaultProfile", evse=2, stack=2), NOW, TX).accepted
    s.transaction_ended("tx-1")
    assert [p.id for p in s.profiles] == [2, 3]
    assert not s.clear(purpose="TxProfile")
    assert s.clear(evse=2, stack_level=1)
    assert [p.id for p in s.profiles] == [3]
    assert s.clear()
    assert len(s) == 0


def test_wire_shapes_of_2x_and_16_read_alike() -> None:
    p2 = profile_from_2x(
        1,
        {
            "id": 4,
            "stack_level": 1,
            "charging_profile_purpose": "TxProfile",
            "charging_profile_kind": "Relative",
            "valid_to": "2025-06-02T16:00:00Z",
            "charging_schedule": [
                {
                    "id": 1,
                    "charging_rate_unit": "W",
                    "charging_schedule_period": [{"start_period": 0, "limit": 7400.0}],
                }
            ],
        },
    )
    p16 = profile_from_16(
        1,
        {
            "charging_profile_id": 4,
            "stack_level": 1,
            "charging_profile_purpose": "TxProfile",
            "charging_profile_kind": "Relative",
            "valid_to": "2025-06-02T16:00:00Z",
            "charging_schedule": {
                "charging_rate_unit": "W",
                "charging_schedule_period": [{"start_period": 0, "limit": 7400.0}],
            },
        },
    )
    assert p2 == p16
    assert p2.valid_to == datetime(2025, 6, 2, 16, tzinfo=UTC)
    cap16 = profile_from_16(0, {**_as16_max(), "charging_profile_id": 5})
    assert cap16.purpose == "ChargingStationMaxProfile"


def _as16_max() -> dict[str, object]:
    return {
        "stack_level": 0,
        "charging_profile_purpose": "ChargePointMaxProfile",
        "charging_profile_kind": "Relative",
        "charging_schedule": {
            "charging_rate_unit": "A",
            "charging_schedule_period": [{"start_period": 0, "limit": 32.0}],
        },
    }


def test_local_frequency_becomes_ffr_or_droop() -> None:
    from fcsbe.chargers.station import local_response
    from fcsbe.sim import DroopControl, FfrControl

    ffr = Period(
        0,
        limit=11_000.0,
        discharge_limit=-11_000.0,
        operation_mode="LocalFrequency",
        v2x_baseline=2_000.0,
        freq_watt=((49.8, -5_000.0), (49.81, 0.0)),
        custom=(("full_activation_time", 1.0), ("support_duration", 30.0), ("vendor_id", "x")),
    )
    s = store()
    assert s.install(profile(1, periods=(ffr,)), NOW, TX).accepted
    limit = s.limits(NOW, [1])[1]
    assert limit.setpoint_w == 2_000.0
    assert limit.frequency is not None
    assert local_response(limit.frequency, limit) == FfrControl(49.8, -5_000.0, 1.0, 30.0, 0.0)
    droop = ffr._replace(
        freq_watt=((49.4, -10_000.0), (49.9, 0.0), (50.1, 0.0), (50.6, 10_000.0)), custom=()
    )
    assert s.install(profile(2, stack=1, periods=(droop,)), NOW, TX).accepted
    limit = s.limits(NOW, [1])[1]
    assert limit.frequency is not None
    control = local_response(limit.frequency, limit)
    assert isinstance(control, DroopControl)
    assert control.f_ref_hz == pytest.approx(50.0)
    assert control.deadband_hz == pytest.approx(0.1)
    assert control.droop_pct == pytest.approx(1.0)
    bad = ffr._replace(freq_watt=((50.0, 1.0),))
    assert s.install(profile(3, stack=2, periods=(bad,)), NOW, TX).reason == "InvalidSchedule"


def test_voltage_curves_ride_on_the_evses_local_function() -> None:
    """Volt-var / volt-watt run on the EVSE's droop (a LocalFrequency one, or the station's
    FreqDroop); with FFR or nothing armed, on a droop that leaves the frequency alone."""
    from fcsbe.chargers.profiles import EvseLimit, FrequencyResponse
    from fcsbe.chargers.station import _controls
    from fcsbe.sim import DroopControl, FfrControl, LimitControl

    var = ((92.0, 44.0), (98.0, 0.0), (102.0, 0.0), (108.0, -44.0))
    watt = ((90.0, -5_000.0), (95.0, 0.0))
    free = EvseLimit()
    (_, alone) = _controls(free, None, (var, watt), 50.0, (-3_000.0, 11_000.0))
    assert isinstance(alone, DroopControl)
    assert (alone.volt_var, alone.volt_watt) == (var, watt)
    assert (alone.p_min_w, alone.p_max_w) == (-3_000.0, 11_000.0)
    assert {w for _, w in alone.curve} == {0.0}  # no frequency response of its own
    freq = DroopControl(50.0, 0.02, 5.0, 0.0, 11_000.0)
    (_, on_droop) = _controls(free, freq, (var, ()), 50.0, (0.0, 11_000.0))
    assert on_droop == DroopControl(50.0, 0.02, 5.0, 0.0, 11_000.0, volt_var=var)
    step = FrequencyResponse(((49.8, -5_000.0), (49.81, 0.0)), {"full_activation_time": 1.0})
    capped = EvseLimit(max_import_w=7_000.0, max_export_w=2_000.0, frequency=step)
    controls = _controls(capped, freq, (var, ()), 50.0, (-11_000.0, 11_000.0))
    assert [type(c) for c in controls[1:]] == [LimitControl, FfrControl, DroopControl]
    assert isinstance(controls[-1], DroopControl)
    assert (controls[-1].p_min_w, controls[-1].p_max_w) == (-2_000.0, 7_000.0)
    assert controls[-1].volt_var == var
