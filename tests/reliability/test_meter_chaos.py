"""R7: dropped, duplicated, reordered and late meter data never break a record or its proof;
every anomaly is flagged, and the figures are exactly those of the clean subset.

The simulator runs the same physics twice, once delivering its readings faithfully and once
through its fault injection (drop, duplicate, deliver late); the record of the faulty delivery
must equal the record of the readings that did arrive, cleaned, to the last bit.
"""

from __future__ import annotations

import math
import random
import re
from datetime import UTC, datetime, timedelta

import pytest
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fcsbe.client import FcsbeClient
from fcsbe.model import DataQualityCode, DetailedServiceRecord, FsState
from fcsbe.server.services.records.dsr.builder import build_dsr
from fcsbe.server.services.records.dsr.inputs import MeterSample, RecordInputs
from fcsbe.sim import FaultOptions, SetpointControl, Simulator
from tests.support.dsr_fixtures import fs_model
from tests.support.sim_meters import build_site_sim, drive, meters_of, sessions_of

START = datetime(2026, 3, 2, 17, 0, tzinfo=UTC)
EVSES = [f"NL*FCS*ECHAOS{n:03d}*1" for n in range(1, 9)]
SETPOINT = {
    "fs_type": "SETPOINT",
    "resolution_s": 900,
    "periods": [
        {"start_offset_s": 900 * k, "p_w": p} for k, p in enumerate([160e3, 80e3, -40e3, 0])
    ],
}
FS = fs_model(SETPOINT, minutes=60)


def _run(faults: FaultOptions | None) -> tuple[Simulator, list[MeterSample]]:
    sim = build_site_sim(EVSES, START - timedelta(minutes=15), faults=faults, resolution_s=30)
    samples = drive(sim, START - timedelta(minutes=15), START, every_s=30)
    for k, period in enumerate(SETPOINT["periods"]):  # type: ignore[arg-type]
        sim.apply_site("s1", SetpointControl(p_w=period["p_w"]))
        t0 = START + timedelta(seconds=900 * k)
        samples += drive(sim, t0, t0 + timedelta(seconds=900), every_s=30)
    return sim, samples


def _record(samples: list[MeterSample], sim: Simulator) -> DetailedServiceRecord:
    inputs = RecordInputs(
        meters=meters_of(EVSES), readings=samples, sessions=sessions_of(sim, START)
    )
    return build_dsr(FS, None, inputs, final_state=FsState.COMPLETED, created_at=START).record


def _count(record: DetailedServiceRecord, code: DataQualityCode) -> int:
    found = [f for f in record.data_quality if f.code is code]
    return sum(int(re.match(r"\d+", f.detail or "0")[0]) for f in found)  # type: ignore[index]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_faulty_delivery_gives_the_record_of_the_clean_subset(seed: int) -> None:
    faults = FaultOptions(
        drop_rate=0.05, duplicate_rate=0.05, late_rate=0.05, late_by_s=120, seed=seed
    )
    chaotic_sim, delivered = _run(faults)
    faithful_sim, truth = _run(None)
    stats = chaotic_sim.stats
    assert min(stats.readings_dropped, stats.readings_duplicated, stats.readings_delayed) > 0
    # Physics is untouched by delivery faults: what arrived is a subset of the truth.
    arrived = {(r.meter_id, r.at): r for r in delivered}
    truth_by_key = {(r.meter_id, r.at): r for r in truth}
    assert all(
        truth_by_key[k]._replace(received_at=None) == r._replace(received_at=None)
        for k, r in arrived.items()
    )
    clean_subset = [truth_by_key[k] for k in sorted(arrived, key=lambda k: (k[1], k[0]))]

    chaotic = _record(delivered, chaotic_sim)
    clean = _record(clean_subset, faithful_sim)
    assert chaotic.intervals == clean.intervals
    assert chaotic.totals == clean.totals
    assert chaotic.sessions == clean.sessions
    assert chaotic.meters == clean.meters

    # Every anomaly is flagged, with exact counts.
    arrived_late = stats.readings_delayed - chaotic_sim.pending_late_readings
    assert _count(chaotic, DataQualityCode.DUPLICATE_READING) == stats.readings_duplicated
    assert _count(chaotic, DataQualityCode.LATE_READING) == arrived_late
    assert _count(chaotic, DataQualityCode.OUT_OF_ORDER) == arrived_late
    gaps = [f for f in chaotic.data_quality if f.code is DataQualityCode.GAP]
    assert gaps == [f for f in clean.data_quality if f.code is DataQualityCode.GAP]
    assert gaps, "dropped readings leave gaps"
    assert chaotic.totals.availability_pct < 100

    # Totals are exact on the clean subset: the window's import is, per meter, the register
    # difference across the window (linear between the readings around each end).
    end = START + timedelta(hours=1)
    expected = math.fsum(
        _register(clean_subset, m, end) - _register(clean_subset, m, START) for m in EVSES
    )
    measured = math.fsum(i.energy_import_wh for i in chaotic.intervals)
    assert measured == pytest.approx(expected, abs=0.01)


