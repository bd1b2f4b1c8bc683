"""A detailed service record lists EV sessions only under a SESSION-level contract that shares
METER_VALUES: the record is signed, so it is minimised when made."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from fastapi import FastAPI
from sqlalchemy import select

from fcsbe.client import FcsbeClient
from fcsbe.model import FlexibilityServiceRequest
from fcsbe.server.services.flexibility_services.decision_batch import decide_pending
from fcsbe.server.services.records.dsr.inputs import RecordInputs, SessionSpan
from fcsbe.server.services.records.records import record_fs
from fcsbe.server.storage.base import utcnow
from fcsbe.server.storage.contracts import ContractRow
from tests.support.dsr_fixtures import finish_fs, meter, readings
from tests.support.factories import make_fo
from tests.support.fs_fixtures import evse_id, make_contract, make_site, request_body


@pytest.mark.parametrize(
    ("level", "categories", "listed"),
    [
        ("SESSION", ["METER_VALUES"], 1),
        ("SESSION", ["SESSION_TIMES"], 0),
        ("EVSE", ["METER_VALUES"], 0),
    ],
)
async def test_sessions_are_listed_only_where_shared(
    app: FastAPI, client: FcsbeClient, level: str, categories: list[str], listed: int
) -> None:
    factory = app.state.session_factory
    client.token = await make_fo(factory, "FO-A")
    await make_site(factory, "s1", evses=1)
    await make_contract(factory, "FO-A")
    async with factory() as session:
        row = (await session.execute(select(ContractRow))).scalar_one()
        row.data_sharing_level = level
        row.terms = {
            **row.terms,
            "data_sharing_level": level,
            "personal_data": {"categories": categories, "legal_basis": "CONSENT"},
        }
        await session.commit()
    body = request_body("fs-min", p_w=40_000.0)
    await client.flexibility_services.create(FlexibilityServiceRequest.model_validate(body))
    async with factory() as session:
        await decide_pending(session, utcnow(), app.state.keys.sign)
        await session.commit()
    start = datetime.fromisoformat(body["window"]["start"])
    end = datetime.fromisoformat(body["window"]["end"])
    pk = await finish_fs(factory, "FO-A", "fs-min", started=start, ended=end)
    evse = evse_id("s1", 1)
    inputs = RecordInputs(
        meters=[meter(evse)],
        readings=readings(evse, start - timedelta(minutes=15), end, 60, lambda _t: 20_000.0),
        sessions=[SessionSpan("ps_aaaaaaaaaaaa", evse, start - timedelta(hours=1))],
    )
    async with factory() as session:
        record = await record_fs(session, pk, inputs)
        await session.commit()
    assert len(record.sessions) == listed
    assert len((await client.records.get("fs-min")).sessions) == listed
