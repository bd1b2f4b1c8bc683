"""A batch decided from set-based reads in memory decides exactly as the FS decided one by one
with their own queries: the same results, reasons, signatures and committed power, the same
EVSE shares, baselines, transitions, event-log entries and notifications.

The batch mixes what makes decisions depend on each other and on what others hold: FS that
compete for one site's connection, an exclusive FS over a setpoint's EVSEs, an activations cap
reached inside the batch, a live FS decided before, targets unknown or not the FO's to see, an
off-grid site, an EV without V2G consent, another FO's contract, a passed deadline.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from fastapi import FastAPI
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from fcsbe.model import FlexibilityServiceRequest
from fcsbe.server.platform.observability import correlation_scope
from fcsbe.server.services.flexibility_services.decision import decide
from fcsbe.server.services.flexibility_services.decision_batch import claim_received, decide_pending
from fcsbe.server.storage.base import utcnow
from fcsbe.server.storage.contracts import ContractRow
from fcsbe.server.storage.event_log import EventLogRow
from fcsbe.server.storage.flexibility_services import (
    FlexibilityServiceRow,
    FsTargetRow,
    FsTransitionRow,
)
from fcsbe.server.storage.notifications import OutboxRow
from fcsbe.server.storage.records import FsBaselineRow
from tests.support.factories import make_fo
from tests.support.fs_fixtures import evse_id, make_contract, make_site, plug_ev, request_body

RESERVE = {
    "fs_type": "RESERVE",
    "up_w": 10_000.0,
    "down_w": 5_000.0,
    "full_activation_time_s": 300,
    "min_activation_duration_s": 900,
}
FFR = {
    "fs_type": "FFR",
    "trigger_levels": [
        {"frequency_hz": 49.7, "full_activation_time_s": 30.0, "delta_p_w": -6_000.0}
    ],
    "detection_delay_s": 0.1,
    "support_duration_s": 30,
    "deactivation_ramp_s": 10,
    "rearm_time_s": 900,
    "evidence_sampling_ms": 20,
}


def _setpoint(p_w: float) -> dict[str, Any]:
    return {
        "fs_type": "SETPOINT",
        "resolution_s": 3600,
        "periods": [{"start_offset_s": 0, "p_w": p_w}],
    }


async def _store(
    session: AsyncSession,
    body: dict[str, Any],
    *,
    fo: str = "FO-A",
    fsc: str = "fsc-1",
    late: bool = False,
    correlation_id: str | None = None,
) -> None:
    now = utcnow()
    request = FlexibilityServiceRequest.model_validate(body)
    contract = await session.scalar(select(ContractRow.id).where(ContractRow.fsc_id == fsc))
    session.add(
        FlexibilityServiceRow(
            fo_party_id=fo,
            fs_id=request.fs_id,
            revision=1,
            contract_id=contract,
            fs_type=request.fs_type.value,
            state="RECEIVED",
            window_start=request.window.start,
            window_end=request.window.end,
            response_deadline=now + (timedelta(minutes=-1) if late else timedelta(minutes=30)),
            committed_w=None,
            request=request.model_dump(mode="json"),
            response=None,
            execution=None,
            correlation_id=correlation_id,
            created_at=now,
            updated_at=now,
        )
    )
    await session.flush()


def _base() -> datetime:
    """The time the seeded windows start from (one to five hours on): now, unless they would
    then cross midnight UTC; the activations cap counts per day of a window's start, and the
    seed's eight activations of FO-A must fall on one day whatever the clock says."""
    now = utcnow()
    if (now + timedelta(hours=5)).date() == now.date():
        return now
    midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight - timedelta(minutes=55)


