"""FS request, decision and lifecycle through the real client against the real server."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from fcsbe.client import (
    ConflictError,
    FcsbeClient,
    NotFoundError,
    ProofVerificationError,
    RetryPolicy,
    verify_decision,
)
from fcsbe.model import (
    FlexibilityServiceRequest,
    FsResult,
    FsState,
    ReasonCode,
    Target,
    TargetLevel,
)
from fcsbe.server.services.flexibility_services.decision_batch import decide_pending
from fcsbe.server.services.flexibility_services.lifecycle import move
from fcsbe.server.storage.base import utcnow
from fcsbe.server.storage.event_log import EventLogRow
from fcsbe.server.storage.fast.keys import try_lock_key
from fcsbe.server.storage.flexibility_services import FlexibilityServiceRow, FsTargetRow
from fcsbe.server.storage.notifications import OutboxRow
from fcsbe.server.workers import decision_step
from tests.support.factories import make_fo
from tests.support.fs_fixtures import make_contract, make_site, plug_ev, request_body


def _fo_client(app: FastAPI, token: str) -> FcsbeClient:
    async def no_sleep(_s: float) -> None:
        return None

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return FcsbeClient(
        "http://fcsbe.test", token=token, transport=transport, retry=RetryPolicy(), sleep=no_sleep
    )


async def _decide_all(app: FastAPI) -> int:
    decided = 0
    while True:
        async with app.state.session_factory() as session:
            n = await decide_pending(session, utcnow(), app.state.keys.sign)
            await session.commit()
        if n == 0:
            return decided
        decided += n


async def _count(app: FastAPI, table: type, **where: object) -> int:
    async with app.state.session_factory() as session:
        statement = select(func.count()).select_from(table)
        for key, value in where.items():
            statement = statement.where(getattr(table, key) == value)
        return int(await session.scalar(statement) or 0)


@pytest.fixture
async def fo(app: FastAPI):  # type: ignore[no-untyped-def]
    token = await make_fo(app.state.session_factory, "FO-A")
    await make_site(app.state.session_factory, "s1", evses=2)
    await make_contract(app.state.session_factory, "FO-A")
    async with _fo_client(app, token) as client:
        yield client


def _request(fs_id: str, **kw: object) -> FlexibilityServiceRequest:
    return FlexibilityServiceRequest.model_validate(request_body(fs_id, **kw))  # type: ignore[arg-type]


def _reserve(fs_id: str, down_w: float, **kw: object) -> FlexibilityServiceRequest:
    """A RESERVE request: reserves stack on an EVSE up to its capacity."""
    parameters = {
        "fs_type": "RESERVE",
        "up_w": 0.0,
        "down_w": down_w,
        "full_activation_time_s": 300,
        "min_activation_duration_s": 900,
    }
    return _request(fs_id, fs_type="RESERVE", parameters=parameters, **kw)


async def test_request_is_received_then_accepted(app: FastAPI, fo: FcsbeClient) -> None:
    receipt = await fo.flexibility_services.create(_request("fs-1", p_w=40_000))
    assert receipt.state is FsState.RECEIVED
    assert (await fo.flexibility_services.get("fs-1")).state is FsState.RECEIVED
    assert await _decide_all(app) == 1
    fs = await fo.flexibility_services.get("fs-1")
    assert fs.state is FsState.ACCEPTED
    assert fs.response is not None
    assert fs.response.result is FsResult.ACCEPTED
    assert fs.response.committed_w == pytest.approx(40_000)
    assert [t.to_state for t in fs.transitions] == [FsState.RECEIVED, FsState.ACCEPTED]
    # Committed import is split over both EVSEs, in proportion to free capacity.
    async with app.state.session_factory() as session:
        shares = sorted((await session.execute(select(FsTargetRow.committed_w))).scalars())
    assert shares == [pytest.approx(20_000), pytest.approx(20_000)]
    assert await _count(app, OutboxRow, type="FS_STATE_CHANGED") == 1
    assert await _count(app, EventLogRow, fs_id="fs-1") == 2


async def test_invalid_request_changes_nothing(
    app: FastAPI, fo: FcsbeClient, http: httpx.AsyncClient
) -> None:
    body = request_body("fs-bad")
    body["window"]["end"] = body["window"]["start"]
    headers = {"authorization": f"Bearer {fo.token}", "idempotency-key": "k"}
    response = await http.post("/v1/flexibility-services", json=body, headers=headers)
    assert response.status_code == 422
    assert any(e["pointer"].startswith("/body/window") for e in response.json()["errors"])
    mismatched = request_body("fs-bad2")
    mismatched["fs_type"] = "RESERVE"
    response = await http.post(
        "/v1/flexibility-services", json=mismatched, headers={**headers, "idempotency-key": "k2"}
    )
    assert response.status_code == 422
    assert await _count(app, FlexibilityServiceRow) == 0


async def test_accept_keeps_idempotency_semantics(
    app: FastAPI, fo: FcsbeClient, http: httpx.AsyncClient
) -> None:
    """The accept writes its key row in the FS statement: replay, reuse and conflicts as for
    every other keyed route, and a refused insert leaves no key behind."""
    auth = {"authorization": f"Bearer {fo.token}"}
    url = "/v1/flexibility-services"
    body = request_body("fs-k")
    missing = await http.post(url, json=body, headers=auth)
    assert missing.status_code == 400
    first = await http.post(url, json=body, headers={**auth, "idempotency-key": "k1"})
    assert first.status_code == 202
    again = await http.post(url, json=body, headers={**auth, "idempotency-key": "k1"})
    assert (again.status_code, again.content) == (202, first.content)
    assert again.headers["idempotent-replayed"] == "true"
    assert again.headers["location"] == first.headers["location"] == f"{url}/fs-k"
    other = await http.post(
        url, json=request_body("fs-k2"), headers={**auth, "idempotency-key": "k1"}
    )
    assert other.status_code == 422
    duplicate = await http.post(url, json=body, headers={**auth, "idempotency-key": "k2"})
    assert duplicate.status_code == 409
    # k2 was not stored with the refused insert: it is free for another request
    fresh = await http.post(
        url, json=request_body("fs-k3"), headers={**auth, "idempotency-key": "k2"}
    )
    assert fresh.status_code == 202
    assert await _count(app, FlexibilityServiceRow) == 2
    assert await _count(app, EventLogRow, type="FS_RECEIVED") == 2


async def test_accept_refuses_a_key_held_elsewhere(
    app: FastAPI, fo: FcsbeClient, http: httpx.AsyncClient, backend: str
) -> None:
    """The accept tries the key's lock with the credential look-up (PostgreSQL): the lock it
    tries must be the one every other request with the key takes."""
    if backend != "postgresql":
        pytest.skip("SQLite serialises writers; there is no lock to hold")
    headers = {"authorization": f"Bearer {fo.token}", "idempotency-key": "held"}
    async with app.state.session_factory() as holder:
        assert await try_lock_key(holder, "FO-A", "held")
        refused = await http.post(
            "/v1/flexibility-services", json=request_body("fs-h"), headers=headers
        )
        assert (refused.status_code, refused.json()["type"].rsplit("/", 1)[-1]) == (
            409,
            "idempotency-key-in-use",
        )
        await holder.rollback()
    accepted = await http.post(
        "/v1/flexibility-services", json=request_body("fs-h"), headers=headers
    )
    assert accepted.status_code == 202


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"fsc_id": "nope"}, ReasonCode.CONTRACT_INVALID),
        ({"targets": [("EVSE", "NL*XXX*E9*1")]}, ReasonCode.TARGET_UNKNOWN),
        ({"p_w": -10_000}, ReasonCode.INSUFFICIENT_AVAILABILITY),
    ],
)
async def test_refusals_are_rejected_decisions(
    app: FastAPI, fo: FcsbeClient, changes: dict[str, object], code: ReasonCode
) -> None:
    # No EV plugged in: export (negative setpoint) has no capacity.
    await fo.flexibility_services.create(_request("fs-r", **changes))
    await _decide_all(app)
    fs = await fo.flexibility_services.get("fs-r")
    assert fs.state is FsState.REJECTED
    assert fs.response is not None
    assert code in {r.code for r in fs.response.reasons}


async def test_off_grid_and_out_of_scope(app: FastAPI, fo: FcsbeClient) -> None:
    await make_site(app.state.session_factory, "s2", grid_state="OFF_GRID")
    await make_site(app.state.session_factory, "s3")
    await make_site(app.state.session_factory, "s4")
    await make_contract(app.state.session_factory, "FO-A", "fsc-2", targets=[("SITE", "s2")])
    await make_contract(
        app.state.session_factory, "FO-A", "fsc-3", targets=[("SITE", "s3")], fs_types=["FFR"]
    )
    await fo.flexibility_services.create(_request("off", fsc_id="fsc-2", targets=[("SITE", "s2")]))
    await fo.flexibility_services.create(_request("out", targets=[("SITE", "s3")]))
    await fo.flexibility_services.create(_request("hidden", targets=[("SITE", "s4")]))
    await _decide_all(app)
    off = await fo.flexibility_services.get("off")
    out = await fo.flexibility_services.get("out")
    hidden = await fo.flexibility_services.get("hidden")
    assert off.response is not None
    assert ReasonCode.OFF_GRID in {r.code for r in off.response.reasons}
    # s3 is the FO's under another contract: it may learn that it is outside this one.
    assert out.response is not None
    assert ReasonCode.TARGET_NOT_IN_CONTRACT in {r.code for r in out.response.reasons}
    # s4 is in none of its contracts: answered like an unknown id, none of its EVSEs named.
    assert hidden.response is not None
    assert [(r.code, r.target) for r in hidden.response.reasons] == [
        (ReasonCode.TARGET_UNKNOWN, Target(level=TargetLevel.SITE, id="s4"))
    ]
    assert off.state is FsState.REJECTED
    assert out.state is FsState.REJECTED
    assert hidden.state is FsState.REJECTED


async def test_partial_acceptance_and_minimum(app: FastAPI, fo: FcsbeClient) -> None:
    await fo.flexibility_services.create(_reserve("big", 150_000, minimum_acceptance_pct=50))
    await fo.flexibility_services.create(_reserve("late", 150_000, minimum_acceptance_pct=50))
    await fo.flexibility_services.create(_request("steer", p_w=10_000))
    await _decide_all(app)
    big = await fo.flexibility_services.get("big")
    assert big.state is FsState.PARTIALLY_ACCEPTED
    assert big.response is not None
    assert big.response.committed_w == pytest.approx(100_000)
    late = await fo.flexibility_services.get("late")
    assert late.state is FsState.REJECTED  # nothing left: the first one holds all 100 kW
    assert late.response is not None
    assert {r.code for r in late.response.reasons} == {ReasonCode.INSUFFICIENT_AVAILABILITY}, (
        late.response.reasons
    )


async def test_two_setpoints_may_not_steer_one_evse(app: FastAPI, fo: FcsbeClient) -> None:
    await fo.flexibility_services.create(_request("first", p_w=1000))
    await fo.flexibility_services.create(_request("second", p_w=1000))
    await _decide_all(app)
    second = await fo.flexibility_services.get("second")
    assert second.state is FsState.REJECTED
    assert second.response is not None
    assert ReasonCode.CONFLICTING_FS in {r.code for r in second.response.reasons}


async def test_v2g_needs_consent(app: FastAPI, fo: FcsbeClient) -> None:
    evses = await make_site(app.state.session_factory, "s4", evses=2)
    await make_contract(app.state.session_factory, "FO-A", "fsc-4", targets=[("SITE", "s4")])
    await plug_ev(app.state.session_factory, evses[0], v2g_consent=True)
    await plug_ev(app.state.session_factory, evses[1], v2g_consent=False)
    await fo.flexibility_services.create(
        _request(
            "v2g", fsc_id="fsc-4", targets=[("SITE", "s4")], p_w=-40_000, minimum_acceptance_pct=10
        )
    )
    await _decide_all(app)
    fs = await fo.flexibility_services.get("v2g")
    assert fs.state is FsState.PARTIALLY_ACCEPTED
    assert fs.response is not None
    assert fs.response.committed_w == pytest.approx(25_000)
    assert ReasonCode.NO_CONSENT in {r.code for r in fs.response.reasons}


async def test_cancel_supersede_and_illegal_moves(app: FastAPI, fo: FcsbeClient) -> None:
    await fo.flexibility_services.create(_request("c1", p_w=10_000))
    await _decide_all(app)
    renewed = await fo.flexibility_services.supersede(_request("c1", p_w=20_000))
    assert renewed.revision == 2
    await _decide_all(app)
    fs = await fo.flexibility_services.get("c1")
    assert (fs.revision, fs.state, fs.supersedes) == (2, FsState.ACCEPTED, 1)
    assert fs.response is not None
    assert fs.response.committed_w == pytest.approx(20_000)
    assert FsState.SUPERSEDED in [t.to_state for t in fs.transitions]
    cancelled = await fo.flexibility_services.cancel("c1", "no longer needed")
    assert cancelled.state is FsState.CANCELLED
    with pytest.raises(ConflictError) as info:
        await fo.flexibility_services.cancel("c1")
    assert info.value.problem.slug == "illegal-transition"
    with pytest.raises(ConflictError):
        await fo.flexibility_services.create(_request("c1"))
    # Capacity held by a cancelled FS is free again.
    await fo.flexibility_services.create(_request("c2", p_w=100_000))
    await _decide_all(app)
    assert (await fo.flexibility_services.get("c2")).state is FsState.ACCEPTED


async def test_other_fo_sees_nothing(app: FastAPI, fo: FcsbeClient) -> None:
    await fo.flexibility_services.create(_request("mine"))
    other_token = await make_fo(app.state.session_factory, "FO-B")
    async with _fo_client(app, other_token) as other:
        with pytest.raises(NotFoundError):
            await other.flexibility_services.get("mine")
        assert await other.flexibility_services.list().to_list() == []
        with pytest.raises(NotFoundError):
            await other.flexibility_services.cancel("mine")
    assert [f.fs_id for f in await fo.flexibility_services.list().to_list()] == ["mine"]


async def test_paging_and_filters(app: FastAPI, fo: FcsbeClient) -> None:
    for n in range(5):
        # Separate windows: two SETPOINTs may not steer the same EVSE at the same time.
        await fo.flexibility_services.create(
            _request(f"p{n}", p_w=1000, start_in=timedelta(hours=n + 1))
        )
    pages = [p async for p in fo.flexibility_services.list(page_size=2).pages()]
    assert [len(p.items) for p in pages] == [2, 2, 1]
    await _decide_all(app)
    accepted = await fo.flexibility_services.list(state=FsState.ACCEPTED).to_list()
    assert len(accepted) == 5


async def test_racing_requests_never_over_allocate(app: FastAPI, fo: FcsbeClient) -> None:
    """R5: many FS race for 100 kW on two EVSEs, decided concurrently."""
    for n in range(12):
        await fo.flexibility_services.create(
            _reserve(f"race{n}", 15_000, minimum_acceptance_pct=100)
        )

    async def worker() -> None:
        while True:
            async with app.state.session_factory() as session:
                n = await decide_pending(session, utcnow(), app.state.keys.sign)
                await session.commit()
            if n == 0:
                return

    await asyncio.gather(*(worker() for _ in range(4)))
    async with app.state.session_factory() as session:
        committed = (
            await session.execute(
                select(func.sum(FsTargetRow.committed_w))
                .join(FlexibilityServiceRow, FlexibilityServiceRow.id == FsTargetRow.fs_pk)
                .where(FlexibilityServiceRow.state == "ACCEPTED")
            )
        ).scalar_one()
        states = list((await session.execute(select(FlexibilityServiceRow.state))).scalars())
    rejected = list(await fo.flexibility_services.list(state=FsState.REJECTED).to_list())
    assert states.count("ACCEPTED") == 6, [r.response.reasons for r in rejected if r.response]
    assert states.count("REJECTED") == 6
    assert committed == pytest.approx(90_000)


async def test_the_decision_step_signs_decisions_with_the_published_key(
    app: FastAPI, fo: FcsbeClient
) -> None:
    """The worker's decisions carry the server's JWS, which the client verifies offline with
    the keys of `GET /v1`; a changed or unsigned decision does not verify."""
    await fo.flexibility_services.create(_request("fs-signed", p_w=40_000))
    assert await decision_step(app.state.session_factory, app.state.keys)() == 1
    response = (await fo.flexibility_services.get("fs-signed")).response
    assert response is not None
    assert response.signature is not None
    jwks = (await fo.discovery.version_details()).jwks
    assert verify_decision(response, jwks) == app.state.keys.kid
    changed = response.model_copy(update={"committed_w": (response.committed_w or 0) + 1})
    with pytest.raises(ProofVerificationError, match="does not match"):
        verify_decision(changed, jwks)
    with pytest.raises(ProofVerificationError, match="not signed"):
        verify_decision(response.model_copy(update={"signature": None}), jwks)
    listed = [fs async for fs in fo.flexibility_services.list()]
    assert listed[0].response is not None
    assert verify_decision(listed[0].response, jwks) == app.state.keys.kid


async def test_transition_times_never_go_backwards(app: FastAPI, fo: FcsbeClient) -> None:
    """Stamps from a lagging clock (the decision's, the stations') never precede the FS's
    previous transition, so its history reads in order."""
    await fo.flexibility_services.create(_request("fs-clock", p_w=40_000))
    received = (await fo.flexibility_services.get("fs-clock")).transitions[0].at
    lagging = received - timedelta(minutes=5)
    async with app.state.session_factory() as session:
        assert await decide_pending(session, lagging, app.state.keys.sign) == 1
        await session.commit()
    async with app.state.session_factory() as session:
        row = (
            await session.execute(
                select(FlexibilityServiceRow).where(FlexibilityServiceRow.fs_id == "fs-clock")
            )
        ).scalar_one()
        await move(session, row, FsState.SCHEDULED, "planned", at=lagging - timedelta(minutes=1))
        await session.commit()
    fs = await fo.flexibility_services.get("fs-clock")
    states = [t.to_state for t in fs.transitions]
    assert states == [FsState.RECEIVED, FsState.ACCEPTED, FsState.SCHEDULED]
    stamps = [t.at for t in fs.transitions]
    assert stamps == sorted(stamps)
    assert stamps[1] == stamps[2] == received


async def test_list_pages_end_without_an_empty_page(
    app: FastAPI, fo: FcsbeClient, http: httpx.AsyncClient
) -> None:
    """Pages read one FS more than they serve: a full last page says it is the last, and
    each listed FS carries the transitions it shows on its own."""
    for fs_id in ("fs-p1", "fs-p2", "fs-p3"):
        await fo.flexibility_services.create(_request(fs_id))
    await _decide_all(app)
    auth = {"authorization": f"Bearer {fo.token}"}
    url = "/v1/flexibility-services"
    first = await http.get(url, params={"limit": 2}, headers=auth)
    assert [fs["fs_id"] for fs in first.json()["items"]] == ["fs-p1", "fs-p2"]
    assert 'rel="next"' in first.headers["link"]
    cursor = first.json()["next_cursor"]
    last = await http.get(url, params={"limit": 2, "cursor": cursor}, headers=auth)
    assert [fs["fs_id"] for fs in last.json()["items"]] == ["fs-p3"]
    assert last.json()["next_cursor"] is None
    assert "link" not in last.headers
    whole = await http.get(url, params={"limit": 3}, headers=auth)
    assert whole.json()["next_cursor"] is None
    for listed in whole.json()["items"]:
        alone = await http.get(f"{url}/{listed['fs_id']}", headers=auth)
        assert listed["transitions"] == alone.json()["transitions"]
        assert len(listed["transitions"]) >= 2
