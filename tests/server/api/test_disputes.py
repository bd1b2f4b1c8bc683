"""Dispute deadlines: the CSO's silence escalates, the FO's silence accepts the answer."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi import FastAPI

from fcsbe.client import FcsbeClient
from fcsbe.model import DisputeAnswer, DisputeStatus, FsState
from fcsbe.server.errors import Conflict
from fcsbe.server.services.records.disputes import answer_dispute, expire_disputes
from fcsbe.server.storage.base import utcnow
from tests.server.api.test_records import _ended_fs, _inputs, _record, _workers, fo

__all__ = ["fo"]

REJECT = DisputeAnswer.model_validate(
    {"answer": "REJECT", "reason_code": "METER_DATA", "reasons": ["the meters agree"]}
)


async def _disputed(app: FastAPI, fo: FcsbeClient, fs_id: str) -> str:
    pk, start, end = await _ended_fs(app, fo, fs_id)
    await _record(app, pk, _inputs(start, end))
    await _workers(app)
    await fo.records.validate(fs_id, "DISPUTE", ["not what we measured"], reason_code="METER_DATA")
    return (await fo.records.dispute(fs_id)).dispute_id


async def test_deadlines_escalate_a_silent_cso_and_accept_for_a_silent_fo(
    app: FastAPI, fo: FcsbeClient
) -> None:
    factory, keys = app.state.session_factory, app.state.keys
    unanswered = await _disputed(app, fo, "fs-silent-cso")
    answered = await _disputed(app, fo, "fs-silent-fo")
    later = utcnow() + timedelta(days=10, hours=1)
    async with factory() as session:
        with pytest.raises(Conflict) as late:
            await answer_dispute(session, keys, "CSO", unanswered, REJECT, now=later)
        assert late.value.problem_slug == "dispute-deadline-passed"
        # answered a day after it opened: the FO has until day 11
        await answer_dispute(session, keys, "CSO", answered, REJECT, now=later - timedelta(days=9))
        await session.commit()
    async with factory() as session:
        assert await expire_disputes(session, keys, now=later) == 1  # the answer is not due yet
        await session.commit()
    escalated = await fo.records.dispute("fs-silent-cso")
    assert (escalated.status, escalated.steps[-1].role) == (DisputeStatus.ESCALATED, "DEADLINE")
    assert (await fo.flexibility_services.get("fs-silent-cso")).state is FsState.DISPUTED
    async with factory() as session:
        assert await expire_disputes(session, keys, now=later + timedelta(days=1)) == 1
        await session.commit()
    accepted = await fo.records.dispute("fs-silent-fo")
    assert [s.step for s in accepted.steps] == ["OPENED", "REJECTED", "ACCEPTED"]
    assert accepted.steps[-1].role == "DEADLINE"
    assert (await fo.flexibility_services.get("fs-silent-fo")).state is FsState.PROVEN