async def _seed(app: FastAPI) -> None:
    factory = app.state.session_factory
    base = _base()

    def _body(fs_id: str, **kw: Any) -> dict[str, Any]:
        return request_body(fs_id, now=base, **kw)

    await make_fo(factory, "FO-A")
    await make_fo(factory, "FO-B")
    await make_site(factory, "s1", evses=4)
    await make_site(factory, "s2", evses=2)
    await make_site(factory, "s3", evses=1, grid_state="OFF_GRID")
    await make_site(factory, "s4", evses=2)
    await plug_ev(factory, evse_id("s2", 1))
    await plug_ev(factory, evse_id("s2", 2), v2g_consent=False)
    await make_contract(
        factory, "FO-A", targets=[("SITE", "s1"), ("SITE", "s2"), ("SITE", "s3")], max_activations=3
    )
    await make_contract(factory, "FO-B", "fsc-2", targets=[("SITE", "s4")])
    async with factory() as session:  # a live FS decided earlier holds part of s1
        await _store(session, _body("before", p_w=80_000.0))
        await session.commit()
    async with factory() as session:
        assert await decide_pending(session, utcnow(), app.state.keys.sign, limit=1) == 1
        await session.commit()
    other = timedelta(hours=3)
    async with factory() as session:
        for n, p_w in enumerate([60_000.0, 90_000.0, 150_000.0]):
            await _store(session, _body(f"sp-{n}", p_w=p_w), correlation_id=f"c-{n}")
        await _store(session, _body("ffr", fs_type="FFR", parameters=FFR, minimum_acceptance_pct=1))
        await _store(
            session,
            _body("discharge", targets=[("SITE", "s2")], parameters=_setpoint(-30_000.0)),
        )
        await _store(
            session,
            _body("reserve", targets=[("SITE", "s2")], fs_type="RESERVE", parameters=RESERVE),
        )
        await _store(
            session,
            _body(
                "mixed",
                p_w=30_000.0,
                targets=[("SITE", "s1"), ("SITE", "s4"), ("EVSE", "nowhere"), ("SITE", "s3")],
            ),
        )
        await _store(session, _body("off-grid", targets=[("SITE", "s3")]))
        await _store(session, _body("sp-later", p_w=20_000.0, start_in=other))
        await _store(
            session,
            _body(
                "ffr-later", fs_type="FFR", parameters=FFR, start_in=other, minimum_acceptance_pct=1
            ),
        )
        await _store(session, _body("sp-cap", p_w=10_000.0, start_in=other))
        await _store(
            session, _body("not-mine", fsc_id="fsc-2", targets=[("SITE", "s4")]), fsc="fsc-2"
        )
        await _store(
            session,
            _body("fo-b", fsc_id="fsc-2", targets=[("SITE", "s4")]),
            fo="FO-B",
            fsc="fsc-2",
        )
        await _store(session, _body("late", p_w=5_000.0), late=True)
        await session.commit()


def _without_ids(payload: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in payload.items() if k != "notification_id"}


async def _written(session: AsyncSession, after_event: int, after_note: int) -> dict[str, Any]:
    """Everything the decisions wrote, in write order, without generated ids and clock times."""
    services = await session.scalars(
        select(FlexibilityServiceRow).order_by(FlexibilityServiceRow.id)
    )
    targets = await session.execute(
        select(
            FsTargetRow.fs_pk,
            FsTargetRow.level,
            FsTargetRow.target_id,
            FsTargetRow.committed_w,
            FsTargetRow.committed_export_w,
        ).order_by(FsTargetRow.fs_pk, FsTargetRow.target_id)
    )
    transitions = await session.execute(
        select(
            FsTransitionRow.fs_pk,
            FsTransitionRow.revision,
            FsTransitionRow.from_state,
            FsTransitionRow.to_state,
            FsTransitionRow.at,
            FsTransitionRow.reason,
        ).order_by(FsTransitionRow.id)
    )
    events = await session.execute(
        select(
            EventLogRow.type,
            EventLogRow.source,
            EventLogRow.severity,
            EventLogRow.party_id,
            EventLogRow.fs_id,
            EventLogRow.object_ref,
            EventLogRow.summary,
            EventLogRow.payload_digest,
        )
        .where(EventLogRow.id > after_event)
        .order_by(EventLogRow.id)
    )
    notes = await session.scalars(
        select(OutboxRow).where(OutboxRow.id > after_note).order_by(OutboxRow.id)
    )
    baselines = await session.execute(
        select(
            FsBaselineRow.fs_pk,
            FsBaselineRow.kind,
            FsBaselineRow.party_id,
            FsBaselineRow.role,
            FsBaselineRow.periods,
            FsBaselineRow.submitted_at,
        ).order_by(FsBaselineRow.fs_pk)
    )
    return {
        "services": [
            (f.fs_id, f.state, f.committed_w, f.response, f.due_at, f.updated_at) for f in services
        ],
        "targets": [tuple(row) for row in targets.all()],
        "transitions": [tuple(row) for row in transitions.all()],
        "events": [tuple(row) for row in events.all()],
        "notifications": [
            (n.fo_party_id, n.type, n.fs_id, n.status, _without_ids(n.payload)) for n in notes
        ],
        "baselines": [tuple(row) for row in baselines.all()],
    }


