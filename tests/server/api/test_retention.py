"""Retention with a moved clock: what is past its period goes, what is younger stays, records
inside their settlement period (or disputed) stay, and the event log still verifies."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy import select
from typer.testing import CliRunner

from fcsbe.cli import app as cli
from fcsbe.client import FcsbeClient, NotFoundError
from fcsbe.model import FlexibilityServiceRequest, FsState
from fcsbe.server.security.pseudonyms import Pseudonymizer
from fcsbe.server.services.event_log.audit import verify_log
from fcsbe.server.services.event_log.log import chain_pending
from fcsbe.server.services.event_log.tree import tree_step
from fcsbe.server.services.flexibility_services.decision_batch import decide_pending
from fcsbe.server.services.records.dsr.inputs import MeterSample, RecordInputs
from fcsbe.server.services.records.records import issue_proofs, record_fs
from fcsbe.server.services.retention import (
    STATION_CONSENT_PREFIX,
    PurgeCounts,
    RetentionPolicy,
    purge,
    purge_all,
)
from fcsbe.server.settings import Settings
from fcsbe.server.storage.base import utcnow
from fcsbe.server.storage.engine import create_engine, create_session_factory
from fcsbe.server.storage.event_log import EventLogRow
from fcsbe.server.storage.infrastructure import ConsentRow, EvSessionRow
from fcsbe.server.storage.measurements import MeterReadingRow, insert_readings
from fcsbe.server.storage.records import ProofOfWorkRow, ServiceRecordRow
from fcsbe.server.workers import retention_purge_step
from tests.support.dsr_fixtures import finish_fs, meter, readings
from tests.support.factories import make_fo
from tests.support.fs_fixtures import evse_id, make_contract, make_site, request_body

EVSE = evse_id("s1", 1)


@pytest.fixture
async def fo(app: FastAPI, client: FcsbeClient) -> FcsbeClient:
    factory = app.state.session_factory
    client.token = await make_fo(factory, "FO-A")
    await make_site(factory, "s1", evses=2)
    await make_contract(factory, "FO-A")  # terms keep records for 730 days
    return client


async def _purge(app: FastAPI, policy: RetentionPolicy, now: datetime) -> PurgeCounts:
    async with app.state.session_factory() as session:
        counts = await purge(session, policy, now)
        await session.commit()
    return counts


async def _chain(app: FastAPI) -> None:
    async with app.state.session_factory() as session:
        await chain_pending(session)
        await tree_step(session, app.state.keys, 0.0)
        await issue_proofs(session, app.state.keys)
        await session.commit()


def _reading(at: datetime, meter_id: str = EVSE) -> dict[str, object]:
    return {
        "meter_id": meter_id,
        "kind": "EVSE",
        "at": at,
        "p_w": 1000.0,
        "q_var": None,
        "e_import_wh": 1.0,
        "e_export_wh": 0.0,
        "soc_pct": 50.0,
        "f_hz": None,
        "u_v": None,
        "quality": "MEASURED",
    }


async def _readings_at(app: FastAPI) -> list[datetime]:
    async with app.state.session_factory() as session:
        found = await session.scalars(select(MeterReadingRow.at).order_by(MeterReadingRow.at))
        return [at.replace(tzinfo=None) for at in found]


async def test_meter_readings_older_than_their_period_go(app: FastAPI, fo: FcsbeClient) -> None:
    t = utcnow()
    async with app.state.session_factory() as session:
        await insert_readings(session, [_reading(t - timedelta(days=1)), _reading(t)])
        await session.commit()
    policy = RetentionPolicy(meter_readings_days=90)
    assert (await _purge(app, policy, t + timedelta(days=89))).meter_readings == 0
    counts = await _purge(app, policy, t + timedelta(days=90, hours=-1))
    assert counts == PurgeCounts(meter_readings=1)
    assert await _readings_at(app) == [t.replace(tzinfo=None)]
    assert (await _purge(app, policy, t + timedelta(days=90, hours=1))).meter_readings == 1


async def test_readings_an_unrecorded_fs_still_needs_are_kept(
    app: FastAPI, fo: FcsbeClient
) -> None:
    t = utcnow().replace(microsecond=0)
    body = request_body("fs-live", start_in=timedelta(hours=1), now=t)
    await fo.flexibility_services.create(FlexibilityServiceRequest.model_validate(body))
    async with app.state.session_factory() as session:
        await decide_pending(session, utcnow(), app.state.keys.sign)
        await session.commit()
    assert (await fo.flexibility_services.get("fs-live")).state is FsState.ACCEPTED
    start = datetime.fromisoformat(body["window"]["start"])
    before, inside = start - timedelta(minutes=30), start + timedelta(minutes=10)
    async with app.state.session_factory() as session:
        await insert_readings(session, [_reading(before), _reading(inside)])
        await session.commit()
    # One day later the FS window (1 h long) is past the raw cutoff, but its record is still
    # to be made from these readings: only the reading before the window goes.
    now = start + timedelta(days=1, minutes=30)
    counts = await _purge(app, RetentionPolicy(meter_readings_days=1), now)
    assert counts.meter_readings == 1
    assert await _readings_at(app) == [inside.replace(tzinfo=None)]


async def test_ended_sessions_and_their_per_session_consents_go(
    app: FastAPI, fo: FcsbeClient, tmp_path
) -> None:
    t = utcnow()
    assert (
        Pseudonymizer.load_or_create(tmp_path).consent_id("TX").startswith(STATION_CONSENT_PREFIX)
    )
    consents = {
        "cns_old": None,  # reported with the old session only
        "cns_shared": None,  # also used by a session still kept
        "standing-consent": None,  # given by the EV user, not withdrawn
        "withdrawn-consent": t - timedelta(days=2),
    }
    sessions = [  # (ref, evse, disconnected_at, consent)
        ("ps_old_1", evse_id("s1", 1), t - timedelta(hours=1), "cns_old"),
        ("ps_old_2", evse_id("s1", 1), t - timedelta(hours=2), "standing-consent"),
        ("ps_old_3", evse_id("s1", 2), t - timedelta(hours=3), "withdrawn-consent"),
        ("ps_old_4", evse_id("s1", 2), t - timedelta(hours=4), "cns_shared"),
        ("ps_young", evse_id("s1", 1), t + timedelta(days=1), "cns_shared"),
        ("ps_open", evse_id("s1", 2), None, None),
    ]
    async with app.state.session_factory() as session:
        for consent_id, withdrawn in consents.items():
            session.add(
                ConsentRow(
                    consent_id=consent_id,
                    subject_ref="evu_subject_1",
                    scope=["V1G"],
                    limits={},
                    given_at=t - timedelta(days=3),
                    withdrawn_at=withdrawn,
                )
            )
        for ref, evse, ended, consent_id in sessions:
            session.add(
                EvSessionRow(
                    session_ref=ref,
                    evse_id=evse,
                    subject_ref="evu_subject_1",
                    connected_at=t - timedelta(days=60),
                    departure_time=None,
                    disconnected_at=ended,
                    home_party_id=None,
                    visited_party_id=None,
                    fs_controller=None,
                    consent_id=consent_id,
                    data={"session_ref": ref},
                )
            )
        await session.commit()
    policy = RetentionPolicy(sessions_days=30)
    assert (await _purge(app, policy, t + timedelta(days=29))).total == 0
    counts = await _purge(app, policy, t + timedelta(days=30))
    assert (counts.sessions, counts.consents) == (4, 2)
    async with app.state.session_factory() as session:
        kept = set(await session.scalars(select(EvSessionRow.session_ref)))
        kept_consents = set(await session.scalars(select(ConsentRow.consent_id)))
    assert kept == {"ps_young", "ps_open"}
    assert kept_consents == {"cns_shared", "standing-consent"}
    # Once the last session using it has gone, the shared per-session consent goes too.
    counts = await _purge(app, policy, t + timedelta(days=32))
    assert (counts.sessions, counts.consents) == (1, 1)


async def _recorded(app: FastAPI, fo: FcsbeClient, fs_id: str) -> None:
    """An FS run to its end, recorded, and its proof issued."""
    body = request_body(fs_id, p_w=40_000.0)
    await fo.flexibility_services.create(FlexibilityServiceRequest.model_validate(body))
    async with app.state.session_factory() as session:
        await decide_pending(session, utcnow(), app.state.keys.sign)
        await session.commit()
    start = datetime.fromisoformat(body["window"]["start"])
    end = datetime.fromisoformat(body["window"]["end"])
    pk = await finish_fs(app.state.session_factory, "FO-A", fs_id, started=start, ended=end)
    evses = [evse_id("s1", 1), evse_id("s1", 2)]
    samples = [
        r
        for e in evses
        for r in readings(e, start - timedelta(minutes=15), end, 60, lambda _t: 20_000.0)
    ]
    async with app.state.session_factory() as session:
        await record_fs(session, pk, _inputs(evses, samples))
        await session.commit()
    await _chain(app)


def _inputs(evses: list[str], samples: list[MeterSample]) -> RecordInputs:
    return RecordInputs(meters=[meter(e) for e in evses], readings=samples)


async def test_records_stay_for_the_settlement_period_and_while_disputed(
    app: FastAPI, fo: FcsbeClient
) -> None:
    await _recorded(app, fo, "fs-settled")
    await _recorded(app, fo, "fs-disputed")
    await fo.records.validate("fs-settled", "ACCEPT")
    await fo.records.validate("fs-disputed", "DISPUTE", ["our meter disagrees"])
    await _chain(app)
    t = utcnow()
    policy = RetentionPolicy(records_days=400)
    # Past the server's 400 days but inside the contract's 730: kept.
    assert (await _purge(app, policy, t + timedelta(days=500))).records == 0
    assert (await fo.records.get("fs-settled")).fs_id == "fs-settled"
    counts = await _purge(app, policy, t + timedelta(days=731))
    assert (counts.records, counts.proofs) == (1, 1)
    with pytest.raises(NotFoundError):
        await fo.records.get("fs-settled")
    assert (await fo.records.get("fs-disputed")).fs_id == "fs-disputed"
    assert (await fo.records.proof("fs-disputed")).fs_id == "fs-disputed"
    assert (await fo.flexibility_services.get("fs-settled")).state is FsState.PROVEN
    # The purge itself is logged, and the log (heads, chain) still verifies.
    await _chain(app)
    async with app.state.session_factory() as session:
        audit = await verify_log(session)
        types = list(await session.scalars(select(EventLogRow.type)))
        left = (
            len(list(await session.scalars(select(ServiceRecordRow.id)))),
            len(list(await session.scalars(select(ProofOfWorkRow.id)))),
        )
    assert audit.intact, audit.reason
    assert "RETENTION_PURGED" in types
    assert left == (1, 1)


async def test_the_worker_step_drains_in_batches(app: FastAPI, fo: FcsbeClient) -> None:
    t = utcnow() - timedelta(days=400)
    async with app.state.session_factory() as session:
        await insert_readings(session, [_reading(t + timedelta(seconds=i)) for i in range(7)])
        await session.commit()
    step = retention_purge_step(app.state.session_factory, RetentionPolicy(batch_size=3))
    assert [await step() for _ in range(4)] == [3 + 0, 3, 1, 0]
    assert await _readings_at(app) == []


async def test_purge_all_repeats_until_nothing_is_left(app: FastAPI, fo: FcsbeClient) -> None:
    t = utcnow() - timedelta(days=400)
    async with app.state.session_factory() as session:
        await insert_readings(session, [_reading(t + timedelta(seconds=i)) for i in range(5)])
        counts = await purge_all(session, RetentionPolicy(batch_size=2), utcnow())
        await session.commit()
    assert counts.meter_readings == 5


def test_admin_command_dry_run_then_purge(tmp_path: Path) -> None:
    env = {
        "FCSBE_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'admin.db'}",
        "FCSBE_DATA_DIR": str(tmp_path / "var"),
        "FCSBE_LOG_LEVEL": "WARNING",
        "FCSBE_RETENTION_METER_READINGS_DAYS": "10",
    }
    runner = CliRunner()

    def purge_command(*options: str) -> str:
        result = runner.invoke(cli, ["admin", "--init", "retention", "purge", *options], env=env)
        assert result.exit_code == 0, result.output
        return result.output

    assert "would delete 0 meter readings" in purge_command("--dry-run")  # migrates the file
    settings = Settings(database_url=env["FCSBE_DATABASE_URL"], data_dir=tmp_path / "var")

    async def seed_and_count(seed: bool) -> int:
        engine = create_engine(settings)
        try:
            async with create_session_factory(engine)() as session:
                if seed:
                    now = utcnow()
                    await insert_readings(
                        session, [_reading(now - timedelta(days=11)), _reading(now)]
                    )
                    await session.commit()
                return len(list(await session.scalars(select(MeterReadingRow.id))))
        finally:
            await engine.dispose()

    assert asyncio.run(seed_and_count(True)) == 2
    assert "would delete 1 meter readings" in purge_command("--dry-run")
    assert asyncio.run(seed_and_count(False)) == 2
    assert json.loads(purge_command("--json")) == {
        "dry_run": False,
        "deleted": {"meter_readings": 1, "sessions": 0, "consents": 0, "records": 0, "proofs": 0},
    }
    assert asyncio.run(seed_and_count(False)) == 1