def _register(samples: list[MeterSample], meter_id: str, when: datetime) -> float:
    """Import register of one meter at `when`, written out independently of the builder."""
    points = sorted((r.at, r.e_import_wh) for r in samples if r.meter_id == meter_id)
    before = [p for p in points if p[0] <= when][-1]
    after = next((p for p in points if p[0] >= when), before)  # no data after: none counted
    if after[0] == before[0]:
        return before[1]
    share = (when - before[0]) / (after[0] - before[0])
    return before[1] + share * (after[1] - before[1])


BASE = _run(None)[1]


@st.composite
def _mangled(draw: st.DrawFn) -> list[MeterSample]:
    rng = random.Random(draw(st.integers(0, 10_000)))
    drop = draw(st.sampled_from([0.0, 0.1, 0.5, 0.95, 1.0]))
    samples = [r for r in BASE if rng.random() >= drop]
    out: list[MeterSample] = []
    for r in samples:
        roll = rng.random()
        if roll < 0.05:
            out += [r, r]
        elif roll < 0.08:
            out.append(r._replace(received_at=r.at + timedelta(hours=rng.randint(1, 30))))
        elif roll < 0.10:
            out.append(r._replace(e_import_wh=rng.choice([math.nan, -5.0, 0.0, math.inf])))
        elif roll < 0.12:
            out.append(r._replace(at=r.at + timedelta(days=rng.randint(-400, 400))))
        elif roll < 0.13:
            out.append(r._replace(meter_id="NL*FCS*EGHOST*1", quality="MISSING"))
        elif roll < 0.15:
            out.append(r._replace(p_w=math.nan, quality="ESTIMATED"))
        elif roll < 0.16:
            out.append(r._replace(received_at=r.at - timedelta(hours=2)))
        else:
            out.append(r)
    if draw(st.booleans()):
        rng.shuffle(out)
    return out


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.large_base_example],
)
@given(samples=_mangled())
def test_no_delivery_breaks_the_record(samples: list[MeterSample]) -> None:
    inputs = RecordInputs(meters=meters_of(EVSES), readings=samples)
    for method in ("METER_BEFORE_ACTIVATION", "HISTORICAL_AVERAGE", "ZERO"):
        fs = fs_model(SETPOINT, minutes=60, baseline_method=method)
        record = build_dsr(fs, None, inputs, final_state=FsState.COMPLETED, created_at=START)
        again = DetailedServiceRecord.model_validate_json(record.record.model_dump_json())
        assert again == record.record
        assert len(record.record.intervals) == 4
        assert 0 <= record.record.totals.availability_pct <= 100


async def test_proof_of_a_chaotic_record_verifies(app: FastAPI, client: FcsbeClient) -> None:
    """The full chain (record, tree, signed proof, offline verification) on faulty data."""
    from fcsbe.server.services.records.records import record_fs
    from tests.server.api.test_records import _ended_fs, _workers
    from tests.support.factories import make_fo
    from tests.support.fs_fixtures import evse_id, make_contract, make_site

    factory = app.state.session_factory
    client.token = await make_fo(factory, "FO-A")
    evses = await make_site(factory, "s1", evses=2)
    await make_contract(factory, "FO-A")
    pk, start, end = await _ended_fs(app, client, "fs-chaos")
    faults = FaultOptions(drop_rate=0.1, duplicate_rate=0.1, late_rate=0.1, seed=9)
    sim = build_site_sim(evses, start - timedelta(minutes=15), faults=faults)
    samples = drive(sim, start - timedelta(minutes=15), end)
    samples.append(samples[3]._replace(meter_id=evse_id("s9", 1)))
    async with factory() as session:
        await record_fs(session, pk, RecordInputs(meters=meters_of(evses), readings=samples))
        await session.commit()
    assert await _workers(app) == 1
    verdict, record, _ = await client.records.verify("fs-chaos")
    assert verdict.valid, verdict.problems
    codes = {f.code for f in record.data_quality}
    assert {DataQualityCode.DUPLICATE_READING, DataQualityCode.INVALID_READING} <= codes
