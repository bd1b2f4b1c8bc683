"""UC 3.4 Proof of flexibility service, end to end through the real client and server.

An FO requests a SETPOINT FS on the depot; the server's executor runs it on the simulated
stations, whose meters are the only source of the record; the window ends and, once late
readings have had their delay, the executor makes the detailed service record (DSR) from the
stored readings; the server signs a proof of work (PoW) over it, the meter evidence and the
FS's event-log entries under a signed tree head. The FO verifies the PoW offline with the CSO's
published keys; a copy tampered with in transit is rejected, and the FO's dispute is recorded
(DISPUTED), logged and notified; once the genuine proof is verified the FO accepts it
(PROVEN). An auditor then checks that the log only ever grew.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI

from fcsbe.client import FcsbeClient, RetryPolicy
from fcsbe.client.proofs import verify_heads_consistent, verify_proof_of_work
from fcsbe.model import (
    DataQualityCode,
    FlexibilityServiceRequest,
    FsState,
    FsStateChangedNotification,
    ProofValidationStatus,
    digest,
)
from fcsbe.server.services.event_log.audit import verify_log
from fcsbe.server.services.event_log.log import chain_pending
from fcsbe.server.services.event_log.tree import tree_step
from fcsbe.server.services.flexibility_services.execution import RECORD_DELAY_S
from fcsbe.server.services.records.records import issue_proofs
from fcsbe.server.settings import Settings
from tests.scenarios.harness import Harness, harness, without_arrivals
from tests.support.fs_fixtures import request_body
from tests.support.public_effects import feed as read_feed

PERIODS = [20_000.0, 20_000.0, 15_000.0, 15_000.0]
PERIOD_S = 180
LOOKBACK_S = 900  # the contract's METER_BEFORE_ACTIVATION baseline looks this far back


class TamperingProxy(httpx.AsyncBaseTransport):
    """A man in the middle: zeroes a measured value in the record and re-digests the proof so
    that the two match again. Only the CSO's signature can give it away."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.forged_record: dict[str, object] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        path = request.url.path
        if request.method != "GET" or not path.endswith(("/record", "/proof")):
            return response
        body = json.loads(await response.aread())
        if path.endswith("/record"):
            body["intervals"][0]["measured_w"] = 0.0
            self.forged_record = body
        else:
            body["dsr_digest"] = digest(self.forged_record)
        return httpx.Response(response.status_code, headers=response.headers, json=body)


async def _no_sleep(_seconds: float) -> None:
    return None


async def _server_loops(app: FastAPI) -> None:
    """What the event-log and proof loops do: chain, grow the tree, issue proofs."""
    async with app.state.session_factory() as session:
        await chain_pending(session)
        await tree_step(session, app.state.keys, 0.0)
        await issue_proofs(session, app.state.keys)
        await session.commit()


async def test_uc_3_4_proof_of_flexibility_service(settings: Settings) -> None:
    # Sessions appear in a record only under a SESSION-level contract sharing METER_VALUES.
    async with harness(
        settings, level="SESSION", categories=["METER_VALUES"], fleet=without_arrivals
    ) as h:
        await _proof_of_flexibility_service(h)


