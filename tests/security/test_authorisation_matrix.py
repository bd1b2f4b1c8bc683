"""S2: every route x {FO A, FO B, operator, EV user, anonymous, revoked token}.

Expected: anonymous and revoked -> 401; a wrong role -> 403; FO B naming FO A's objects -> 404
and no change at all; FO B's own answers never mention FO A; the allowed caller succeeds.
The rows live in `tests/security/matrix.py`; a route without a row fails
`test_every_route_has_a_row`.

One app per backend serves every row (building an app's routes costs more than a row's
requests); each row starts from empty tables, a fresh world and a fresh security-event
throttle, so rows see nothing of each other.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from sqlalchemy import text

from fcsbe.cli import render_openapi
from fcsbe.model import (
    FO_SCOPES,
    ContractDecision,
    ContractDecisionKind,
    EnrolmentTokenRequest,
    FlexibilityServiceRequest,
)
from fcsbe.server.api.edge.audit import SecurityEventThrottle
from fcsbe.server.app import create_app
from fcsbe.server.security.principal import Principal, Role
from fcsbe.server.services.contracts import contracts
from fcsbe.server.services.contracts import decisions as contract_decisions
from fcsbe.server.services.enrolments.tokens import issue_enrolment_token
from fcsbe.server.services.ev_users import access as ev_user_access
from fcsbe.server.services.flexibility_services.requests import submit_fs
from fcsbe.server.settings import Settings
from fcsbe.server.storage.base import utcnow
from fcsbe.server.storage.schema import metadata
from tests.conftest import BACKENDS, fake_dns
from tests.security.matrix import ROWS, Row, Who, World, scope_of
from tests.support.databases import empty_all
from tests.support.factories import make_fo
from tests.support.flows import PROVIDER, init_server, proposal
from tests.support.fs_fixtures import request_body
from tests.support.registry_fixtures import EVSE_DC, add_registry

CALLERS = ("anonymous", "revoked", "ev_user", "operator", "fo_b", "fo_a")
# Tables a refused request may still write: the trace of a security event.
SECURITY_TRACE = {"event_log", "outbox"}


@pytest.fixture(scope="module", params=BACKENDS)
def matrix_url(request: pytest.FixtureRequest) -> str:
    url: str = request.getfixturevalue(f"{request.param}_url")
    return url


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def matrix_app(
    matrix_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[FastAPI]:
    """The app (with the default settings of the `app` fixture) on one backend for the module."""
    database_url = matrix_url
    application = create_app(
        Settings(
            database_url=database_url,
            auto_migrate=False,
            data_dir=tmp_path_factory.mktemp("matrix") / "var",
            log_level="WARNING",
            workers_enabled=False,
            simulator_enabled=False,
        )
    )
    application.state.callback_resolver = fake_dns
    async with application.router.lifespan_context(application):
        yield application


@pytest_asyncio.fixture(loop_scope="module")
async def app(matrix_app: FastAPI) -> AsyncIterator[FastAPI]:
    """The module's app, emptied: what the `app` fixture gives, without rebuilding it."""
    await empty_all(matrix_app.state.engine)
    matrix_app.state.security_throttle = SecurityEventThrottle()
    yield matrix_app


