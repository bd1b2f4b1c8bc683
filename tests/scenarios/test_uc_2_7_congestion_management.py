"""UC 2.7: distribution grid congestion — import and export limits on a grid node hold at the
connection points, household load and PV included, EVs arriving during a limit too."""

from __future__ import annotations

from datetime import timedelta

import pytest

from fcsbe.model import (
    DataQualityCode,
    DetailedServiceRecord,
    FlexibilityServiceRequest,
    FsState,
    Target,
    TargetLevel,
)
from fcsbe.server.settings import Settings
from fcsbe.server.storage.measurements import readings_between
from fcsbe.sim import Consent, EvUserLimits
from fcsbe.sim.catalogue import COMPACT_AC
from fcsbe.sim.scenarios import uc_2_7_street
from tests.scenarios.family2 import start_fs
from tests.scenarios.harness import Harness, harness
from tests.scenarios.settlement_steps import record_and_prove
from tests.support.fs_fixtures import request_body


async def test_import_limit_on_the_node_holds(settings: Settings) -> None:
    async with harness(settings) as h:
        depot = h.evses_of("SITE-DEPOT")
        assert await h.power_w(depot) > 60_000
        limits = {
            "fs_type": "CONGESTION",
            "grid_node": "NODE-CITY-1",
            "periods": [
                {
                    "start_offset_s": 0,
                    "duration_s": 600,
                    "import_limit_w": 50_000.0,
                    "export_limit_w": None,
                }
            ],
        }
        fs = await start_fs(h, "congestion", "CONGESTION", limits, "SITE-DEPOT")
        assert fs.state is FsState.ACTIVE
        for _ in range(3):
            await h.run(60, tick_s=20)
            assert await h.power_w(depot) <= 50_000 * 1.01
        await h.run(600, tick_s=120)
        done = await h.fo.flexibility_services.get("congestion")
        assert done.state is FsState.RECORDED  # ended, and its record made from the meters
        assert FsState.COMPLETED in [t.to_state for t in done.transitions]
        (interval,) = (await h.fo.records.get("congestion")).intervals
        assert interval.requested_w == 50_000
        assert interval.measured_w is not None
        assert interval.measured_w <= 50_000 * 1.01
        await h.run(20, tick_s=10)
        assert await h.power_w(depot) > 50_000  # released: unmanaged charging again


def _limits(import_w: float | None, export_w: float | None) -> dict[str, object]:
    return {
        "fs_type": "CONGESTION",
        "grid_node": "NODE-STREET-1",
        "periods": [
            {
                "start_offset_s": 0,
                "duration_s": 600,
                "import_limit_w": import_w,
                "export_limit_w": export_w,
            }
        ],
    }


async def test_the_limit_holds_at_the_connection_point_with_load_pv_and_an_arrival(
    settings: Settings,
) -> None:
    """Flats with 8 kW of household load and 10 kW of PV (half of its 20 kW peak): the rest of
    the connection is -2 kW, four EVs charge 44 kW, the meter reads 42 kW. A 20 kW import limit
    leaves the EVs 22 kW; an EV arriving at a free charger during the limit is capped at once."""
    flats = "SITE-FLATS"
    async with harness(settings, fleet=lambda t: uc_2_7_street(start=t)) as h:
        sim = h.stations.simulator
        sim.set_base_load(flats, 8_000.0)
        sim.set_irradiance(flats, 0.5)
        await h.run(5)
        assert sim.site_state(flats).p_w == pytest.approx(42_000.0, abs=1.0)
        fs = await start_fs(h, "street", "CONGESTION", _limits(20_000.0, None), flats)
        assert fs.state is FsState.ACTIVE
        await h.run(20, tick_s=10)
        limited_from = h.now
        assert sim.site_state(flats).p_w <= 20_000.0 + 1.0
        assert sim.site_state(flats).evse_p_w == pytest.approx(22_000.0, abs=1.0)
        free = [e for e in h.evses_of(flats) if not sim.evse_state(e).connected]
        sim.connect_ev(
            free[0], COMPACT_AC, 20.0, h.now + timedelta(hours=8), EvUserLimits(), Consent()
        )
        for _ in range(6):  # every step from the arrival on, replans included
            await h.run(10, tick_s=10)
            assert sim.site_state(flats).p_w <= 20_000.0 + 1.0
        assert sim.evse_state(free[0]).p_w > 0  # the newcomer got its share at the replan
        # The connection-point meter's readings are kept as evidence, within the limit.
        async with h.app.state.session_factory() as session:
            kept = await readings_between(session, [flats], limited_from, h.now, kinds=("SITE",))
        assert len(kept) >= 10
        assert max(r.p_w for r in kept) <= 20_000.0 + 1.0


