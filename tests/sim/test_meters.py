"""Meter readings: resolution, consistency of cumulative energies, injected delivery faults."""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from datetime import datetime, timedelta

import pytest

from fcsbe.sim import FaultOptions, MeterReading, SetpointControl, SimOptions
from tests.sim.helpers import plug, single_site


def _fleet(options: SimOptions, n: int = 50) -> tuple[list[MeterReading], int, object]:
    sim, evses = single_site(n, options=options)
    for k, e in enumerate(evses):
        plug(sim, e, soc_pct=20.0 + k % 60, departure_h=0.2 + (k % 5) * 0.1)
        if k % 3 == 0:
            sim.apply(e, SetpointControl(-4_000.0 + 300 * k))
    readings: list[MeterReading] = []
    for _ in range(200):
        sim.step(10)
        readings += sim.drain_readings()
    return readings, n, sim


def test_readings_land_on_the_resolution_grid_whatever_the_step() -> None:
    sim, (evse,) = single_site(options=SimOptions(meter_resolution_s=10))
    plug(sim, evse)
    for _ in range(20):
        sim.step(7)
    readings = sim.drain_readings()
    assert {r.at.second % 10 for r in readings} == {0}
    assert {r.at.microsecond for r in readings} == {0}
    assert len(readings) == 2 * 14  # one EVSE and one site reading at 10, 20, ..., 140 s
    assert {r.quality for r in readings} == {"MEASURED"}


def test_cumulative_energies_match_the_powers() -> None:
    readings, _, _ = _fleet(SimOptions(meter_resolution_s=10))
    by_meter: dict[str, list[MeterReading]] = defaultdict(list)
    for r in readings:
        by_meter[r.meter_id].append(r)
    for series in by_meter.values():
        for a, b in itertools.pairwise(series):
            assert b.at - a.at == timedelta(seconds=10)
            assert b.e_import_wh >= a.e_import_wh
            assert b.e_export_wh >= a.e_export_wh
            # Each reading's power was held over the 10 s since the previous one.
            delta = (b.e_import_wh - a.e_import_wh) - (b.e_export_wh - a.e_export_wh)
            assert delta == pytest.approx(b.p_w * 10 / 3600, abs=1e-6)
    site = by_meter["SITE"]
    evse_import = sum(by_meter[m][-1].e_import_wh for m in by_meter if m != "SITE")
    evse_export = sum(by_meter[m][-1].e_export_wh for m in by_meter if m != "SITE")
    assert site[-1].e_import_wh - site[-1].e_export_wh == pytest.approx(evse_import - evse_export)


def test_faults_drop_duplicate_and_delay_as_configured() -> None:
    faults = FaultOptions(drop_rate=0.1, duplicate_rate=0.05, late_rate=0.05, late_by_s=30, seed=4)
    readings, n, sim = _fleet(SimOptions(meter_resolution_s=10, faults=faults))
    stats = sim.stats  # type: ignore[attr-defined]
    generated = 200 * (n + 1)
    assert stats.readings_generated == generated
    for count, rate in (
        (stats.readings_dropped, 0.1),
        (stats.readings_duplicated, 0.05),
        (stats.readings_delayed, 0.05),
    ):
        assert abs(count - rate * generated) < 4 * math.sqrt(rate * (1 - rate) * generated)
    pending = sim.pending_late_readings  # type: ignore[attr-defined]
    assert len(readings) == generated - stats.readings_dropped + stats.readings_duplicated - pending
    # Duplicates are exact copies; late ones arrive after newer readings of the same meter.
    assert len(set(readings)) == len(readings) - stats.readings_duplicated
    newest: dict[str, datetime] = {}
    out_of_order = 0
    for r in readings:
        seen = newest.get(r.meter_id)
        if seen is not None and r.at < seen:
            out_of_order += 1
        newest[r.meter_id] = r.at if seen is None else max(seen, r.at)
    # A late reading is out of order unless every newer reading of its meter in between was
    # itself dropped or delayed, which is rare at these rates.
    delivered_late = stats.readings_delayed - pending
    assert 0.9 * delivered_late <= out_of_order <= delivered_late


def test_the_buffer_is_bounded_and_counts_what_it_discards() -> None:
    sim, _evses = single_site(9, options=SimOptions(meter_resolution_s=1, reading_buffer_limit=100))
    for _ in range(50):
        sim.step(1)
    assert len(sim.drain_readings()) == 100
    assert sim.stats.readings_overflowed == 50 * 10 - 100


def test_site_readings_only_option() -> None:
    options = SimOptions(meter_resolution_s=5, evse_readings=False)
    sim, (evse,) = single_site(options=options)
    plug(sim, evse)
    sim.step(5)
    (reading,) = sim.drain_readings()
    assert reading.kind == "SITE"
    assert reading.p_w == 11_000