@pytest_asyncio.fixture(loop_scope="module")
async def http(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://fcsbe.test") as client:
        yield client


def _served_routes() -> set[str]:
    document = json.loads(render_openapi())
    return {f"{m.upper()} {path}" for path, ops in document["paths"].items() for m in ops}


def test_every_route_has_a_row() -> None:
    rows = {row.key for row in ROWS}
    assert len(rows) == len(ROWS), "duplicate rows in tests/security/matrix.py"
    served = _served_routes()
    missing = served - rows
    assert not missing, f"routes without a row in tests/security/matrix.py: {sorted(missing)}"
    stale = rows - served
    assert not stale, f"rows for routes the server does not serve: {sorted(stale)}"


async def _world(app: FastAPI) -> World:
    """FO A and FO B with a contract each, a revoked FO, the operator, an EV user, and a
    one-time enrolment token; written through the services in few transactions (fast)."""
    factory = app.state.session_factory
    operator = await init_server(app)
    await add_registry(factory)
    tokens = {
        "operator": operator,
        "fo_a": await make_fo(factory, "NL-FO-A"),
        "fo_b": await make_fo(factory, "NL-FO-B"),
        "revoked": await make_fo(factory, "NL-GONE", revoked=True),
    }
    now = utcnow()
    async with factory() as session:
        for party in ("NL-FO-A", "NL-FO-B"):
            fo = Principal(
                party_id=party,
                role=Role.FO,
                credential_id=f"cred-{party}",
                enrolment_id=f"enr-{party}",
                scopes=frozenset(FO_SCOPES),
            )
            fsc_id = "fsc-a" if party == "NL-FO-A" else "fsc-b"
            await contracts.propose(
                session, fo, proposal(fsc_id, [{"level": "EVSE", "id": EVSE_DC}]), now=now
            )
        desk = Principal(party_id=PROVIDER, role=Role.OPERATOR, credential_id="desk")
        accept = ContractDecision(decision=ContractDecisionKind.ACCEPT)
        await contract_decisions.decide(session, desk, "fsc-a", accept, now=now)
        fo_a = Principal(party_id="NL-FO-A", role=Role.FO, credential_id="cred-NL-FO-A")
        fs = FlexibilityServiceRequest.model_validate(
            request_body("fs-a", fsc_id="fsc-a", targets=[("EVSE", EVSE_DC)])
        )
        await submit_fs(session, fo_a, fs, now, 60)
        # Two EV users: the caller (a real subject with consent and a token from its link), and
        # another one the operator may erase; a third link stays unused for the token route.
        pseudonyms = app.state.stations.pseudonyms
        invites = {}
        for who in ("NL-XYZ-C00000001", "NL-XYZ-C00000002"):
            invites[who], _ = await ev_user_access.invite(
                session, who, expires_in_s=3600, base_url="http://x", pseudonyms=pseudonyms, now=now
            )
        code = invites["NL-XYZ-C00000001"].invite_url.split("#invite=")[1]
        token = await ev_user_access.exchange_invite(session, code, token_ttl_s=3600, now=now)
        tokens["ev_user"] = token.access_token
        spare, _ = await ev_user_access.invite(
            session,
            "NL-XYZ-C00000001",
            expires_in_s=3600,
            base_url="http://x",
            pseudonyms=pseudonyms,
            now=now,
        )
        issued = await issue_enrolment_token(
            session, EnrolmentTokenRequest(fo_name="new"), now=now, settings=app.state.settings
        )
        await session.commit()
    return World(
        tokens=tokens,
        enrolment_token=issued.token,
        ids={
            "fsc_id": "fsc-a",
            "fs_id": "fs-a",
            "enrolment_id": "enr-NL-FO-A",
            "party_id": "NL-FO-A",
            "site_id": "site-ams",
            "cs_id": "cs-dc",
            "session_ref": "ps_unknown",
            "notification_id": "n-unknown",
            "command_id": "cmd-unknown",
            "dispute_id": "dispute-unknown",
            "user_id": invites["NL-XYZ-C00000002"].user_id,
        },
        ev_invite=spare.invite_url.split("#invite=")[1],
    )


async def _snapshot(app: FastAPI) -> dict[str, list[Any]]:
    """Every row of every table (the world is small)."""
    found: dict[str, list[Any]] = {}
    async with app.state.engine.connect() as connection:
        for table in metadata.sorted_tables:
            rows = await connection.execute(text(f'SELECT * FROM "{table.name}"'))
            found[table.name] = sorted((tuple(map(str, row)) for row in rows), key=repr)
    return found


def _expected(row: Row, caller: str) -> set[int]:
    if row.who is Who.PUBLIC:
        return {200}
    if row.who in {Who.ENROLMENT_TOKEN, Who.EV_USER_INVITE}:
        return {201} if caller == "fo_a" else {401}
    if caller in {"anonymous", "revoked"}:
        return {401}
    wanted = {
        Who.FO: {"fo_a", "fo_b"},
        Who.OPERATOR: {"operator"},
        Who.EV_USER: {"ev_user"},
        Who.FO_OR_OPERATOR: {"fo_a", "fo_b", "operator"},
    }
    if caller not in wanted[row.who]:
        return {403}
    if caller == "fo_b" and row.owned:
        return {404}
    return set(row.ok) if row.ok is not None else {200, 201, 202, 204}


async def _call(http: httpx.AsyncClient, row: Row, world: World, caller: str) -> httpx.Response:
    headers = {"idempotency-key": str(uuid.uuid4())}
    token = world.enrolment_token if row.who is Who.ENROLMENT_TOKEN and caller == "fo_a" else None
    if row.who is Who.EV_USER_INVITE and caller == "fo_a":
        token = world.ev_invite
    token = token or world.tokens.get(caller)
    if token:
        headers["authorization"] = f"Bearer {token}"
    body = row.body(world)
    return await http.request(
        row.method,
        row.path.format(**world.ids),
        json=body,
        params=dict(row.query),
        headers=headers,
    )


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize("row", ROWS, ids=lambda row: row.key)
async def test_route_authorisation(app: FastAPI, http: httpx.AsyncClient, row: Row) -> None:
    world = await _world(app)
    secrets_of_a = {
        world.tokens["fo_a"],
        world.ids["fsc_id"],
        world.ids["enrolment_id"],
        world.ids["party_id"],
        world.ids["fs_id"],
    }
    # Refused callers first (the allowed call may change what the others would see); together
    # they must change nothing but the trace of security events.
    order = sorted(CALLERS, key=lambda caller: min(_expected(row, caller)) < 400)
    before = await _snapshot(app)
    checked = False
    for caller in order:
        expected = _expected(row, caller)
        if min(expected) < 400 and not checked:
            await _assert_unchanged(app, before, row)
            checked = True
        response = await _call(http, row, world, caller)
        assert response.status_code in expected, (caller, response.status_code, response.text)
        if caller == "fo_b" and row.who is not Who.PUBLIC:
            asked = f"{response.request.url} {response.request.content.decode()}"
            leaked = [s for s in secrets_of_a if s in response.text and s not in asked]
            assert not leaked, f"FO B saw FO A's {leaked} at {row.key}"
    if not checked:
        await _assert_unchanged(app, before, row)


async def _assert_unchanged(app: FastAPI, before: dict[str, list[Any]], row: Row) -> None:
    after = await _snapshot(app)
    changed = {name for name in before if before[name] != after[name]}
    assert changed <= SECURITY_TRACE, (row.key, changed)
    added_events = [r for r in after["event_log"] if r not in before["event_log"]]
    added_notes = [r for r in after["outbox"] if r not in before["outbox"]]
    assert all("SECURITY_" in " ".join(r) for r in added_events + added_notes), row.key


def test_every_fo_route_outside_the_enrolment_has_a_scope() -> None:
    unscoped = {
        row.key for row in ROWS if row.who in (Who.FO, Who.FO_OR_OPERATOR) and scope_of(row) is None
    }
    assert unscoped == {
        "GET /v1/enrolments/self",
        "PATCH /v1/enrolments/self",
        "PUT /v1/enrolments/self/credentials",
        "DELETE /v1/enrolments/self",
        "POST /v1/heartbeat",
    }
    assert {scope_of(row) for row in ROWS} - {None} == set(FO_SCOPES)


@pytest.mark.asyncio(loop_scope="module")
async def test_an_fo_without_the_scope_is_refused(app: FastAPI, http: httpx.AsyncClient) -> None:
    """For every scoped route: an FO granted every scope but that one gets 403 scope-missing
    and changes nothing; the operator's access to shared reads is not a matter of scopes."""
    world = await _world(app)
    for scope in FO_SCOPES:
        others = [s for s in FO_SCOPES if s != scope]
        world.tokens[f"no-{scope}"] = await make_fo(
            app.state.session_factory, f"NL-NO-{scope.upper()}", scopes=others
        )
    before = await _snapshot(app)
    for row in ROWS:
        scope = scope_of(row)
        if scope is None:
            continue
        response = await _call(http, row, world, f"no-{scope}")
        assert response.status_code == 403, (row.key, response.status_code, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["type"].endswith("scope-missing"), row.key
        assert scope in response.json()["detail"]
    await _assert_unchanged(app, before, Row("GET", "scopes", Who.FO))
