"""Heartbeats and the offline timer of every enrolment (COMM_LOST / COMM_RESTORED)."""

from __future__ import annotations

from datetime import timedelta

from fastapi import FastAPI
from sqlalchemy import select

from fcsbe.model import FallbackPolicy
from fcsbe.server.services.enrolments.heartbeat import detect_offline
from fcsbe.server.storage.base import utcnow
from fcsbe.server.storage.parties import EnrolmentRow
from fcsbe.server.workers import offline_detection_step
from tests.support.flows import asgi_client, enrol_fo, init_server
from tests.support.public_effects import logged_types, outbox


async def _notifications(app: FastAPI, operator: str) -> list[tuple[str, str]]:
    return [
        (n.type, n.fo_party_id) for n in await outbox(app, operator) if n.type.startswith("COMM_")
    ]


async def test_heartbeat_and_offline_detection(app: FastAPI) -> None:
    operator = await init_server(app)
    fo = await enrol_fo(app, operator, "NL-FLX")
    quiet = await enrol_fo(app, operator, "NL-QUIET")
    answer = await fo.client.heartbeat.send()
    assert answer.heartbeat_interval_s == 60
    assert answer.next_heartbeat_at - answer.server_time == timedelta(seconds=60)
    assert abs((answer.server_time - utcnow()).total_seconds()) < 60
    factory = app.state.session_factory
    start = utcnow()

    async with factory() as session:
        assert await detect_offline(session, start + timedelta(seconds=200)) == []
        newly = await detect_offline(session, start + timedelta(seconds=400))
        await session.commit()
    assert {(o.fo_party_id, o.fallback_policy) for o in newly} == {
        ("NL-FLX", FallbackPolicy.REVERT_UNMANAGED),
        ("NL-QUIET", FallbackPolicy.REVERT_UNMANAGED),
    }
    for offline in newly:
        assert offline.offline_since == offline.last_seen_at + timedelta(seconds=300)
    async with factory() as session:  # reported once, not at every check
        assert await detect_offline(session, start + timedelta(seconds=900)) == []
    assert sorted(await _notifications(app, operator)) == [
        ("COMM_LOST", "NL-FLX"),
        ("COMM_LOST", "NL-QUIET"),
    ]
    me = await fo.client.enrolments.get()
    assert me.offline_since is not None

    await fo.client.heartbeat.send()
    assert (await fo.client.enrolments.get()).offline_since is None
    assert (await _notifications(app, operator))[-1] == ("COMM_RESTORED", "NL-FLX")
    types = await logged_types(app, operator)
    async with asgi_client(app, token=operator) as admin:
        enrolments = await admin.admin.list_enrolments().to_list()
    assert types.count("FO_LINK_LOST") == 2
    assert types.count("FO_LINK_RESTORED") == 1
    assert {e.fo_party_id: e.offline_since is None for e in enrolments} == {
        "NL-FLX": True,
        "NL-QUIET": False,
    }
    await fo.client.aclose()
    await quiet.client.aclose()


async def test_worker_step_runs_the_check(app: FastAPI) -> None:
    operator = await init_server(app)
    fo = await enrol_fo(app, operator, "NL-FLX")
    async with app.state.session_factory() as session:  # backdates the enrolment: no API does
        row = (await session.execute(select(EnrolmentRow))).scalar_one()
        row.created_at = utcnow() - timedelta(hours=1)
        await session.commit()
    assert await offline_detection_step(app.state.session_factory)() == 1
    assert await offline_detection_step(app.state.session_factory)() == 0
    await fo.client.aclose()
