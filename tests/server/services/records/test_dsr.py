"""The DSR builder: hand-checked figures per interval, baselines, sessions, settlement, flags."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from fcsbe.model import (
    BaselineMethod,
    DataQualityCode,
    DetailedServiceRecord,
    FsState,
    digest,
)
from fcsbe.server.services.records.dsr.builder import build_dsr
from fcsbe.server.services.records.dsr.connection import without_meters
from fcsbe.server.services.records.dsr.inputs import (
    Activation,
    ConnectionPoint,
    MeterSample,
    PowerPeriod,
    RecordInputs,
    SessionSpan,
    SetpointChange,
)
from fcsbe.server.services.records.inputs import _load_periods, note_site_loads
from tests.support.dsr_fixtures import T0, contract_terms, fs_model, meter, readings

M = timedelta(minutes=1)
CREATED = T0 + timedelta(hours=1)


def _build(
    fs_params: dict[str, object], inputs: RecordInputs, **fs: object
) -> DetailedServiceRecord:
    model = fs_model(fs_params, **fs)  # type: ignore[arg-type]
    built = build_dsr(model, contract_terms(), inputs, final_state=model.state, created_at=CREATED)
    assert DetailedServiceRecord.model_validate_json(built.record.model_dump_json()) == built.record
    return built.record


def test_congestion_reproduces_the_documented_example() -> None:
    """The DSR example of the information model, rebuilt from meter readings."""
    site = meter("site-1", level="SITE")

    def power(t: datetime) -> float:
        return 395_000.0 if t < T0 + 15 * M else 430_000.0

    inputs = RecordInputs(
        meters=[site],
        readings=readings("site-1", T0, T0 + 30 * M, 60, power),
        declared_baseline=[
            PowerPeriod(T0, T0 + 15 * M, 520_000.0),
            PowerPeriod(T0 + 15 * M, T0 + 30 * M, 510_000.0),
        ],
    )
    record = _build(
        {
            "fs_type": "CONGESTION",
            "grid_node": "871687120000000123",
            "periods": [
                {"start_offset_s": 0, "duration_s": 900, "import_limit_w": 400000.0},
                {"start_offset_s": 900, "duration_s": 900, "import_limit_w": 400000.0},
            ],
        },
        inputs,
        baseline_method="DECLARED_SCHEDULE",
    )
    first, second = record.intervals
    assert (first.requested_w, first.baseline_w, first.measured_w) == (400000, 520000, 395000)
    assert (first.ordered_w, first.delivered_w, first.deviation_w) == (-120000, -125000, -5000)
    assert (first.deficiency_w, first.within_tolerance) == (0, True)
    assert (second.measured_w, second.ordered_w, second.delivered_w) == (430000, -110000, -80000)
    assert (second.deviation_w, second.deficiency_w, second.within_tolerance) == (
        30000,
        30000,
        False,
    )
    assert first.energy_import_wh == 98750
    totals = record.totals
    assert (totals.requested_energy_wh, totals.delivered_energy_wh) == (-57500, -51250)
    assert (totals.availability_pct, totals.accuracy_pct) == (100, 50)
    assert record.settlement is not None
    s = record.settlement
    assert (s.baseline_wh, s.ordered_wh, s.actual_wh) == (257500, -57500, 206250)
    assert (s.delivered_wh, s.deficiency_wh) == (-51250, 7500)
    assert (s.availability_amount, s.activation_amount, s.penalty_amount) == (
        Decimal("0.75"),
        Decimal("4.87"),
        Decimal("1.13"),
    )
    assert s.net_amount == Decimal("4.49")
    assert record.data_quality == []
    assert [m.meter_id for m in record.meters] == ["site-1"]
    assert record.meters[0].start_register_wh == 1_000_000.0


def test_congestion_at_connection_points_metered_modelled_and_bare() -> None:
    """Three sites under one 30 kW import limit: A has a connection-point meter (20 kW; its
    EVSE meter's 11 kW is not counted again), B none but a modelled non-EV load of -4 kW (PV
    surplus) behind its 11 kW EV, C none and nothing known behind its 3 kW EV. Measured
    20 + (11 - 4) + 3 = 30 kW: at the limit, and B and C are flagged as estimated."""
    evse_a = meter("NL*FCS*EA*1")
    site_a = meter("site-a", level="SITE")
    samples = [
        *readings("site-a", T0, T0 + 15 * M, 60, lambda _t: 20_000.0),
        *readings("NL*FCS*EA*1", T0, T0 + 15 * M, 60, lambda _t: 11_000.0),
        *readings("NL*FCS*EB*1", T0, T0 + 15 * M, 60, lambda _t: 11_000.0),
        *readings("NL*FCS*EC*1", T0, T0 + 15 * M, 60, lambda _t: 3_000.0),
    ]
    inputs = RecordInputs(
        meters=[
            replace(evse_a, in_total=False),
            site_a,
            meter("NL*FCS*EB*1"),
            meter("NL*FCS*EC*1"),
        ],
        readings=samples,
        connection_points=[
            # A's noted load (9 kW) is not used while its meter is
            ConnectionPoint(
                "site-a", True, [PowerPeriod(T0, T0 + 15 * M, 9_000.0)], ("NL*FCS*EA*1",)
            ),
            ConnectionPoint("site-b", False, [PowerPeriod(T0, T0 + 15 * M, -4_000.0)]),
            ConnectionPoint("site-c", False),
        ],
    )
    limit = {
        "fs_type": "CONGESTION",
        "grid_node": "NODE-1",
        "periods": [{"start_offset_s": 0, "duration_s": 900, "import_limit_w": 30_000.0}],
    }
    record = _build(limit, inputs, minutes=15, baseline_method="ZERO")
    (interval,) = record.intervals
    assert interval.measured_w == pytest.approx(30_000.0)
    assert (interval.deficiency_w, interval.within_tolerance) == (0.0, True)
    # 45 kW of EV and site import over 15 minutes, less the 1 kWh of PV surplus B nets away
    assert interval.energy_import_wh == pytest.approx(7_500.0)
    assert interval.energy_export_wh == 0.0
    assert interval.baseline_w == 0.0  # a stated baseline is taken as stated
    estimated = [f for f in record.data_quality if f.code is DataQualityCode.ESTIMATED_VALUES]
    assert [(f.target.id if f.target else None) for f in estimated] == ["site-b", "site-c"]
    assert estimated[0].detail is not None
    assert "plus the non-EV load" in estimated[0].detail
    assert "-1000.000 Wh" in estimated[0].detail
    assert estimated[1].detail is not None
    assert "EVSE meters alone" in estimated[1].detail
    # A dispute's correction leaves A's connection meter out: A is estimated from its EVSE
    # meter (11 kW) and its noted load (9 kW), so the record still reads 30 kW.
    corrected = _build(
        limit, without_meters(inputs, {"site-a"}), minutes=15, baseline_method="ZERO"
    )
    assert corrected.intervals[0].measured_w == pytest.approx(30_000.0)
    assert "site-a" not in {m.meter_id for m in corrected.meters}
    assert [
        f.target.id if f.target else None
        for f in corrected.data_quality
        if f.code is DataQualityCode.ESTIMATED_VALUES
    ] == ["site-a", "site-b", "site-c"]


def _setpoint_inputs(**extra: object) -> RecordInputs:
    def power(t: datetime) -> float:
        if t < T0:
            return 10_000.0
        return 5_000.0 if t < T0 + 15 * M else 4_000.0

    samples = [
        *readings("NL*FCS*E001*1", T0 - 15 * M, T0 + 30 * M, 60, power),
        *readings("NL*FCS*E002*1", T0 - 15 * M, T0 + 30 * M, 60, power),
    ]
    return RecordInputs(
        meters=[meter("NL*FCS*E001*1"), meter("NL*FCS*E002*1")],
        readings=samples,
        **extra,  # type: ignore[arg-type]
    )


SETPOINT = {
    "fs_type": "SETPOINT",
    "resolution_s": 900,
    "periods": [{"start_offset_s": 0, "p_w": 10000.0}, {"start_offset_s": 900, "p_w": 10000.0}],
}


def test_setpoint_with_baseline_before_activation() -> None:
    session = SessionSpan("ps_session0001", "NL*FCS*E001*1", T0 - 20 * M, None)
    record = _build(SETPOINT, _setpoint_inputs(sessions=[session]))
    assert record.baseline_method is BaselineMethod.METER_BEFORE_ACTIVATION
    first, second = record.intervals
    assert (first.baseline_w, first.measured_w, first.ordered_w) == (20000, 10000, -10000)
    assert (first.delivered_w, first.deviation_w, first.within_tolerance) == (-10000, 0, True)
    assert (second.measured_w, second.delivered_w, second.deviation_w) == (8000, -12000, -2000)
    assert (second.deficiency_w, second.within_tolerance) == (0, False)
    assert record.totals.measured_response_time_s == 60
    assert record.totals.delivered_energy_wh == -5500
    assert record.totals.availability_pct == 100
    (part,) = record.sessions
    assert (part.v1g_intervals, part.v2g_intervals) == (2, 0)
    assert part.energy_charged_wh == 2250
    assert record.sessions[0].session_ref == "ps_session0001"


def test_dynamic_setpoints_and_partial_commitment_change_what_was_requested() -> None:
    changes = [SetpointChange(T0 + 20 * M, 5000.0)]
    record = _build(SETPOINT, _setpoint_inputs(setpoint_changes=changes))
    # Second interval: 10 kW for 5 minutes, then 5 kW for 10 minutes.
    assert record.intervals[1].requested_w == pytest.approx(6666.667, abs=1e-3)
    committed = {
        "fs_id": "fs-record-1",
        "revision": 1,
        "result": "PARTIALLY_ACCEPTED",
        "reasons": [{"code": "EVU_LIMIT"}],
        "committed_schedule": [{"start_offset_s": 0, "duration_s": 1800, "p_w": 12000.0}],
        "decided_at": (T0 - 30 * M).isoformat(),
    }
    partial = _build(SETPOINT, _setpoint_inputs(), response=committed)
    assert [i.requested_w for i in partial.intervals] == [12000]
    assert partial.intervals[0].duration_s == 1800


def test_aborted_fs_is_recorded_up_to_its_end() -> None:
    history = [(FsState.ACTIVE, T0), (FsState.ABORTED, T0 + 20 * M)]
    record = _build(SETPOINT, _setpoint_inputs(), transitions=history)
    assert record.final_state is FsState.ABORTED
    assert [i.duration_s for i in record.intervals] == [900, 300]
    cancelled = [(FsState.CANCELLED, T0 - 5 * M)]
    assert _build(SETPOINT, _setpoint_inputs(), transitions=cancelled).intervals == []


def test_a_part_second_interval_has_its_exact_duration() -> None:
    """A cancelled FS ends mid-second: its last interval lasts 1.758 s, not "2 s", so power *
    duration is the metered energy and the record's totals agree with the meter."""
    samples = readings("NL*FCS*E001*1", T0 - 15 * M, T0 + 30 * M, 60, lambda _t: 11_000.0)
    inputs = RecordInputs(meters=[meter("NL*FCS*E001*1")], readings=samples)
    ended = T0 + timedelta(seconds=901.758)
    history = [(FsState.ACTIVE, T0), (FsState.CANCELLED, ended)]
    record = _build(SETPOINT, inputs, transitions=history)
    assert [i.duration_s for i in record.intervals] == [900, 1.758]
    last = record.intervals[-1]
    assert last.start + timedelta(seconds=last.duration_s) == ended
    assert last.energy_import_wh == pytest.approx(11_000 * 1.758 / 3600, abs=1e-3)  # 5.372
    for interval in record.intervals:
        assert interval.measured_w == pytest.approx(11_000)
        energy = interval.energy_import_wh - interval.energy_export_wh
        assert interval.measured_w * interval.duration_s / 3600 == pytest.approx(energy, abs=1e-3)
    metered = sum(i.energy_import_wh for i in record.intervals)
    assert record.settlement is not None
    assert record.settlement.actual_wh == pytest.approx(metered, abs=1e-3)


