"""The control stack (planning/control_stack.py): worked examples and bound properties.

Properties: whatever the layers, no composed command exceeds any layer's limit, the EVSE's
import/export capability (0 export without V2G), and the composed setpoints of a site together
stay within its grid connection, in both directions.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fcsbe.server.planning.control_stack import (
    PRIORITY,
    ArmedLayer,
    EvseBound,
    Layer,
    SiteBound,
    compose,
)

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(hours=1)
EPS = 1e-6


def _congestion(limit_w: float, fs_pk: int = 1, evse: str = "E1") -> Layer:
    return Layer(
        fs_pk,
        f"fs-cong-{fs_pk}",
        evse,
        PRIORITY["CONGESTION"],
        max_import_w=limit_w,
        valid_until=LATER,
    )


def _dr(limit_w: float, fs_pk: int = 2, evse: str = "E1") -> Layer:
    return Layer(
        fs_pk,
        f"fs-dr-{fs_pk}",
        evse,
        PRIORITY["DEMAND_RESPONSE"],
        max_import_w=limit_w,
        valid_until=NOW + timedelta(minutes=15),
    )


HOME = {"E1": EvseBound("E1", "home", max_import_w=11_000.0, max_export_w=0.0)}
HOME_SITE = {"home": SiteBound("home", 17_000.0, 0.0)}


def test_demand_response_over_congestion_keeps_the_lower_cap() -> None:
    """A CONGESTION cap of 4.2 kW, then a DEMAND_RESPONSE limit of 11 kW: 4.2 kW holds."""
    both = compose([_congestion(4_200.0), _dr(11_000.0)], HOME, HOME_SITE, NOW)
    assert both["E1"].limit == (4_200.0, None)
    assert both["E1"].limit_fs_id == "fs-cong-1"
    # A stricter DR limit binds while it runs.
    stricter = compose([_congestion(4_200.0), _dr(2_000.0)], HOME, HOME_SITE, NOW)
    assert stricter["E1"].limit == (2_000.0, None)


def test_ending_one_fs_removes_only_its_layer() -> None:
    """The DR event ends (its layer removed): the congestion cap is still there."""
    after = compose([_congestion(4_200.0)], HOME, HOME_SITE, NOW)
    assert after["E1"].limit == (4_200.0, None)
    # and an expired DR layer counts no more either
    expired = compose(
        [_congestion(4_200.0), _dr(1_000.0)], HOME, HOME_SITE, NOW + timedelta(minutes=20)
    )
    assert expired["E1"].limit == (4_200.0, None)
    # nothing left: the EVSE goes back to unmanaged charging
    assert compose([], HOME, HOME_SITE, NOW, ["E1"])["E1"].empty


def test_a_limit_stays_until_its_latest_layer_ends() -> None:
    both = compose([_congestion(4_200.0), _dr(2_000.0)], HOME, HOME_SITE, NOW)
    assert both["E1"].limit_until == LATER


def test_setpoint_within_a_site_limit() -> None:
    """20 EVSEs of 11 kW on a 150 kW connection, a SETPOINT layer of 11 kW on each: together
    they get 150 kW, 7.5 kW each."""
    evses = {f"E{i}": EvseBound(f"E{i}", "depot", 11_000.0, 0.0) for i in range(20)}
    sites = {"depot": SiteBound("depot", 150_000.0, 0.0)}
    layers = [
        Layer(1, "fs-sp", e, PRIORITY["SETPOINT"], setpoint_w=11_000.0, valid_until=LATER)
        for e in evses
    ]
    composed = compose(layers, evses, sites, NOW)
    assert sum(c.setpoint_w or 0 for c in composed.values()) == pytest.approx(150_000.0)
    assert {round(c.setpoint_w or 0) for c in composed.values()} == {7_500}


def test_export_on_an_evse_without_v2g_is_zero() -> None:
    """A RESERVE activation asking 2 kW of export on a home EVSE that cannot discharge."""
    layer = Layer(3, "fs-res", "E1", PRIORITY["RESERVE"], setpoint_w=-2_000.0, max_export_w=2_000.0)
    composed = compose([layer], HOME, HOME_SITE, NOW)["E1"]
    assert composed.setpoint_w == 0.0
    assert composed.limit == (None, 0.0)


def test_setpoints_by_priority_within_every_limit() -> None:
    """A RESERVE activation outranks the SETPOINT schedule; both stay within the DR cap."""
    layers = [
        Layer(1, "fs-sp", "E1", PRIORITY["SETPOINT"], setpoint_w=3_000.0),
        Layer(2, "fs-res", "E1", PRIORITY["RESERVE"], setpoint_w=9_000.0),
        _dr(6_000.0, fs_pk=4),
    ]
    composed = compose(layers, HOME, HOME_SITE, NOW)["E1"]
    assert composed.setpoint_fs_id == "fs-res"
    assert composed.setpoint_w == 6_000.0
    # the same layers in another order compose to the same command
    assert compose(list(reversed(layers)), HOME, HOME_SITE, NOW)["E1"] == composed


def test_armed_droop_range_is_clamped() -> None:
    droop = ArmedLayer("droop", {"p_min_w": -5_000.0, "p_max_w": 20_000.0, "f_ref_hz": 50.0})
    layer = Layer(5, "fs-droop", "E1", PRIORITY["DROOP"], armed=droop)
    composed = compose([layer, _congestion(4_200.0)], HOME, HOME_SITE, NOW)["E1"]
    assert composed.armed is not None
    assert composed.armed.params["p_max_w"] == 4_200.0
    assert composed.armed.params["p_min_w"] == 0.0


# --- properties ----------------------------------------------------------------------------

_power = st.floats(min_value=0.0, max_value=400_000.0, allow_nan=False)
_signed = st.floats(min_value=-400_000.0, max_value=400_000.0, allow_nan=False)
_types = st.sampled_from(sorted(PRIORITY))


@st.composite
def _stacks(draw: st.DrawFn) -> tuple[list[Layer], dict[str, EvseBound], dict[str, SiteBound]]:
    site_ids = [f"S{i}" for i in range(draw(st.integers(1, 3)))]
    sites = {s: SiteBound(s, draw(_power), draw(st.one_of(st.just(0.0), _power))) for s in site_ids}
    evses: dict[str, EvseBound] = {}
    for i in range(draw(st.integers(1, 8))):
        v2g = draw(st.booleans())
        evses[f"E{i}"] = EvseBound(
            f"E{i}",
            draw(st.sampled_from(site_ids)),
            draw(st.floats(min_value=0.0, max_value=350_000.0)),
            draw(st.floats(min_value=0.0, max_value=150_000.0)) if v2g else 0.0,
        )
    layers = []
    for pk in range(1, draw(st.integers(0, 12)) + 1):
        fs_type = draw(_types)
        for evse_id in draw(st.lists(st.sampled_from(sorted(evses)), min_size=1, unique=True)):
            layers.append(
                Layer(
                    pk,
                    f"fs-{pk}",
                    evse_id,
                    PRIORITY[fs_type],
                    setpoint_w=draw(st.one_of(st.none(), _signed)),
                    max_import_w=draw(st.one_of(st.none(), _power)),
                    max_export_w=draw(st.one_of(st.none(), _power)),
                    valid_until=draw(st.one_of(st.none(), st.just(LATER))),
                )
            )
    return layers, evses, sites


@settings(max_examples=150, deadline=None)
@given(_stacks())
def test_no_composed_command_exceeds_any_bound(
    stack: tuple[list[Layer], dict[str, EvseBound], dict[str, SiteBound]],
) -> None:
    layers, evses, sites = stack
    composed = compose(layers, evses, sites, NOW)
    for evse_id, c in composed.items():
        bound = evses[evse_id]
        site = sites[bound.site_id]
        mine = [x for x in layers if x.evse_id == evse_id]
        import_cap = min(
            [bound.max_import_w, site.import_limit_w]
            + [x.max_import_w for x in mine if x.max_import_w is not None]
        )
        export_cap = min(
            [bound.max_export_w, site.export_limit_w]
            + [x.max_export_w for x in mine if x.max_export_w is not None]
        )
        if c.setpoint_w is not None:
            assert -export_cap - EPS <= c.setpoint_w <= import_cap + EPS
        if c.limit is not None:
            imp, exp = c.limit
            assert imp is None or imp <= import_cap + EPS
            assert exp is None or exp <= export_cap + EPS
            # a limit is there exactly when a layer asks for it, side by side
            assert (imp is None) == all(x.max_import_w is None for x in mine)
            assert (exp is None) == all(x.max_export_w is None for x in mine)
        if bound.max_export_w == 0.0:
            assert (c.setpoint_w or 0.0) >= 0.0
    for site_id, site in sites.items():
        on_site = [c for e, c in composed.items() if evses[e].site_id == site_id]
        imported = sum(c.setpoint_w for c in on_site if c.setpoint_w and c.setpoint_w > 0)
        exported = -sum(c.setpoint_w for c in on_site if c.setpoint_w and c.setpoint_w < 0)
        assert imported <= site.import_limit_w * (1 + 1e-9) + EPS
        assert exported <= site.export_limit_w * (1 + 1e-9) + EPS


@settings(max_examples=60, deadline=None)
@given(_stacks(), st.randoms(use_true_random=False))
def test_composition_is_deterministic(
    stack: tuple[list[Layer], dict[str, EvseBound], dict[str, SiteBound]], rnd: object
) -> None:
    layers, evses, sites = stack
    shuffled = list(layers)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    assert compose(shuffled, evses, sites, NOW) == compose(layers, evses, sites, NOW)


@settings(max_examples=60, deadline=None)
@given(_stacks(), st.integers(1, 12))
def test_removing_one_fs_leaves_the_others_limits(
    stack: tuple[list[Layer], dict[str, EvseBound], dict[str, SiteBound]], gone: int
) -> None:
    """Without FS `gone`, every EVSE is still capped by every remaining layer's limit."""
    layers, evses, sites = stack
    kept = [x for x in layers if x.fs_pk != gone]
    composed = compose(kept, evses, sites, NOW)
    for layer in kept:
        c = composed[layer.evse_id]
        if layer.max_import_w is not None:
            assert c.limit is not None
            assert c.limit[0] is not None
            assert c.limit[0] <= layer.max_import_w + EPS
    assert not math.isnan(sum(c.setpoint_w or 0 for c in composed.values()))