async def _proof_of_flexibility_service(h: Harness) -> None:
    app, client = h.app, h.fo
    factory = app.state.session_factory
    depot = h.evses_of("SITE-DEPOT")
    jwks = (await client.discovery.version_details()).jwks  # kept from enrolment in practice
    first_head = await client.event_log.head()

    # The FO asks for a setpoint schedule on the depot, starting after a baseline period.
    body = request_body(
        "fs-uc34",
        targets=[("SITE", "SITE-DEPOT")],
        now=h.now,
        start_in=timedelta(seconds=LOOKBACK_S + 60),
        duration=timedelta(seconds=PERIOD_S * len(PERIODS)),
        parameters={
            "fs_type": "SETPOINT",
            "resolution_s": PERIOD_S,
            "periods": [{"start_offset_s": PERIOD_S * k, "p_w": p} for k, p in enumerate(PERIODS)],
        },
    )
    await client.flexibility_services.create(FlexibilityServiceRequest.model_validate(body))
    await h.steps()
    assert (await client.flexibility_services.get("fs-uc34")).state is FsState.SCHEDULED

    # Unmanaged charging before the window (the baseline), then the executor runs the schedule.
    start = datetime.fromisoformat(body["window"]["start"])
    end = datetime.fromisoformat(body["window"]["end"])
    await h.run((start - h.now).total_seconds() - 5, tick_s=15)
    unmanaged_w = await h.power_w(depot)
    await h.run((end - h.now).total_seconds(), tick_s=5)
    assert (await client.flexibility_services.get("fs-uc34")).state is FsState.COMPLETED
    # Late readings are waited for; then the executor makes the record and the PoW follows.
    await h.run(RECORD_DELAY_S + 15, tick_s=15)
    assert (await client.flexibility_services.get("fs-uc34")).state is FsState.RECORDED
    await _server_loops(app)

    # The DSR: requested vs baseline vs measured vs delivered, from the meters only.
    record = await client.records.get("fs-uc34")
    assert [i.requested_w for i in record.intervals] == PERIODS
    assert all(i.baseline_w == pytest.approx(unmanaged_w, rel=0.1) for i in record.intervals)
    # Measured from the meters: the stations follow within seconds of each new setpoint.
    assert [i.measured_w for i in record.intervals] == pytest.approx(PERIODS, rel=0.05)
    assert all(i.within_tolerance for i in record.intervals)
    assert record.totals.accuracy_pct == 100
    assert record.totals.availability_pct == 100
    energy_wh = sum(p - (record.intervals[0].baseline_w or 0) for p in PERIODS) * PERIOD_S / 3600
    assert record.totals.delivered_energy_wh == pytest.approx(energy_wh, rel=0.05)
    assert 0 < (record.totals.measured_response_time_s or 0) <= 60
    assert {m.meter_id for m in record.meters} == set(depot)
    assert {s.evse_id for s in record.sessions} <= set(depot)
    assert record.sessions
    assert record.settlement is not None
    assert not [f for f in record.data_quality if f.code is not DataQualityCode.GAP]

    # The PoW verifies offline with the CSO's keys.
    verdict, _, proof = await client.records.verify("fs-uc34", jwks)
    assert verdict.valid, verdict.problems
    assert proof.tree_head.tree_size >= proof.event_log_range.to_seq

    # A copy tampered with in transit is rejected, and the FO disputes it.
    proxy = TamperingProxy(httpx.ASGITransport(app=app, raise_app_exceptions=False))
    async with FcsbeClient(
        "http://fcsbe.test",
        token=client.token,
        transport=proxy,
        retry=RetryPolicy(),
        sleep=_no_sleep,
    ) as intercepted:
        tampered, forged_record, forged_proof = await intercepted.records.verify("fs-uc34", jwks)
    assert not tampered.valid
    assert [p.split(":")[0] for p in tampered.problems] == ["proof signature"]
    assert not verify_proof_of_work(forged_proof, record, jwks).valid
    assert forged_record.intervals[0].measured_w == 0
    disputed = await client.records.validate("fs-uc34", "DISPUTE", tampered.reasons)
    assert disputed.validation.status is ProofValidationStatus.DISPUTED
    assert (await client.flexibility_services.get("fs-uc34")).state is FsState.DISPUTED

    # The genuine proof checks out: the FO withdraws its dispute by accepting it.
    proven = await client.records.validate("fs-uc34", "ACCEPT")
    assert proven.validation.status is ProofValidationStatus.ACCEPTED
    fs = await client.flexibility_services.get("fs-uc34")
    assert fs.state is FsState.PROVEN
    assert [t.to_state for t in fs.transitions][-5:] == [
        FsState.ACTIVE,
        FsState.COMPLETED,
        FsState.RECORDED,
        FsState.DISPUTED,
        FsState.PROVEN,
    ]

    # Everything was logged and notified; the log only grew and is intact.
    await _server_loops(app)
    entries = await client.event_log.list(fs_id="fs-uc34").to_list()
    assert [e.type for e in entries].count("PROOF_VALIDATED") == 2
    assert all(e.expected_hash() == e.hash for e in entries)
    head = await client.event_log.head()
    proof_of_growth = await client.event_log.consistency_proof(first_head.tree_size)
    verify_heads_consistent(first_head, head, proof_of_growth, jwks)
    async with factory() as session:
        # A full audit recomputes every entry's hash from the stored rows, beyond the API.
        audit = await verify_log(session, app.state.keys.public_jwks())
    assert audit.intact, audit
    notified = [n for n in await read_feed(app, client) if n.fs_id == "fs-uc34"]
    states = [n.data.to_state for n in notified if isinstance(n, FsStateChangedNotification)]
    assert states[-3:] == [FsState.RECORDED, FsState.DISPUTED, FsState.PROVEN]
    # The dispute was opened, then withdrawn by the acceptance: both steps notified.
    steps = [n.type.value for n in notified if n.type.value.startswith("DISPUTE_")]
    assert steps == ["DISPUTE_OPENED", "DISPUTE_ACCEPTED"]