def test_no_readings_still_make_a_record_with_flags() -> None:
    record = _build(SETPOINT, RecordInputs(meters=[meter("NL*FCS*E001*1")], readings=[]))
    assert all(i.measured_w is None and i.within_tolerance is None for i in record.intervals)
    assert record.totals.availability_pct == 0
    assert record.totals.accuracy_pct is None
    assert record.totals.delivered_energy_wh is None  # unknown, not a made-up 0 Wh
    codes = {f.code for f in record.data_quality}
    assert DataQualityCode.GAP in codes


def test_reserve_activation_is_ordered_only_while_active() -> None:
    inputs = _setpoint_inputs(activations=[Activation(T0 + 15 * M, 900, -10000.0)])
    reserve = {
        "fs_type": "RESERVE",
        "up_w": 20000.0,
        "down_w": 0.0,
        "full_activation_time_s": 300,
        "min_activation_duration_s": 300,
    }
    record = _build(reserve, inputs)
    first, second = record.intervals
    assert (first.ordered_w, first.requested_w, first.within_tolerance) == (None, None, None)
    assert (second.ordered_w, second.requested_w) == (-10000, 10000)
    # 12 kW less import than the baseline where 10 kW less was ordered: over-delivered.
    assert (second.delivered_w, second.deviation_w, second.deficiency_w) == (-12000, -2000, 0)