async def test_an_export_limit_holds_with_v2g_and_pv(settings: Settings) -> None:
    """The flats' two V2G EVs are asked to discharge (export pays 0.90) while the roof gives
    10 kW and the households draw 8 kW: a 5 kW export limit at the connection leaves the EVs
    5 - 2 = 3 kW of discharge, and the meter never reads below -5 kW."""
    flats = "SITE-FLATS"
    async with harness(settings, fleet=lambda t: uc_2_7_street(start=t)) as h:
        sim = h.stations.simulator
        sim.set_base_load(flats, 8_000.0)
        sim.set_irradiance(flats, 0.5)
        prices = {
            "fs_type": "DYNAMIC_PRICE",
            "currency": "EUR",
            "v2x_allowed": True,
            "randomize_start_s": 0,
            "intervals": [
                {
                    "start_offset_s": 0,
                    "duration_s": 600,
                    "import_price_per_kwh": 0.40,
                    "export_price_per_kwh": 0.90,
                },
                {"start_offset_s": 600, "duration_s": 600, "import_price_per_kwh": 0.02},
            ],
        }
        limit = request_body(
            "limit",
            fs_type="CONGESTION",
            parameters=_limits(None, 5_000.0),
            targets=[("SITE", flats)],
            start_in=timedelta(seconds=60),
            duration=timedelta(minutes=20),
            now=h.now,
        )
        await h.fo.flexibility_services.create(FlexibilityServiceRequest.model_validate(limit))
        fs = await start_fs(h, "price", "DYNAMIC_PRICE", prices, flats, minutes=20)
        assert (await h.fo.flexibility_services.get("limit")).state is FsState.ACTIVE
        assert fs.state is FsState.ACTIVE
        for _ in range(3):
            await h.run(30, tick_s=15)
            site = sim.site_state(flats)
            assert site.evse_p_w < 0  # the V2G EVs discharge
            assert site.p_w >= -5_000.0 - 1.0
            assert site.evse_p_w == pytest.approx(-3_000.0, abs=1.0)


async def _record_of_a_sunny_limit(
    h: Harness, targets: list[tuple[str, str]] | None = None
) -> DetailedServiceRecord:
    """The flats with 2 kW of household load and 20 kW of PV (the rest of the connection is
    -18 kW) under a 20 kW import limit for 10 minutes (on the site, or on `targets`): the EVs
    get 38 kW, the connection reads 20 kW. Run to the end and return the FO's record."""
    flats = "SITE-FLATS"
    sim = h.stations.simulator
    sim.set_base_load(flats, 2_000.0)
    sim.set_irradiance(flats, 1.0)
    if targets is None:
        fs = await start_fs(h, "sunny", "CONGESTION", _limits(20_000.0, None), flats)
    else:
        body = request_body(
            "sunny",
            fs_type="CONGESTION",
            parameters=_limits(20_000.0, None),
            targets=targets,
            start_in=timedelta(seconds=60),
            duration=timedelta(minutes=10),
            minimum_acceptance_pct=1,
            now=h.now,
        )
        await h.fo.flexibility_services.create(FlexibilityServiceRequest.model_validate(body))
        await h.steps()
        await h.run(65)
        fs = await h.fo.flexibility_services.get("sunny")
    assert fs.state is FsState.ACTIVE
    await h.run(20, tick_s=10)
    assert sim.site_state(flats).evse_p_w == pytest.approx(38_000.0, abs=1.0)
    assert sim.site_state(flats).p_w == pytest.approx(20_000.0, abs=1.0)
    await h.run(600, tick_s=60)
    await record_and_prove(h)
    return await h.fo.records.get("sunny")


def _evse_import_wh(record: DetailedServiceRecord, site_meter: str) -> float:
    """What the EVSE meters imported over the record, from the registers it lists."""
    return sum(
        (m.end_register_wh or 0.0) - (m.start_register_wh or 0.0)
        for m in record.meters
        if m.meter_id != site_meter
    )


