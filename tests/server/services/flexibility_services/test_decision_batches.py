"""The decision step decides FS in batches: one transaction for many, every lock taken up front
(PostgreSQL), and a decision that fails rolled back alone, its FS left RECEIVED."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from sqlalchemy import select, update

from fcsbe.server.storage.flexibility_services import FlexibilityServiceRow
from fcsbe.server.workers import decision_step
from tests.support.factories import make_fo
from tests.support.fs_fixtures import make_contract, make_site, request_body


async def test_one_failing_decision_leaves_the_rest_of_its_batch_decided(
    app: FastAPI, http: httpx.AsyncClient
) -> None:
    factory = app.state.session_factory
    token = await make_fo(factory, "FO-A")
    await make_site(factory, "s1", evses=2)
    await make_contract(factory, "FO-A")
    for n in range(4):
        answer = await http.post(
            "/v1/flexibility-services",
            json=request_body(f"fs-{n}", p_w=5_000.0),
            headers={"authorization": f"Bearer {token}", "idempotency-key": f"k-{n}"},
        )
        assert answer.status_code == 202
    async with factory() as session:  # a request document the decision cannot read
        await session.execute(
            update(FlexibilityServiceRow)
            .where(FlexibilityServiceRow.fs_id == "fs-2")
            .values(request={"unreadable": True})
        )
        await session.commit()

    assert await decision_step(factory, app.state.keys)() == 4  # one batch

    async with factory() as session:
        states = dict(
            (
                await session.execute(
                    select(FlexibilityServiceRow.fs_id, FlexibilityServiceRow.state)
                )
            ).all()
        )
    assert states.pop("fs-2") == "RECEIVED"
    assert set(states.values()) <= {"ACCEPTED", "PARTIALLY_ACCEPTED", "REJECTED"}
    assert len(states) == 3