def test_price_signals_record_delivery_without_a_firm_request() -> None:
    record = _build(
        {
            "fs_type": "DYNAMIC_PRICE",
            "currency": "EUR",
            "intervals": [
                {"start_offset_s": 0, "duration_s": 1800, "import_price_per_kwh": 0.3},
            ],
        },
        _setpoint_inputs(),
    )
    (interval,) = record.intervals
    assert interval.requested_w is None
    assert interval.within_tolerance is None
    assert (interval.measured_w, interval.delivered_w) == (9000, -11000)
    assert record.totals.requested_energy_wh is None


def test_historical_average_baseline_uses_previous_days() -> None:
    samples = []
    for day, level, register in ((2, 16_000.0, 1e6), (1, 12_000.0, 2e6), (0, 9_000.0, 3e6)):
        shift = timedelta(days=day)
        samples += readings(
            "site-1",
            T0 - shift - 5 * M,
            T0 - shift + 35 * M,
            60,
            lambda t, v=level: v,
            import_wh=register,
        )
    inputs = RecordInputs(meters=[meter("site-1", level="SITE")], readings=samples)
    record = _build(SETPOINT, inputs, baseline_method="HISTORICAL_AVERAGE")
    assert [i.baseline_w for i in record.intervals] == [14000, 14000]
    assert [i.measured_w for i in record.intervals] == [9000, 9000]


