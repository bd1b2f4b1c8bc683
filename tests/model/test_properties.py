"""Property tests of the validators: generated valid inputs pass, generated invalid ones fail."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

import fcsbe.model as m
from tests.model.helpers import example
from tests.support.depth import examples

FAST = settings(max_examples=examples(60))  # the profile (tests/support/depth.py): no deadline

utc_times = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2040, 1, 1), timezones=st.just(UTC)
)
powers = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)
percents = st.floats(min_value=0, max_value=100, allow_nan=False)


@st.composite
def setpoint_periods(draw: st.DrawFn, resolution_s: int) -> list[dict[str, Any]]:
    """Ordered, non-overlapping periods: each starts at least `resolution_s` after the last."""
    gaps = draw(st.lists(st.integers(min_value=0, max_value=3), min_size=1, max_size=40))
    periods, offset = [], draw(st.integers(min_value=0, max_value=2)) * resolution_s
    for gap in gaps:
        periods.append({"start_offset_s": offset, "p_w": draw(powers)})
        offset += resolution_s * (1 + gap)
    return periods


@st.composite
def spans(draw: st.DrawFn) -> list[tuple[int, int]]:
    """Ordered, non-overlapping (start_offset_s, duration_s) pairs."""
    count = draw(st.integers(min_value=1, max_value=30))
    result, offset = [], draw(st.integers(min_value=0, max_value=600))
    for _ in range(count):
        duration = draw(st.integers(min_value=1, max_value=900))
        result.append((offset, duration))
        offset += duration + draw(st.integers(min_value=0, max_value=300))
    return result


def _request(parameters: dict[str, Any], window_s: float) -> dict[str, Any]:
    body = example(m.FlexibilityServiceRequest)
    start = datetime(2026, 3, 2, 17, tzinfo=UTC)
    body["window"] = {
        "start": start.isoformat(),
        "end": (start + timedelta(seconds=window_s)).isoformat(),
    }
    body["response_deadline"] = None
    body["fs_type"] = parameters["fs_type"]
    body["parameters"] = parameters
    return body


# --- windows -------------------------------------------------------------------------------


@FAST
@given(start=utc_times, end=utc_times)
def test_window_valid_iff_end_after_start(start: datetime, end: datetime) -> None:
    body = {"start": start.isoformat(), "end": end.isoformat()}
    if end > start:
        window = m.TimeWindow.model_validate(body)
        assert window.length_s == (end - start).total_seconds()
        assert m.TimeWindow.model_validate_json(window.model_dump_json()) == window
    else:
        with pytest.raises(ValidationError, match="must be after"):
            m.TimeWindow.model_validate(body)


# --- setpoint schedules ----------------------------------------------------------------------


@FAST
@given(data=st.data(), resolution_s=st.sampled_from([1, 4, 60, 300, 900]))
def test_generated_schedules_validate_inside_a_fitting_window(
    data: st.DataObject, resolution_s: int
) -> None:
    periods = data.draw(setpoint_periods(resolution_s))
    payload = {"fs_type": "SETPOINT", "resolution_s": resolution_s, "periods": periods}
    horizon = periods[-1]["start_offset_s"] + resolution_s
    slack = data.draw(st.integers(min_value=0, max_value=3_600))
    request = m.FlexibilityServiceRequest.model_validate(_request(payload, horizon + slack))
    assert isinstance(request.parameters, m.SetpointSchedule)
    assert request.parameters.horizon_s() == horizon
    assert m.FlexibilityServiceRequest.model_validate_json(request.model_dump_json()) == request


@FAST
@given(data=st.data(), resolution_s=st.sampled_from([60, 900]))
def test_schedules_reaching_past_the_window_fail(data: st.DataObject, resolution_s: int) -> None:
    periods = data.draw(setpoint_periods(resolution_s))
    payload = {"fs_type": "SETPOINT", "resolution_s": resolution_s, "periods": periods}
    horizon = periods[-1]["start_offset_s"] + resolution_s
    short = data.draw(st.integers(min_value=1, max_value=horizon - 1)) if horizon > 1 else None
    assume(short is not None)
    with pytest.raises(ValidationError, match="inside the window"):
        m.FlexibilityServiceRequest.model_validate(_request(payload, horizon - (short or 0)))


@FAST
@given(data=st.data(), resolution_s=st.sampled_from([60, 900]))
def test_overlapping_schedules_fail(data: st.DataObject, resolution_s: int) -> None:
    periods = data.draw(setpoint_periods(resolution_s))
    assume(len(periods) >= 2)
    index = data.draw(st.integers(min_value=1, max_value=len(periods) - 1))
    previous = periods[index - 1]["start_offset_s"]
    # Start strictly inside the previous period (or before it): overlap or disorder.
    periods[index]["start_offset_s"] = data.draw(
        st.integers(
            min_value=max(0, previous - resolution_s), max_value=previous + resolution_s - 1
        )
    )
    with pytest.raises(ValidationError, match=rf"periods\[{index}\]"):
        m.SetpointSchedule.model_validate(
            {"fs_type": "SETPOINT", "resolution_s": resolution_s, "periods": periods}
        )


# --- interval-based payloads -----------------------------------------------------------------


def _interval_payload(kind: str, items: list[tuple[int, int]]) -> dict[str, Any]:
    if kind == "DYNAMIC_PRICE":
        return {
            "fs_type": kind,
            "currency": "EUR",
            "intervals": [
                {"start_offset_s": o, "duration_s": d, "import_price_per_kwh": 0.25}
                for o, d in items
            ],
        }
    if kind == "DEMAND_RESPONSE":
        return {
            "fs_type": kind,
            "intervals": [
                {"start_offset_s": o, "duration_s": d, "incentive_level": 1} for o, d in items
            ],
        }
    return {
        "fs_type": kind,
        "grid_node": "871687120000000123",
        "periods": [
            {"start_offset_s": o, "duration_s": d, "import_limit_w": 1e5} for o, d in items
        ],
    }


KINDS = st.sampled_from(["DYNAMIC_PRICE", "DEMAND_RESPONSE", "CONGESTION"])


@FAST
@given(kind=KINDS, items=spans())
def test_generated_intervals_validate(kind: str, items: list[tuple[int, int]]) -> None:
    horizon = items[-1][0] + items[-1][1]
    request = m.FlexibilityServiceRequest.model_validate(
        _request(_interval_payload(kind, items), horizon)
    )
    assert request.parameters.horizon_s() == horizon


@FAST
@given(kind=KINDS, items=spans(), data=st.data())
def test_overlapping_or_disordered_intervals_fail(
    kind: str, items: list[tuple[int, int]], data: st.DataObject
) -> None:
    assume(len(items) >= 2)
    index = data.draw(st.integers(min_value=1, max_value=len(items) - 1))
    prev_start, prev_duration = items[index - 1]
    bad_start = data.draw(st.integers(min_value=0, max_value=prev_start + prev_duration - 1))
    items[index] = (bad_start, items[index][1])
    with pytest.raises(ValidationError, match=r"must (not overlap|be ordered)"):
        m.FlexibilityServiceRequest.model_validate(_request(_interval_payload(kind, items), 10**7))


# --- curves --------------------------------------------------------------------------------


xs = st.lists(
    st.floats(min_value=0, max_value=200, allow_nan=False), min_size=2, max_size=20, unique=True
)


@FAST
@given(values=xs)
def test_curve_valid_iff_x_strictly_increasing(values: list[float]) -> None:
    body = {
        "x_unit": "PCT_EFFECTIVE_V",
        "y_unit": "PCT_MAX_VAR",
        "points": [{"x": x, "y": 0.0} for x in values],
    }
    if values == sorted(values):
        assert len(m.DerCurve.model_validate(body).points) == len(values)
    else:
        with pytest.raises(ValidationError, match="strictly increasing"):
            m.DerCurve.model_validate(body)


@FAST
@given(count=st.integers(min_value=0, max_value=40))
def test_curve_point_count_capped(count: int) -> None:
    body = {
        "x_unit": "V",
        "y_unit": "VAR",
        "points": [{"x": float(i), "y": 0.0} for i in range(count)],
    }
    if 2 <= count <= m.MAX_CURVE_POINTS:
        m.DerCurve.model_validate(body)
    else:
        with pytest.raises(ValidationError):
            m.DerCurve.model_validate(body)


# --- state of charge ------------------------------------------------------------------------


@FAST
@given(floor=percents, target=percents, current=percents)
def test_soc_valid_iff_floor_not_above_target(floor: float, target: float, current: float) -> None:
    body = {"current_pct": current, "target_pct": target, "floor_pct": floor}
    if floor <= target:
        m.StateOfCharge.model_validate(body)
    else:
        with pytest.raises(ValidationError, match="floor_pct"):
            m.StateOfCharge.model_validate(body)


@FAST
@given(
    floor=st.floats(min_value=-10, max_value=120, allow_nan=False),
    departure=st.floats(min_value=-10, max_value=120, allow_nan=False),
)
def test_evu_limits_valid_iff_ordered_and_within_0_100(floor: float, departure: float) -> None:
    body = {"min_soc_at_departure_pct": departure, "soc_floor_pct": floor}
    if 0 <= floor <= departure <= 100:
        m.EvuLimits.model_validate(body)
    else:
        with pytest.raises(ValidationError):
            m.EvuLimits.model_validate(body)


# --- caps and uniqueness ---------------------------------------------------------------------


@settings(max_examples=examples(15), deadline=None)
@given(count=st.integers(min_value=0, max_value=1_010))
def test_target_count_capped(count: int) -> None:
    body = example(m.FlexibilityServiceRequest)
    body["targets"] = [{"level": "EVSE", "id": f"NL*ABC*E{i}*1"} for i in range(count)]
    if 1 <= count <= m.MAX_TARGETS:
        assert len(m.FlexibilityServiceRequest.model_validate(body).targets) == count
    else:
        with pytest.raises(ValidationError):
            m.FlexibilityServiceRequest.model_validate(body)


@FAST
@given(
    ids=st.lists(st.sampled_from(["a1", "a2", "a3", "a4", "a5"]), min_size=1, max_size=8),
    level=st.sampled_from(list(m.TargetLevel)),
)
def test_targets_valid_iff_unique(ids: list[str], level: m.TargetLevel) -> None:
    body = example(m.CredentialCheckRequest)
    body["targets"] = [{"level": level, "id": i} for i in ids]
    if len(set(ids)) == len(ids):
        m.CredentialCheckRequest.model_validate(body)
    else:
        with pytest.raises(ValidationError, match="duplicates"):
            m.CredentialCheckRequest.model_validate(body)


# --- money -----------------------------------------------------------------------------------


@FAST
@given(
    amount=st.decimals(
        min_value=Decimal("-999999999"),
        max_value=Decimal("999999999"),
        places=6,
        allow_nan=False,
        allow_infinity=False,
    )
)
def test_money_round_trips_through_json(amount: Decimal) -> None:
    body = example(m.DynamicPriceSignal)
    body["intervals"][0]["import_price_per_kwh"] = amount
    signal = m.DynamicPriceSignal.model_validate(body)
    again = m.DynamicPriceSignal.model_validate_json(signal.model_dump_json())
    assert again.intervals[0].import_price_per_kwh == amount
