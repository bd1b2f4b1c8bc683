"""CONGESTION planning: node limits never exceeded, must-charge power served first."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fcsbe.model import FsResult, ReasonCode
from fcsbe.server.planning import EvseState, plan_congestion
from tests.server.planning.fs_requests import FLEET_SETTINGS, NOW, START, evse, fleets, request_of

TOL = 1e-6


def _limits(*periods: tuple[float | None, float | None], node: str = "EAN-1") -> dict:
    return {
        "fs_type": "CONGESTION",
        "grid_node": node,
        "periods": [
            {
                "start_offset_s": i * 1800,
                "duration_s": 1800,
                "import_limit_w": imp,
                "export_limit_w": exp,
            }
            for i, (imp, exp) in enumerate(periods)
        ],
    }


def test_limit_shared_after_must_charge_power() -> None:
    needy = evse(1, energy_to_min_soc_wh=12_000.0, departure=START + timedelta(hours=1, minutes=45))
    other = evse(2)
    outside = evse(3, grid_node="EAN-2")
    plan = plan_congestion(request_of(_limits((10_000.0, None))), [needy, other, outside], NOW)
    caps = {p.evse_id: p.steps[0].max_import_w for p in plan.evse_plans}
    must = needy.must_charge_w(NOW)
    assert 0 < must < needy.import_room_w
    spare_needy, spare_other = needy.import_room_w - must, other.import_room_w
    share = (10_000.0 - must) / (spare_needy + spare_other)
    assert caps[needy.evse_id] == pytest.approx(must + spare_needy * share)
    assert caps[other.evse_id] == pytest.approx(spare_other * share)
    assert plan.excluded == (outside.evse_id,)
    assert plan.feasibility.result(100.0) is FsResult.ACCEPTED


def test_a_limit_below_the_needs_wins_and_reports_the_ev_users() -> None:
    fleet = [
        evse(i, energy_to_min_soc_wh=11_000.0, departure=START + timedelta(hours=1)) for i in (1, 2)
    ]
    plan = plan_congestion(request_of(_limits((6_000.0, None))), fleet, NOW)
    assert [p.steps[0].max_import_w for p in plan.evse_plans] == pytest.approx([3_000.0, 3_000.0])
    assert {s.code for s in plan.feasibility.shortfalls} == {ReasonCode.EVU_LIMIT}


def test_export_only_period_leaves_import_at_headroom() -> None:
    v2g = evse(1, max_export_w=8_000.0, v2g_allowed=True)
    plan = plan_congestion(request_of(_limits((None, 2_000.0))), [v2g, evse(2)], NOW)
    steps = [p.steps[0] for p in plan.evse_plans]
    assert [s.max_import_w for s in steps] == pytest.approx([11_000.0, 11_000.0])
    assert [s.max_export_w for s in steps] == pytest.approx([2_000.0, 0.0])
    assert plan.feasibility.committed_schedule == ((0, 1800, -2_000.0),)


@FLEET_SETTINGS
@given(
    fleets(),
    st.lists(
        st.tuples(
            st.one_of(st.none(), st.floats(0, 60_000)), st.one_of(st.none(), st.floats(0, 30_000))
        ).filter(lambda p: p != (None, None)),
        min_size=1,
        max_size=4,
    ),
)
def test_limits_are_never_exceeded(
    fleet: list[EvseState], periods: list[tuple[float | None, float | None]]
) -> None:
    plan = plan_congestion(request_of(_limits(*periods), hours=len(periods) / 2), fleet, NOW)
    states = {e.evse_id: e for e in fleet}
    for k, (imp, exp) in enumerate(periods):
        middle = START + timedelta(seconds=1800 * k + 900)
        covering = [
            (p.evse_id, s) for p in plan.evse_plans for s in p.steps if s.start <= middle < s.end
        ]
        for evse_id, step in covering:
            assert step.max_import_w is not None
            assert 0.0 <= step.max_import_w <= max(states[evse_id].max_import_w, 0.0) + TOL
            if exp is not None:
                assert step.max_export_w is not None
                assert step.max_export_w <= states[evse_id].export_room_w + TOL
        if imp is not None:
            assert sum(s.max_import_w or 0.0 for _, s in covering) <= imp + 1e-6
        if exp is not None:
            assert sum(s.max_export_w or 0.0 for _, s in covering) <= exp + 1e-6