def test_faulty_readings_are_cleaned_and_flagged() -> None:
    clean = _setpoint_inputs()
    faulty = list(clean.readings)
    late = faulty.pop(40)
    duplicate = faulty[10]
    faulty.insert(11, duplicate)
    faulty.append(late._replace(received_at=late.at + 5 * M))
    dropped = faulty.pop(20)
    bad = MeterSample("NL*FCS*E002*1", T0 + 3 * M + timedelta(seconds=7), -1.0, 0.0)
    backwards = faulty[70]._replace(at=faulty[70].at + timedelta(seconds=30), e_import_wh=0.0)
    stranger = faulty[0]._replace(meter_id="NL*FCS*E999*1")
    faulty += [bad, backwards, stranger]
    record = _build(SETPOINT, RecordInputs(meters=clean.meters, readings=faulty))
    subset = [r for r in clean.readings if r != dropped]
    reference = _build(SETPOINT, RecordInputs(meters=clean.meters, readings=subset))
    assert record.intervals == reference.intervals
    assert record.totals == reference.totals
    flags = {(f.code, f.target.id if f.target else None) for f in record.data_quality}
    assert (DataQualityCode.DUPLICATE_READING, duplicate.meter_id) in flags
    assert (DataQualityCode.LATE_READING, late.meter_id) in flags
    assert (DataQualityCode.OUT_OF_ORDER, late.meter_id) in flags
    assert (DataQualityCode.INVALID_READING, "NL*FCS*E002*1") in flags
    assert (DataQualityCode.INVALID_READING, None) in flags
    gaps = [f for f in record.data_quality if f.code is DataQualityCode.GAP]
    assert gaps == [f for f in reference.data_quality if f.code is DataQualityCode.GAP]
    assert len(gaps) == 1


