"""Out-of-range input is a 4xx problem naming the field, never a 500, never half-applied
(issue 17, items 2, 5 and 6), on SQLite and PostgreSQL.

Integers beyond ±(2^53 - 1) cannot be written in RFC 8785 canonical JSON (the event log's
hashes, request signatures); integers beyond 64 (or 32) bits cannot be stored; NUL cannot be
held by PostgreSQL text. Cursors are sealed, so a made-up one never reaches a query and a real
one tells nothing about other tenants.
"""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from fcsbe.model import (
    MAX_SAFE_INTEGER,
    FlexibilityServiceRequest,
    FsState,
    Party,
    SetpointUpdate,
    generate_signing_key,
    public_jwk,
    sign_request,
)
from fcsbe.server.services.flexibility_services import control as fs_control
from fcsbe.server.settings import Settings
from fcsbe.server.storage.event_log import EventLogRow
from fcsbe.server.storage.flexibility_services import FlexibilityServiceRow
from tests.scenarios.harness import Harness, harness
from tests.support.factories import make_contract, make_fo, make_operator
from tests.support.fs_fixtures import request_body
from tests.support.registry_fixtures import EVSE_DC

BEYOND = 2**53
"""The first integer canonical JSON cannot hold exactly."""


def _problem(response: httpx.Response, status: int = 422) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem: dict[str, Any] = response.json()
    return problem


def _pointers(response: httpx.Response, status: int = 422) -> list[str]:
    return [error["pointer"] for error in _problem(response, status).get("errors", [])]


def _forged(value: Any) -> str:
    """A cursor as the server used to make them: base64url JSON of the sort key."""
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


@pytest.fixture
async def fo(app: FastAPI) -> dict[str, str]:
    factory = app.state.session_factory
    token = await make_fo(factory, "FO-A")
    await make_contract(factory, "FO-A", "fsc-1", [("EVSE", EVSE_DC)])
    return {"authorization": f"Bearer {token}"}


# --- setpoints: bounded, and recorded before the stations are commanded (item 2) ---


async def _active_setpoint_fs(h: Harness) -> list[str]:
    depot = h.evses_of("SITE-DEPOT")
    body = request_body(
        "fs-big",
        targets=[("SITE", "SITE-DEPOT")],
        p_w=20_000,
        start_in=timedelta(seconds=60),
        now=h.now,
        duration=timedelta(minutes=15),
    )
    await h.fo.flexibility_services.create(FlexibilityServiceRequest.model_validate(body))
    await h.steps()
    await h.run(90)
    assert (await h.fo.flexibility_services.get("fs-big")).state is FsState.ACTIVE
    assert await h.power_w(depot) == pytest.approx(20_000, rel=0.05)
    return depot


async def _setpoint_events(app: FastAPI) -> int:
    async with app.state.session_factory() as session:
        statement = select(func.count()).where(EventLogRow.type == "FS_SETPOINT_UPDATED")
        return int((await session.execute(statement)).scalar_one())


async def test_a_setpoint_sequence_beyond_2_53_is_refused_and_not_applied(
    settings: Settings,
) -> None:
    async with harness(settings) as h:
        depot = await _active_setpoint_fs(h)
        http = h.fo._transport.http
        headers = {"authorization": f"Bearer {h.fo.token}", "content-type": "application/json"}
        for sequence in (BEYOND, 10**20, 2**64):
            answer = await http.post(
                "/v1/flexibility-services/fs-big/setpoints",
                content=f'{{"p_w": 6100.0, "sequence": {sequence}}}',
                headers={**headers, "idempotency-key": f"s-{sequence}"},
            )
            assert _pointers(answer) == ["/body/sequence"]
        await h.run(10)
        assert await h.power_w(depot) == pytest.approx(20_000, rel=0.05)
        assert await _setpoint_events(h.app) == 0
        # The largest allowed one is recorded and applied.
        await h.fo.flexibility_services.update_setpoint(
            "fs-big", SetpointUpdate(p_w=15_000, sequence=MAX_SAFE_INTEGER)
        )
        await h.run(10)
        assert await h.power_w(depot) == pytest.approx(15_000, rel=0.05)
        assert await _setpoint_events(h.app) == 1


