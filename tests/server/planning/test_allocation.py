"""The split rule: within every EVSE's range, exact sum when feasible, feasible bound otherwise."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fcsbe.server.planning import SplitBasis, split_setpoint, split_total
from tests.server.planning.fs_requests import FLEET_SETTINGS, NOW, evse, fleets

TOL = 1e-6

ranges = st.lists(
    st.tuples(st.floats(-22_000, 0), st.floats(0, 1), st.floats(0, 22_000)),
    min_size=1,
    max_size=30,
)


def _basis(items: list[tuple[float, float, float]]) -> SplitBasis:
    lo = [low for low, _, _ in items]
    hi = [high for _, _, high in items]
    anchor = [low + f * (high - low) for low, f, high in items]
    return SplitBasis.of_ranges([f"E{i}" for i in range(len(items))], lo, anchor, hi)


@given(ranges, st.floats(-1e6, 1e6))
def test_shares_stay_in_range_and_sum_to_the_feasible_total(
    items: list[tuple[float, float, float]], total: float
) -> None:
    basis = _basis(items)
    shares = split_setpoint(total, basis)
    assert len(shares) == len(items)
    for share, low, high in zip(shares, basis.lo, basis.hi, strict=True):
        assert low - TOL <= share <= high + TOL
    assert sum(shares) == pytest.approx(basis.feasible(total), abs=1e-6 * (1 + abs(total)))


@given(ranges, st.floats(-1e5, 1e5), st.floats(0, 1e5))
def test_more_asked_never_gives_any_evse_less(
    items: list[tuple[float, float, float]], total: float, more: float
) -> None:
    basis = _basis(items)
    before, after = split_setpoint(total, basis), split_setpoint(total + more, basis)
    assert all(a >= b - TOL for a, b in zip(after, before, strict=True))


def test_shares_are_proportional_to_headroom_in_the_direction_asked() -> None:
    basis = SplitBasis.of_ranges(["a", "b"], [-10_000.0, 0.0], [0.0, 0.0], [5_000.0, 15_000.0])
    assert split_setpoint(10_000.0, basis) == pytest.approx([2_500.0, 7_500.0])
    assert split_setpoint(-4_000.0, basis) == pytest.approx([-4_000.0, 0.0])
    assert split_setpoint(1e9, basis) == pytest.approx([5_000.0, 15_000.0])


def test_an_ev_that_must_charge_keeps_that_power() -> None:
    # 22 kWh in 2.5 h at 11 kW: 16.5 kWh fit after the first hour, so 5.5 kW now.
    needy = evse(1, energy_to_min_soc_wh=22_000.0, departure=NOW + timedelta(hours=2.5))
    v2g = evse(2, max_export_w=7_000.0, v2g_allowed=True)
    absent = evse(3, connected=False)
    basis = SplitBasis.for_setpoint([needy, v2g, absent], NOW)
    assert basis.evse_ids == (needy.evse_id, v2g.evse_id)
    assert basis.lo == (5_500.0, -7_000.0)
    shares = split_setpoint(-20_000.0, basis)
    assert shares == pytest.approx([5_500.0, -7_000.0])
    assert split_setpoint(0.0, basis) == pytest.approx([5_500.0, -5_500.0])


def test_a_late_ev_takes_all_it_can() -> None:
    late = evse(1, energy_to_min_soc_wh=5_000.0, departure=NOW - timedelta(minutes=1))
    assert late.must_charge_w(NOW) == 11_000.0
    assert evse(2, energy_to_min_soc_wh=5_000.0).must_charge_w(NOW) == 0.0


@FLEET_SETTINGS
@given(fleets(), st.floats(-2e5, 2e5))
def test_basis_of_any_fleet_respects_headroom(fleet: list, total: float) -> None:
    basis = SplitBasis.for_setpoint(fleet, NOW)
    states = {e.evse_id: e for e in fleet}
    for evse_id, share in zip(basis.evse_ids, split_setpoint(total, basis), strict=True):
        state = states[evse_id]
        assert share <= max(state.import_room_w, 0.0) + TOL
        assert share >= -state.export_room_w - TOL
        assert share >= state.must_charge_w(NOW) - TOL or state.must_charge_w(NOW) == 0


@given(st.floats(0, 1e6), st.lists(st.floats(0, 1e5), max_size=20))
def test_split_total_never_exceeds_a_room_nor_the_total(total: float, rooms: list[float]) -> None:
    shares = split_total(total, rooms)
    assert all(s <= r + TOL for s, r in zip(shares, rooms, strict=True))
    assert sum(shares) == pytest.approx(min(total, sum(rooms)), abs=1e-6 * (1 + total))
