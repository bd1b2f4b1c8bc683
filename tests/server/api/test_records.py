"""Records (UC 3.4) through the real client: DSR, PoW issuance, offline verification, validation."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from fastapi import FastAPI
from pydantic import ValidationError
from sqlalchemy import select

from fcsbe.client import ConflictError, FcsbeClient, NotFoundError
from fcsbe.model import FlexibilityServiceRequest, FsState, ProofValidationStatus
from fcsbe.server.errors import Conflict
from fcsbe.server.services.event_log.log import chain_pending
from fcsbe.server.services.event_log.tree import tree_step
from fcsbe.server.services.flexibility_services.decision_batch import decide_pending
from fcsbe.server.services.records.dsr.inputs import RecordInputs
from fcsbe.server.services.records.records import issue_proofs, record_fs
from fcsbe.server.storage.base import utcnow
from fcsbe.server.storage.flexibility_services import FlexibilityServiceRow
from fcsbe.server.storage.notifications import OutboxRow
from tests.support.dsr_fixtures import finish_fs, meter, readings
from tests.support.factories import make_fo
from tests.support.fs_fixtures import evse_id, make_contract, make_site, request_body


@pytest.fixture
async def fo(app: FastAPI, client: FcsbeClient) -> FcsbeClient:
    factory = app.state.session_factory
    client.token = await make_fo(factory, "FO-A")
    await make_site(factory, "s1", evses=2)
    await make_contract(factory, "FO-A")
    return client


async def _workers(app: FastAPI) -> int:
    """One pass of the event-log and proof loops, as the server runs them."""
    async with app.state.session_factory() as session:
        await chain_pending(session)
        await tree_step(session, app.state.keys, 0.0)
        issued = await issue_proofs(session, app.state.keys)
        await session.commit()
    return issued


async def _ended_fs(app: FastAPI, fo: FcsbeClient, fs_id: str) -> tuple[int, datetime, datetime]:
    body = request_body(fs_id, p_w=40_000.0)
    await fo.flexibility_services.create(FlexibilityServiceRequest.model_validate(body))
    while True:
        async with app.state.session_factory() as session:
            decided = await decide_pending(session, utcnow(), app.state.keys.sign)
            await session.commit()
        if not decided:
            break
    start = datetime.fromisoformat(body["window"]["start"])
    end = datetime.fromisoformat(body["window"]["end"])
    pk = await finish_fs(app.state.session_factory, "FO-A", fs_id, started=start, ended=end)
    return pk, start, end


def _inputs(start: datetime, end: datetime) -> RecordInputs:
    evses = [evse_id("s1", 1), evse_id("s1", 2)]

    def power(t: datetime) -> float:
        return 30_000.0 if t < start else 20_000.0

    samples = [
        r for evse in evses for r in readings(evse, start - timedelta(minutes=15), end, 60, power)
    ]
    return RecordInputs(meters=[meter(e) for e in evses], readings=samples)


async def _record(app: FastAPI, pk: int, inputs: RecordInputs) -> None:
    async with app.state.session_factory() as session:
        await record_fs(session, pk, inputs)
        await session.commit()


async def test_record_proof_verify_and_accept(app: FastAPI, fo: FcsbeClient) -> None:
    pk, start, end = await _ended_fs(app, fo, "fs-rec-1")
    with pytest.raises(NotFoundError) as early:
        await fo.records.get("fs-rec-1")
    assert early.value.problem is not None
    assert early.value.problem.type.endswith("record-not-available")
    await _record(app, pk, _inputs(start, end))
    await _record(app, pk, _inputs(start, end))  # idempotent: the same record, once
    record = await fo.records.get("fs-rec-1")
    (interval,) = record.intervals
    assert (interval.baseline_w, interval.measured_w, interval.requested_w) == (
        60000,
        40000,
        40000,
    )
    assert interval.within_tolerance is True
    assert (await fo.flexibility_services.get("fs-rec-1")).state is FsState.RECORDED
    with pytest.raises(ConflictError) as pending:
        await fo.records.proof("fs-rec-1")
    assert pending.value.problem is not None
    assert pending.value.problem.type.endswith("proof-pending")

    assert await _workers(app) == 1
    assert await _workers(app) == 0
    verdict, _, proof = await fo.records.verify("fs-rec-1")
    assert verdict.valid, verdict.problems
    assert verdict.events_checked == len(proof.events) >= 5
    assert proof.validation.status is ProofValidationStatus.PENDING
    assert {e.meter_id for e in proof.meter_evidence} == {m.meter_id for m in record.meters}

    accepted = await fo.records.validate("fs-rec-1", "ACCEPT")
    assert accepted.validation.status is ProofValidationStatus.ACCEPTED
    assert accepted.validation.by == "FO-A"
    assert (await fo.flexibility_services.get("fs-rec-1")).state is FsState.PROVEN
    with pytest.raises(ConflictError):
        await fo.records.validate("fs-rec-1", "DISPUTE", ["too late"])
    # The validation is logged, chained and provable like everything else.
    await _workers(app)
    types = [e.type async for e in fo.event_log.list(fs_id="fs-rec-1")]
    assert types[-2:] == ["PROOF_VALIDATED", "FS_STATE_CHANGED"]
    async with app.state.session_factory() as session:
        notified = (
            await session.execute(select(OutboxRow.payload).where(OutboxRow.fs_id == "fs-rec-1"))
        ).scalars()
        states = [p["data"]["to_state"] for p in notified]
    assert states[-2:] == ["RECORDED", "PROVEN"]


async def test_dispute_then_withdraw(app: FastAPI, fo: FcsbeClient) -> None:
    pk, start, end = await _ended_fs(app, fo, "fs-rec-2")
    with pytest.raises(NotFoundError):
        await fo.records.validate("fs-rec-2", "ACCEPT")
    await _record(app, pk, _inputs(start, end))
    with pytest.raises(ConflictError) as not_issued:
        await fo.records.validate("fs-rec-2", "ACCEPT")
    assert not_issued.value.problem is not None
    assert not_issued.value.problem.type.endswith("proof-not-issued")
    await _workers(app)
    with pytest.raises(ValidationError):  # the client checks before sending
        await fo.records.validate("fs-rec-2", "DISPUTE", [])
    raw = await fo._transport.http.post(
        "/v1/flexibility-services/fs-rec-2/proof/validation",
        json={"decision": "DISPUTE", "reasons": []},
        headers={"authorization": f"Bearer {fo.token}", "idempotency-key": "k-1"},
    )
    assert raw.status_code == 422
    assert raw.json()["errors"][0]["pointer"] == "/body"
    unknown = await fo._transport.http.post(
        "/v1/flexibility-services/fs-rec-2/proof/validation",
        json={"decision": "MAYBE"},
        headers={"authorization": f"Bearer {fo.token}", "idempotency-key": "k-2"},
    )
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["pointer"] == "/body/decision"
    disputed = await fo.records.validate("fs-rec-2", "DISPUTE", ["our meter shows 5 % less"])
    assert disputed.validation.status is ProofValidationStatus.DISPUTED
    assert disputed.validation.reasons == ["our meter shows 5 % less"]
    assert (await fo.flexibility_services.get("fs-rec-2")).state is FsState.DISPUTED
    with pytest.raises(ConflictError):
        await fo.records.validate("fs-rec-2", "DISPUTE", ["again"])
    withdrawn = await fo.records.validate("fs-rec-2", "ACCEPT")
    assert withdrawn.validation.status is ProofValidationStatus.ACCEPTED
    assert (await fo.flexibility_services.get("fs-rec-2")).state is FsState.PROVEN


async def test_only_ended_fs_are_recorded_and_only_by_their_fo(
    app: FastAPI, fo: FcsbeClient
) -> None:
    body = request_body("fs-rec-3", start_in=timedelta(hours=5))
    await fo.flexibility_services.create(FlexibilityServiceRequest.model_validate(body))
    async with app.state.session_factory() as session:
        fs_pk = await session.scalar(
            select(FlexibilityServiceRow.id).where(FlexibilityServiceRow.fs_id == "fs-rec-3")
        )
        assert fs_pk is not None
        with pytest.raises(Conflict) as running:
            await record_fs(session, fs_pk, RecordInputs(meters=[], readings=[]))
        assert running.value.problem_slug == "fs-not-ended"
    pk, start, end = await _ended_fs(app, fo, "fs-rec-4")
    await _record(app, pk, _inputs(start, end))
    await _workers(app)
    fo.token = await make_fo(app.state.session_factory, "FO-B")
    for call in (fo.records.get, fo.records.proof):
        with pytest.raises(NotFoundError):
            await call("fs-rec-4")
    with pytest.raises(NotFoundError):
        await fo.records.validate("fs-rec-4", "ACCEPT")


async def test_tampered_record_or_proof_fails_verification(app: FastAPI, fo: FcsbeClient) -> None:
    from fcsbe.client.proofs import verify_proof_of_work

    pk, start, end = await _ended_fs(app, fo, "fs-rec-5")
    await _record(app, pk, _inputs(start, end))
    await _workers(app)
    verdict, record, proof = await fo.records.verify("fs-rec-5")
    assert verdict.valid
    jwks = (await fo.discovery.version_details()).jwks
    entries = await fo.event_log.list(fs_id="fs-rec-5").to_list()
    changed = record.intervals[0].model_copy(update={"measured_w": 45000.0})
    bad_record = record.model_copy(update={"intervals": [changed]})
    assert "DSR digest" in " ".join(verify_proof_of_work(proof, bad_record, jwks).problems)
    bad_proof = proof.model_copy(update={"dsr_digest": "0" * 64})
    problems = verify_proof_of_work(bad_proof, record, jwks).problems
    assert any("proof signature" in p for p in problems)
    dropped = proof.model_copy(update={"events": proof.events[1:]})
    problems = verify_proof_of_work(dropped, record, jwks, entries).problems
    assert any("missing from the proof" in p for p in problems)
    forged = entries[0].model_copy(update={"summary": "rewritten"})
    problems = verify_proof_of_work(proof, record, jwks, [forged, *entries[1:]]).problems
    assert any("do not match its hash" in p for p in problems)
    stranger = {"keys": [{**jwks["keys"][0], "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}
    problems = verify_proof_of_work(proof, record, stranger).problems
    assert any("tree head signature" in p for p in problems)
