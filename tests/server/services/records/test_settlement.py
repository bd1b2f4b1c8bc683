"""Baselines and settlement by performance, with figures worked by hand (docs/records.md)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from pydantic import ValidationError

from fcsbe.model import BaselineMethod, ContractTerms, DetailedServiceRecord
from fcsbe.server.services.records.dsr.builder import build_dsr
from fcsbe.server.services.records.dsr.inputs import (
    Activation,
    PowerPeriod,
    RecordInputs,
    RecordOptions,
    ResponseSample,
    SubmittedBaseline,
)
from fcsbe.server.services.records.dsr.performance import droop_ordered_w
from tests.support.dsr_fixtures import T0, contract_terms, fs_model, meter, readings

M = timedelta(minutes=1)
EV = "NL*FCS*E001*1"
STOP = {
    "fs_type": "SETPOINT",
    "resolution_s": 900,
    "periods": [{"start_offset_s": 0, "p_w": 0.0}, {"start_offset_s": 900, "p_w": 0.0}],
}


def _build(
    params: dict[str, object],
    inputs: RecordInputs,
    terms: ContractTerms | None = None,
    **fs: object,
) -> DetailedServiceRecord:
    model = fs_model(params, **fs)  # type: ignore[arg-type]
    built = build_dsr(
        model, terms or contract_terms(), inputs, final_state=model.state, created_at=T0 + 60 * M
    )
    return built.record


def test_trend_baseline_follows_an_ev_finishing_its_charge() -> None:
    """The EV tapers from 14 kW to 8 kW over the 15 minutes before the window (-24 kW/h): its
    trend reaches zero at T0 + 20 min. Interval 1: 8 -> 2 kW, mean 5 kW; interval 2: 2 -> 0 kW
    in 5 minutes, then 0: mean 1/3 kW. The flat mean before activation would say 11 kW, and
    count the taper as 11 kW of flexibility."""

    def power(t: datetime) -> float:  # the power over [t, t + 60 s): the line at its middle
        if t >= T0:
            return 0.0
        return 8_000.0 - 24_000.0 * ((t + timedelta(seconds=30)) - T0).total_seconds() / 3600

    inputs = RecordInputs(
        meters=[meter(EV)], readings=readings(EV, T0 - 15 * M, T0 + 30 * M, 60, power)
    )
    trend = _build(STOP, inputs, baseline_method="METER_TREND")
    assert [i.baseline_w for i in trend.intervals] == pytest.approx([5_000.0, 333.333], abs=0.01)
    assert [i.delivered_w for i in trend.intervals] == pytest.approx([-5_000.0, -333.333], abs=0.01)
    assert trend.baseline is not None
    assert trend.baseline.method is BaselineMethod.METER_TREND
    (ev,) = trend.baseline.per_ev
    assert (ev.level_w, ev.slope_w_per_h, ev.readings) == (
        pytest.approx(8_000),
        pytest.approx(-24_000),
        15,
    )
    assert ev.zero_at == T0 + 20 * M
    flat = _build(STOP, inputs, baseline_method="METER_BEFORE_ACTIVATION")
    assert [i.baseline_w for i in flat.intervals] == pytest.approx([11_000.0, 11_000.0])


def test_high_x_of_y_with_same_day_adjustment() -> None:
    """Y = 3 previous days used 10, 14 and 12 kW in the window: the X = 2 highest are the 2nd
    and 3rd days (13 kW). In the hour before the window those days used 10 and 9 kW (9.5),
    today 11 kW: +1.5 kW. Baseline 14.5 kW in each interval."""
    samples = []
    days = {
        0: (11_000.0, 6_000.0),
        1: (8_000.0, 10_000.0),
        2: (10_000.0, 14_000.0),
        3: (9_000.0, 12_000.0),
    }
    for day, (before, during) in days.items():
        start = T0 - timedelta(days=day)

        def power(
            t: datetime, start: datetime = start, b: float = before, d: float = during
        ) -> float:
            return d if t >= start else b

        samples += readings(
            EV, start - 65 * M, start + 35 * M, 60, power, import_wh=1e6 * (5 - day)
        )
    options = RecordOptions(high_x_days=2, of_y_days=3, adjustment_s=3_600)
    inputs = RecordInputs(meters=[meter(EV)], readings=samples, options=options)
    record = _build(STOP, inputs, baseline_method="HIGH_X_OF_Y")
    assert [i.baseline_w for i in record.intervals] == pytest.approx([14_500.0, 14_500.0])
    assert [i.measured_w for i in record.intervals] == pytest.approx([6_000.0, 6_000.0])
    info = record.baseline
    assert info is not None
    assert info.adjustment_w == pytest.approx(1_500.0)
    assert info.days_used == [(T0 - timedelta(days=d)).date() for d in (2, 3)]
    assert info.days_considered == 3


def test_submitted_baseline_is_used_and_named() -> None:
    submitted = SubmittedBaseline(
        "FO-A",
        "FO",
        T0 - 60 * M,
        [PowerPeriod(T0, T0 + 15 * M, 12_000.0), PowerPeriod(T0 + 15 * M, T0 + 30 * M, 9_000.0)],
    )
    inputs = RecordInputs(
        meters=[meter(EV)],
        readings=readings(EV, T0 - 15 * M, T0 + 30 * M, 60, lambda t: 4_000.0),
        submitted_baseline=submitted,
    )
    record = _build(STOP, inputs, baseline_method="SUBMITTED")
    assert [i.baseline_w for i in record.intervals] == [12_000, 9_000]
    assert [i.delivered_w for i in record.intervals] == [-8_000, -5_000]
    assert record.baseline is not None
    assert (record.baseline.submitted_by, record.baseline.submitted_role) == ("FO-A", "FO")
    assert record.baseline.submitted_at == T0 - 60 * M


PENALISING = {
    "performance": {
        "response_time_s": 30.0,
        "full_activation_time_s": 300.0,
        "tolerance_pct": 10.0,
        "min_delivery_pct": 80.0,
        "penalty_per_pct_shortfall": 2.0,
        "forfeit_availability": True,
    }
}


def test_reserve_settles_availability_activation_and_penalties() -> None:
    """20 kW reserved for 30 minutes, 10 kW ordered up over the second interval, 5 kW
    delivered: 50 % of 2.5 kWh ordered. Availability 12.5 EUR/MW/h x 0.02 MW x 0.5 h = 0.13;
    activation 95 EUR/MWh x 1.25 kWh = 0.12; deficiency 1.25 kWh x 150 EUR/MWh = 0.19;
    30 points below 80 % x 2 EUR = 60.00; availability forfeited 0.13; net -60.07."""

    def power(t: datetime) -> float:
        return 5_000.0 if t >= T0 + 15 * M else 10_000.0

    inputs = RecordInputs(
        meters=[meter(EV)],
        readings=readings(EV, T0 - 15 * M, T0 + 30 * M, 5, power),
        activations=[Activation(T0 + 15 * M, 900, -10_000.0)],
    )
    reserve = {
        "fs_type": "RESERVE",
        "up_w": 20_000.0,
        "down_w": 0.0,
        "full_activation_time_s": 300,
        "min_activation_duration_s": 300,
    }
    response = {
        "fs_id": "fs-record-1",
        "revision": 1,
        "result": "ACCEPTED",
        "committed_w": 20_000.0,
        "decided_at": (T0 - 30 * M).isoformat(),
    }
    terms = contract_terms(**PENALISING)
    record = _build(reserve, inputs, terms, response=response)
    performance, settlement = record.performance, record.settlement
    assert performance is not None
    assert settlement is not None
    assert (performance.ordered_w, performance.ordered_energy_wh) == (-10_000, 2_500)
    assert (performance.delivered_energy_wh, performance.delivery_pct) == (1_250, 50)
    assert (performance.shortfall_pct, performance.passed) == (30, False)
    assert performance.response_time_s == 5.0  # the first reading after the activation
    assert [(p.rule, p.amount) for p in performance.penalties] == [
        ("DEFICIENCY_ENERGY", Decimal("0.19")),
        ("DELIVERY_SHORTFALL", Decimal("60.00")),
        ("AVAILABILITY_FORFEIT", Decimal("0.13")),
    ]
    assert (settlement.availability_amount, settlement.activation_amount) == (
        Decimal("0.13"),
        Decimal("0.12"),
    )
    assert settlement.penalty_amount == Decimal("60.32")
    assert settlement.net_amount == Decimal("-60.07")


DROOP = {
    "fs_type": "DROOP",
    "f_ref_hz": 50.0,
    "deadband_over_hz": 0.02,
    "deadband_under_hz": 0.02,
    "droop_over_pct": 5.0,
    "droop_under_pct": 5.0,
    "response_time_s": 1.0,
    "p_min_w": -40_000.0,
    "p_max_w": 40_000.0,
}


def test_droop_is_judged_on_the_frequency_the_stations_saw() -> None:
    """At 49.8 Hz: (49.8 - 49.98) / 50 / 5 % x 40 kW = -2,880 W ordered, for 60 s (from one
    response time after the drop until one after the return): 48 Wh. The stations deliver
    half (1,440 W): 24 Wh, 50 %, 30 points short of 80 %: 60.00 EUR plus 24 Wh x 150 EUR/MWh."""
    assert droop_ordered_w(fs_model(DROOP).request.parameters, 49.8) == pytest.approx(-2_880)
    at = datetime(2026, 3, 2, 17, 5, tzinfo=UTC)
    samples = []
    for k in range(101):
        f = 49.8 if 10 <= k < 70 else 50.0
        p = 10_000.0 - (720.0 if 11 <= k <= 70 else 0.0)
        for evse in (EV, "NL*FCS*E002*1"):
            samples.append(ResponseSample(evse, at + timedelta(seconds=k), p, f))
    inputs = RecordInputs(meters=[meter(EV)], readings=[], response=samples)
    record = _build(DROOP, inputs, contract_terms(**PENALISING))
    performance = record.performance
    assert performance is not None
    assert record.settlement is not None
    assert performance.evidence == "METER_READINGS"
    assert performance.ordered_w == pytest.approx(-2_880)
    assert (performance.ordered_energy_wh, performance.delivered_energy_wh) == (48, 24)
    assert (performance.delivery_pct, performance.shortfall_pct, performance.passed) == (
        50,
        30,
        False,
    )
    assert record.settlement.deficiency_wh == 24
    assert [p.rule for p in performance.penalties] == ["DEFICIENCY_ENERGY", "DELIVERY_SHORTFALL"]
    assert record.settlement.penalty_amount == Decimal("60.00")  # 0.0036 rounds to 0.00


def test_performance_terms_are_validated_naming_the_field() -> None:
    with pytest.raises(ValidationError) as caught:
        contract_terms(performance={**PENALISING["performance"], "full_activation_time_s": 10.0})
    assert caught.value.errors()[0]["loc"][-1] == "full_activation_time_s"
    with pytest.raises(ValidationError) as caught:
        contract_terms(performance={**PENALISING["performance"], "penalty_per_pct_shortfall": -1})
    assert caught.value.errors()[0]["loc"][-1] == "penalty_per_pct_shortfall"


FFR = {
    "fs_type": "FFR",
    "trigger_levels": [
        {"frequency_hz": 49.7, "full_activation_time_s": 1.0, "delta_p_w": -10_000.0},
        {"frequency_hz": 49.6, "full_activation_time_s": 1.0, "delta_p_w": -20_000.0},
    ],
    "support_duration_s": 30,
    "deactivation_ramp_s": 10,
    "rearm_time_s": 900,
    "evidence_sampling_ms": 1000,
}


def test_ffr_is_judged_on_its_evidence_with_every_level_latched() -> None:
    """The frequency dips to 49.65 Hz at t = 10 s (level 1) and to 49.55 Hz at t = 12 s (level
    2), recovering at t = 15 s. Ordered: 10 kW from t = 11 s (one full-activation time after
    its trigger), 20 kW from t = 13 s until level 2's support ends at t = 42 s (latched,
    whatever the frequency does): 10 x 2 + 20 x 29 = 600 kWs = 166.667 Wh. Delivered in full,
    with one EVSE's evidence rows."""
    at = datetime(2026, 3, 2, 17, 5, tzinfo=UTC)
    samples = []
    for k in range(61):
        f = 49.65 if 10 <= k < 12 else 49.55 if 12 <= k < 15 else 50.0
        delta = -20_000.0 if 13 <= k < 42 else -10_000.0 if 11 <= k < 13 else 0.0
        samples.append(ResponseSample(EV, at + timedelta(seconds=k), 30_000.0 + delta, f, "FFR"))
    record = _build(FFR, RecordInputs(meters=[meter(EV)], readings=[], response=samples))
    performance = record.performance
    assert performance is not None
    assert performance.evidence == "FFR_EVIDENCE"
    assert performance.ordered_w == -20_000
    assert performance.ordered_energy_wh == pytest.approx(600_000 / 3600, abs=0.001)
    assert performance.delivery_pct == 100
    assert performance.passed