async def test_the_record_measures_the_limit_at_the_connection_point(settings: Settings) -> None:
    """The DSO's limit is on the connection point, so the record is too: it reports what the
    connection-point meter measured (20 kW, within the limit), not the EVSE meters' 38 kW
    (which would read as 18 kW over it), and judges compliance on that."""
    async with harness(settings, fleet=lambda t: uc_2_7_street(start=t)) as h:
        record = await _record_of_a_sunny_limit(h)
    # Measured by the connection-point meter, listed under the site's id; nothing estimated.
    assert "SITE-FLATS" in {m.meter_id for m in record.meters}
    assert not [f for f in record.data_quality if f.code is DataQualityCode.ESTIMATED_VALUES]
    assert record.performance is not None
    assert record.performance.ordered_basis.endswith("at the points of connection")
    (interval,) = record.intervals
    assert interval.requested_w == 20_000.0
    # 600 s at 20 kW, but for the first seconds of the window (26 kW until the plan is in force)
    assert interval.measured_w == pytest.approx(20_000.0, rel=0.01)
    assert interval.energy_import_wh == pytest.approx(20_000.0 / 6, rel=0.01)
    assert interval.energy_export_wh == 0.0
    assert interval.deficiency_w is not None
    assert interval.deficiency_w < 200.0  # those seconds only: within the 10 % tolerance
    assert interval.within_tolerance is True
    assert record.totals.accuracy_pct == 100.0
    # The baseline is the connection point's too: 44 + 2 - 20 = 26 kW before the limit.
    assert interval.baseline_w == pytest.approx(26_000.0, rel=0.01)
    assert interval.delivered_w == pytest.approx(-6_000.0, rel=0.05)
    # The EVSE meters are still in the record (sessions, evidence): they drew 38 kW.
    meters = {m.meter_id for m in record.meters}
    assert "SITE-FLATS" in meters
    assert len(meters) == 7  # the connection point and the six chargers
    assert _evse_import_wh(record, "SITE-FLATS") == pytest.approx(38_000.0 / 6, rel=0.02)


async def test_without_a_connection_meter_the_record_estimates_it(settings: Settings) -> None:
    """The same flats without a meter at the connection point: the record falls back to the
    EVSE meters (38 kW) plus the non-EV load the station reported at each plan (-18 kW), gets
    the same 20 kW, and flags the site's figures as estimated, saying from what."""
    async with harness(
        settings, fleet=lambda t: uc_2_7_street(start=t, connection_meter=False)
    ) as h:
        record = await _record_of_a_sunny_limit(h)
    (estimated,) = [f for f in record.data_quality if f.code is DataQualityCode.ESTIMATED_VALUES]
    assert estimated.target == Target(level=TargetLevel.SITE, id="SITE-FLATS")
    assert estimated.detail is not None
    assert "EVSE meters plus the non-EV load" in estimated.detail
    assert "-3000.000 Wh" in estimated.detail  # -18 kW for 10 minutes
    assert "SITE-FLATS" not in {m.meter_id for m in record.meters}
    (interval,) = record.intervals
    assert interval.measured_w == pytest.approx(20_000.0, rel=0.01)
    assert interval.energy_import_wh == pytest.approx(20_000.0 / 6, rel=0.01)
    assert interval.energy_export_wh == 0.0
    assert interval.within_tolerance is True
    # The EVSE-meter baseline (44 kW) plus the same modelled load: 26 kW.
    assert interval.baseline_w == pytest.approx(26_000.0, rel=0.01)


async def test_a_site_the_fo_cannot_see_is_not_named_in_the_record(settings: Settings) -> None:
    """Under a contract on the six chargers (not on the site), the connection point is still
    what the record measures, but it is named after its first EVSE: the site's id, which such
    a contract does not reveal, appears nowhere in the record."""
    evses = [f"DE*FCS*E000000{n}*1" for n in range(1, 7)]
    targets = [("EVSE", e) for e in evses]
    async with harness(
        settings, fleet=lambda t: uc_2_7_street(start=t), contract_targets=targets
    ) as h:
        assert sorted(h.evses_of("SITE-FLATS")) == evses
        record = await _record_of_a_sunny_limit(h, targets)
    assert "SITE-FLATS" not in record.model_dump_json()
    assert f"POC-{evses[0]}" in {m.meter_id for m in record.meters}
    (interval,) = record.intervals
    assert interval.measured_w == pytest.approx(20_000.0, rel=0.01)
    assert interval.within_tolerance is True