def test_record_digest_is_stable_across_arrival_orders() -> None:
    """Meters delivering in another order (each in time order) give the same record."""
    inputs = _setpoint_inputs()
    one, two = inputs.meters
    interleaved = [
        r for pair in zip(inputs.readings[46:], inputs.readings[:46], strict=True) for r in pair
    ]
    shuffled = RecordInputs(meters=[two, one], readings=interleaved)
    assert digest(_build(SETPOINT, inputs).model_dump(mode="json")) == digest(
        _build(SETPOINT, shuffled).model_dump(mode="json")
    )


def test_fast_and_careful_cleaning_agree() -> None:
    """The whole-list path (no anomaly) gives the series the reading-by-reading path gives."""
    from fcsbe.server.services.records.dsr.inputs import RecordOptions
    from fcsbe.server.services.records.dsr.readings import _clean_fast, _clean_one

    info = meter("NL*FCS*E001*1")
    samples = [s for s in _setpoint_inputs().readings if s.meter_id == info.meter_id]
    fast = _clean_fast(info, samples, RecordOptions())
    assert fast is not None
    careful, tallies = _clean_one(info, [*samples, samples[-1]], RecordOptions())
    assert (fast.t, fast.imp, fast.exp, fast.p) == (careful.t, careful.imp, careful.exp, careful.p)
    assert tallies[DataQualityCode.DUPLICATE_READING].count == 1
    for spoiled in (
        [samples[1], samples[0], *samples[2:]],
        [samples[0]._replace(quality="ESTIMATED"), *samples[1:]],
        [samples[0]._replace(p_w=float("nan")), *samples[1:]],
        [samples[0]._replace(received_at=None), *samples[1:]],
        [*samples[:-1], samples[-1]._replace(e_export_wh=-1.0)],
        [*samples[:-1], samples[-1]._replace(received_at=samples[-1].at + timedelta(hours=1))],
    ):
        assert _clean_fast(info, spoiled, RecordOptions()) is None


def test_site_loads_are_noted_when_they_change() -> None:
    """A congestion FS replanned every minute keeps one note per change of a site's non-EV
    load, not one per plan; the record reads them back as periods."""
    execution: dict[str, object] = {}
    for minute, loads in enumerate(
        [{"a": -2_000.0, "b": 500.0}, {"a": -2_000.4, "b": 500.0}, {"a": 1_000.0}]
    ):
        note_site_loads(execution, T0 + minute * M, loads)
    assert execution["site_loads"] == {
        "a": [[T0.isoformat(), -2_000.0], [(T0 + 2 * M).isoformat(), 1_000.0]],
        "b": [[T0.isoformat(), 500.0]],
    }
    note_site_loads(execution, T0 + 3 * M, {})
    assert len(execution["site_loads"]["a"]) == 2  # type: ignore[index]


def test_a_site_without_noted_load_has_no_load_periods() -> None:
    """An OCPP site (no simulator load model) notes no non-EV load: its connection point is
    the EVSE meters alone, not an error that would keep the record from being made."""
    assert _load_periods([], T0, T0 + 15 * M) == []
    (period,) = _load_periods([[T0.isoformat(), -4000.0]], T0, T0 + 15 * M)
    assert (period.p_w, period.end - period.start) == (-4000.0, 15 * M)
