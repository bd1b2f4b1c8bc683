"""CONGESTION planning: node limits never exceeded, must-charge power served first."""

from __future__ import annotations

from dataclasses import replace
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


def test_export_only_period_leaves_import_unbounded() -> None:
    v2g = evse(1, max_export_w=8_000.0, v2g_allowed=True)
    plan = plan_congestion(request_of(_limits((None, 2_000.0))), [v2g, evse(2)], NOW)
    steps = [p.steps[0] for p in plan.evse_plans]
    assert [s.max_import_w for s in steps] == [None, None]
    assert [s.max_export_w for s in steps] == pytest.approx([2_000.0, 0.0])
    assert plan.feasibility.committed_schedule == ((0, 1800, -2_000.0),)


def test_the_limit_is_on_the_connection_point_with_load_and_pv() -> None:
    # Worked example: a block of flats draws 8 kW for its households and its roof gives 10 kW
    # of PV, so the rest of the connection is -2 kW; a 20 kW import limit leaves the EVs 22 kW,
    # shared over two EVs (11 kW headroom each) and nothing left for the empty third EVSE.
    flats = {"site_other_w": -2_000.0}
    fleet = [
        evse(1, **flats),
        evse(2, **flats),
        evse(3, connected=False, max_import_w=0.0, **flats),
    ]
    plan = plan_congestion(request_of(_limits((20_000.0, None))), fleet, NOW)
    caps = [p.steps[0].max_import_w for p in plan.evse_plans]
    assert caps == pytest.approx([11_000.0, 11_000.0, 0.0])
    # With 12 kW of household load and no sun the EVs get 20 - 12 = 8 kW between them.
    evening = [evse(n, site_other_w=12_000.0) for n in (1, 2)]
    plan = plan_congestion(request_of(_limits((20_000.0, None))), evening, NOW)
    assert [p.steps[0].max_import_w for p in plan.evse_plans] == pytest.approx([4_000.0] * 2)


def test_other_load_is_counted_once_per_site() -> None:
    fleet = [
        evse(1, site_id="a", site_other_w=3_000.0),
        evse(2, site_id="a", site_other_w=3_000.0),
        evse(3, site_id="b", site_other_w=1_000.0),
    ]
    plan = plan_congestion(request_of(_limits((10_000.0, None))), fleet, NOW)
    total = sum(p.steps[0].max_import_w or 0.0 for p in plan.evse_plans)
    assert total == pytest.approx(10_000.0 - 4_000.0)


def test_an_empty_evse_keeps_the_spare_budget_as_its_cap() -> None:
    # One EV can take 11 kW of a 30 kW budget: the two empty EVSEs share the 19 kW left, so an
    # EV arriving at either is capped at once and the node stays within its limit.
    fleet = [evse(1), *(evse(n, connected=False, max_import_w=0.0) for n in (2, 3))]
    plan = plan_congestion(request_of(_limits((30_000.0, None))), fleet, NOW)
    caps = [p.steps[0].max_import_w for p in plan.evse_plans]
    assert caps == pytest.approx([11_000.0, 9_500.0, 9_500.0])
    assert sum(c or 0.0 for c in caps) == pytest.approx(30_000.0)


def test_an_export_limit_counts_the_load_that_absorbs_the_discharge() -> None:
    # 2 kW of export allowed, 3 kW of household load behind the connection: the EVs may give
    # 5 kW; with 4 kW of PV instead of the load, nothing (the PV alone exports 4 kW > 2 kW).
    v2g = {"max_export_w": 11_000.0, "v2g_allowed": True}
    plan = plan_congestion(
        request_of(_limits((None, 2_000.0))), [evse(1, site_other_w=3_000.0, **v2g)], NOW
    )
    assert plan.evse_plans[0].steps[0].max_export_w == pytest.approx(5_000.0)
    plan = plan_congestion(
        request_of(_limits((None, 2_000.0))), [evse(1, site_other_w=-4_000.0, **v2g)], NOW
    )
    assert plan.evse_plans[0].steps[0].max_export_w == 0.0


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
    st.floats(-20_000, 20_000),
)
def test_limits_are_never_exceeded(
    fleet: list[EvseState], periods: list[tuple[float | None, float | None]], other: float
) -> None:
    fleet = [replace(e, site_other_w=other) for e in fleet]
    plan = plan_congestion(request_of(_limits(*periods), hours=len(periods) / 2), fleet, NOW)
    states = {e.evse_id: e for e in fleet}
    for k, (imp, exp) in enumerate(periods):
        middle = START + timedelta(seconds=1800 * k + 900)
        covering = [
            (p.evse_id, s) for p in plan.evse_plans for s in p.steps if s.start <= middle < s.end
        ]
        assert len(covering) == len(fleet), "every EVSE behind the node has a cap, EV or not"
        for evse_id, step in covering:
            state = states[evse_id]
            if imp is None:
                assert step.max_import_w is None
            else:
                assert step.max_import_w is not None
                assert step.max_import_w >= 0.0
                if state.connected:
                    assert step.max_import_w <= max(state.max_import_w, 0.0) + TOL
            if exp is not None:
                assert step.max_export_w is not None
                assert step.max_export_w <= state.export_room_w + TOL
        if imp is not None:
            assert sum(s.max_import_w or 0.0 for _, s in covering) <= max(0.0, imp - other) + TOL
        if exp is not None:
            assert sum(s.max_export_w or 0.0 for _, s in covering) <= max(0.0, exp + other) + TOL