async def test_a_setpoint_that_cannot_be_recorded_never_reaches_the_stations(
    settings: Settings,
) -> None:
    """The service records first: should a value the event log cannot hold ever get past the
    model, the stations are not commanded (before, they ran at it while the FS and the event
    log kept the old setpoint, and a retry applied it again)."""
    async with harness(settings) as h:
        depot = await _active_setpoint_fs(h)
        unrecordable = SetpointUpdate.model_construct(
            p_w=6_100.0, q_var=None, effective_at=None, sequence=2**60
        )
        async with h.app.state.session_factory() as session:
            fs = (
                await session.execute(
                    select(FlexibilityServiceRow).where(FlexibilityServiceRow.fs_id == "fs-big")
                )
            ).scalar_one()
            with pytest.raises(ValueError, match="integer"):
                await fs_control.update_setpoint(session, h.stations, fs, unrecordable, h.now)
            await session.rollback()
        await h.run(10)
        assert await h.power_w(depot) == pytest.approx(20_000, rel=0.05)
        assert await _setpoint_events(h.app) == 0


# --- signatures (item 5): `iat` and the signed body are checked before anything else ---

SIGNED_ROUTES = [
    ("/v1/contracts/fsc-1/terminate", {"reason": "x"}),
    ("/v1/flexibility-services/fs-none/cancel", {"reason": "x"}),
    ("/v1/flexibility-services/fs-none/setpoints", {"p_w": 0.0, "sequence": 1}),
    ("/v1/contract-holders/lookup", {"target": {"level": "EVSE", "id": EVSE_DC}}),
]


@pytest.mark.parametrize(("path", "body"), SIGNED_ROUTES, ids=[p for p, _ in SIGNED_ROUTES])
async def test_an_iat_out_of_range_is_a_401_naming_iat(
    http: httpx.AsyncClient, fo: dict[str, str], path: str, body: dict[str, Any]
) -> None:
    key = generate_signing_key()
    for iat in (10**20, 2**63, -(10**20)):  # one app per route: a refusal changes nothing
        signature = sign_request("POST", path, body, key, issued_at=iat)
        answer = await http.post(
            path,
            json=body,
            headers={**fo, "idempotency-key": f"k-iat-{iat}", "x-fcsbe-signature": signature},
        )
        problem = _problem(answer, 401)
        assert problem["type"].endswith(("/signature-invalid", "/signature-stale")), iat
        assert "iat" in problem["detail"], iat


async def test_a_huge_integer_in_a_signed_body_is_a_422_naming_it(
    http: httpx.AsyncClient, fo: dict[str, str]
) -> None:
    path = "/v1/contracts/fsc-1/terminate"
    signature = sign_request("POST", path, {"reason": "x"}, generate_signing_key())
    for number in (BEYOND, -BEYOND, 10**30):
        answer = await http.post(
            path,
            content=f'{{"reason": "x", "extra": [1, {{"n": {number}}}]}}',
            headers={
                **fo,
                "content-type": "application/json",
                "idempotency-key": f"k-big-{number}",
                "x-fcsbe-signature": signature,
            },
        )
        assert _pointers(answer) == ["/body/extra/1/n"], number


async def test_non_finite_numbers_are_refused(http: httpx.AsyncClient, fo: dict[str, str]) -> None:
    answer = await http.post(
        "/v1/flexibility-services/fs-none/setpoints",
        content='{"p_w": 1e400, "sequence": 1}',
        headers={**fo, "content-type": "application/json", "idempotency-key": "k-inf"},
    )
    assert _pointers(answer) == ["/body/p_w"]


# --- query parameters and cursors (items 5 and 6) ---


@pytest.mark.parametrize(
    "query",
    ["/v1/notifications?after_seq=9223372036854775808", f"/v1/event-log?after_seq={2**63}"],
)
async def test_a_huge_after_seq_is_a_422(
    http: httpx.AsyncClient, fo: dict[str, str], query: str
) -> None:
    assert _pointers(await http.get(query, headers=fo)) == ["/query/after_seq"]


FO_LISTS = ["/v1/flexibility-services", "/v1/contracts", "/v1/notifications", "/v1/event-log"]


@pytest.mark.parametrize("path", FO_LISTS)
async def test_a_forged_cursor_is_a_422_naming_cursor(
    http: httpx.AsyncClient, fo: dict[str, str], path: str
) -> None:
    for value in (10**23, 2**31, 2**63, -1, "x", [1, 2]):  # one app per list: reads only
        answer = await http.get(path, params={"cursor": _forged(value)}, headers=fo)
        assert _pointers(answer) == ["/query/cursor"], value


@pytest.mark.parametrize("path", ["/admin/v1/contracts", "/admin/v1/notifications"])
async def test_a_forged_operator_cursor_is_a_422(
    app: FastAPI, http: httpx.AsyncClient, path: str
) -> None:
    operator = {"authorization": f"Bearer {await make_operator(app.state.session_factory)}"}
    answer = await http.get(path, params={"cursor": _forged(10**23)}, headers=operator)
    assert _pointers(answer) == ["/query/cursor"]