async def test_a_batch_decides_as_its_fs_one_by_one(app: FastAPI) -> None:
    await _seed(app)
    sign = app.state.keys.sign
    now = utcnow()
    async with app.state.session_factory() as session:
        after_event = int(
            await session.scalar(select(EventLogRow.id).order_by(EventLogRow.id.desc())) or 0
        )
        after_note = int(
            await session.scalar(select(OutboxRow.id).order_by(OutboxRow.id.desc())) or 0
        )
    async with app.state.session_factory() as session:  # one by one, each with its own queries
        claimed = await claim_received(session, 50)
        assert len(claimed) == 14
        for fs in claimed:  # as the step did: each under a savepoint, flushed when released
            with correlation_scope(fs.correlation_id):
                async with session.begin_nested():
                    await decide(session, fs, now, sign)
        await session.flush()
        one_by_one = await _written(session, after_event, after_note)
        await session.rollback()
    async with app.state.session_factory() as session:  # the batch, from set-based reads
        assert await decide_pending(session, now, sign, limit=50) == 14
        await session.flush()
        batched = await _written(session, after_event, after_note)
        await session.commit()
    states = {fs_id: state for fs_id, state, *_ in batched["services"]}
    assert {"ACCEPTED", "PARTIALLY_ACCEPTED", "REJECTED"} <= set(states.values())
    assert "RECEIVED" not in states.values()
    codes = {
        reason["code"]
        for *_, response, _, _ in batched["services"]
        for reason in (response or {}).get("reasons", [])
    }
    assert {
        "CONFLICTING_FS",
        "TOO_MANY_ACTIVATIONS",
        "TARGET_UNKNOWN",
        "OFF_GRID",
        "CONTRACT_INVALID",
        "TOO_LATE",
        "NO_CONSENT",
    } <= codes, codes
    for part in one_by_one:
        assert batched[part] == one_by_one[part], part


_REFUSE = {
    "sqlite": [
        "CREATE TRIGGER refuse_baseline BEFORE INSERT ON fs_baselines WHEN NEW.fs_pk IN "
        "(SELECT id FROM flexibility_services WHERE fs_id = 'refused') "
        "BEGIN SELECT RAISE(ABORT, 'refused'); END"
    ],
    "postgresql": [
        "CREATE FUNCTION refuse_baseline() RETURNS trigger AS $$ BEGIN "
        "IF NEW.fs_pk IN (SELECT id FROM flexibility_services WHERE fs_id = 'refused') THEN "
        "RAISE EXCEPTION 'refused'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql",
        "CREATE TRIGGER refuse_baseline BEFORE INSERT ON fs_baselines "
        "FOR EACH ROW EXECUTE FUNCTION refuse_baseline()",
    ],
}
_ALLOW = {
    "sqlite": ["DROP TRIGGER IF EXISTS refuse_baseline"],
    "postgresql": [
        "DROP TRIGGER IF EXISTS refuse_baseline ON fs_baselines",
        "DROP FUNCTION IF EXISTS refuse_baseline()",
    ],
}


async def test_a_batch_whose_write_fails_is_decided_one_by_one(app: FastAPI) -> None:
    """The database refuses one FS's declared baseline (as a broken constraint or a full disk
    would): the batch's write fails, its FS are decided again one by one, and only that FS stays
    RECEIVED; the others are decided once, with one transition, entry and notification each."""
    factory = app.state.session_factory
    await make_fo(factory, "FO-A")
    sites = {"first": "s1", "refused": "s2", "last": "s3"}
    for site in sites.values():
        await make_site(factory, site, evses=2)
    await make_contract(factory, "FO-A", targets=[("SITE", s) for s in sites.values()])
    async with factory() as session:
        for fs_id, site in sites.items():
            await _store(session, request_body(fs_id, p_w=5_000.0, targets=[("SITE", site)]))
        await session.commit()
        dialect = session.get_bind().dialect.name
    async with factory() as session:
        for statement in _REFUSE[dialect]:
            await session.execute(text(statement))
        await session.commit()
    try:
        async with factory() as session:
            assert await decide_pending(session, utcnow(), app.state.keys.sign, limit=50) == 3
            await session.commit()
    finally:
        async with factory() as session:
            for statement in _ALLOW[dialect]:
                await session.execute(text(statement))
            await session.commit()
    async with factory() as session:
        rows = await session.execute(
            select(FlexibilityServiceRow.fs_id, FlexibilityServiceRow.state)
        )
        states: dict[str, str] = dict(rows.all())
        moved = (
            await session.execute(
                select(FlexibilityServiceRow.fs_id, func.count())
                .join(FsTransitionRow, FsTransitionRow.fs_pk == FlexibilityServiceRow.id)
                .group_by(FlexibilityServiceRow.fs_id)
            )
        ).all()
        notified = await session.scalar(
            select(func.count()).select_from(OutboxRow).where(OutboxRow.type == "FS_STATE_CHANGED")
        )
        logged = await session.scalar(
            select(func.count())
            .select_from(EventLogRow)
            .where(EventLogRow.type == "FS_STATE_CHANGED")
        )
    assert states == {"first": "ACCEPTED", "refused": "RECEIVED", "last": "ACCEPTED"}
    assert sorted(tuple(row) for row in moved) == [("first", 1), ("last", 1)]
    assert notified == 2
    assert logged == 2