async def test_cursors_reveal_no_row_id_and_serve_only_their_caller(
    app: FastAPI, http: httpx.AsyncClient, fo: dict[str, str]
) -> None:
    factory = app.state.session_factory
    for n in range(3):
        await make_contract(factory, "FO-A", f"fsc-a{n}", [("EVSE", EVSE_DC)])
    other = {"authorization": f"Bearer {await make_fo(factory, 'FO-B')}"}
    await make_contract(factory, "FO-B", "fsc-b", [("EVSE", EVSE_DC)])
    first = await http.get("/v1/contracts", params={"limit": 2}, headers=fo)
    assert first.status_code == 200, first.text
    cursor = first.json()["next_cursor"]
    assert cursor
    raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    with pytest.raises((UnicodeDecodeError, json.JSONDecodeError)):  # no id to read
        json.loads(raw)
    following = await http.get("/v1/contracts", params={"limit": 2, "cursor": cursor}, headers=fo)
    assert following.status_code == 200
    assert len(following.json()["items"]) == 2
    # FO-B cannot use FO-A's cursor, nor can it be used on another list.
    stolen = await http.get("/v1/contracts", params={"cursor": cursor}, headers=other)
    assert _pointers(stolen) == ["/query/cursor"]
    elsewhere = await http.get("/v1/flexibility-services", params={"cursor": cursor}, headers=fo)
    assert _pointers(elsewhere) == ["/query/cursor"]
    tampered = cursor[:-3] + ("AAA" if not cursor.endswith("AAA") else "BBB")
    assert _pointers(await http.get("/v1/contracts", params={"cursor": tampered}, headers=fo)) == [
        "/query/cursor"
    ]


# --- NUL characters (item 5) ---


async def test_nul_in_a_party_name_or_a_jwk_member_is_a_422(app: FastAPI) -> None:
    party = Party.model_validate(
        {"party_id": "FO-N", "roles": ["FO"], "legal_name": "N B.V.", "country": "NL"}
    ).model_dump(mode="json", exclude_none=True)
    key = public_jwk(generate_signing_key())
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://fcsbe.test") as http:
        async with app.state.session_factory() as session:
            count = await session.execute(select(func.count()).select_from(EventLogRow))
            before = int(count.scalar_one())
        cases = [
            ({**party, "legal_name": "N\x00 B.V."}, key, "/body/party/legal_name"),
            (party, {**key, "kid": "k\x001"}, "/body/signing_key/kid"),
            (party, {**key, "x\x00": "1"}, "/body/signing_key/x\x00"),
        ]
        for party_doc, jwk, pointer in cases:
            answer = await http.post(
                "/v1/enrolments",
                json={
                    "party": party_doc,
                    "callback_base_url": "https://fo-n.example.com/fcsbe",
                    "signing_key": jwk,
                },
                headers={"authorization": "Bearer fcsbe_et_x", "idempotency-key": "k-nul"},
            )
            assert _pointers(answer) == [pointer]
        async with app.state.session_factory() as session:
            count = await session.execute(select(func.count()).select_from(EventLogRow))
            assert int(count.scalar_one()) == before


async def test_nul_in_a_query_or_path_is_a_422(http: httpx.AsyncClient, fo: dict[str, str]) -> None:
    answer = await http.get("/v1/event-log?type=A%00B", headers=fo)
    assert _pointers(answer) == ["/query/type"]
    answer = await http.get("/v1/flexibility-services/fs%00x", headers=fo)
    assert _pointers(answer) == ["/path"]


def test_the_models_refuse_what_the_wire_cannot_carry() -> None:
    """The same limits hold without HTTP (registry files, the client's own checks)."""
    with pytest.raises(ValueError, match="NUL"):
        Party.model_validate(
            {"party_id": "FO-N", "roles": ["FO"], "legal_name": "N\x00", "country": "NL"}
        )
    with pytest.raises(ValueError, match="less than or equal"):
        SetpointUpdate(p_w=0.0, sequence=BEYOND)
    schema = SetpointUpdate.model_json_schema()["properties"]["sequence"]
    assert schema["maximum"] == MAX_SAFE_INTEGER


async def test_nothing_is_written_by_a_refused_setpoint_request(
    app: FastAPI, http: httpx.AsyncClient, fo: dict[str, str]
) -> None:
    async with app.state.session_factory() as session:
        before = (await session.execute(select(func.count()).select_from(EventLogRow))).scalar()
    answer = await http.post(
        "/v1/flexibility-services/fs-none/setpoints",
        content=f'{{"p_w": 1.0, "sequence": {BEYOND}}}',
        headers={**fo, "content-type": "application/json", "idempotency-key": "k-n"},
    )
    assert _pointers(answer) == ["/body/sequence"]
    async with app.state.session_factory() as session:
        after = (await session.execute(select(func.count()).select_from(EventLogRow))).scalar()
    assert after == before
