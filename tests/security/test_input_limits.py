"""S3 on the real routes: page sizes, list sizes, unknown fields and body size are capped, and
each refusal is a 413/422 problem naming the field, with nothing written.

The mechanisms have tests of their own (tests/server/api/test_errors.py for 413 and 422 rendering,
tests/model/test_inputs.py for unknown fields, tests/server/api/test_rate_limit.py for 429); these
check that the served routes use them, every list route included.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from fcsbe.cli import render_openapi
from fcsbe.model import MAX_PAGE_SIZE, MAX_TARGETS, Problem
from fcsbe.server.storage.flexibility_services import FlexibilityServiceRow
from tests.support.factories import make_contract, make_fo, make_operator
from tests.support.fs_fixtures import request_body
from tests.support.registry_fixtures import EVSE_DC

DOCUMENT: dict[str, Any] = json.loads(render_openapi())
LIST_ROUTES = sorted(
    path
    for path, operations in DOCUMENT["paths"].items()
    if "{" not in path
    and any(p["name"] == "limit" for p in operations.get("get", {}).get("parameters", []))
)


def _pointers(response: httpx.Response, status: int = 422) -> list[str]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = Problem.model_validate_json(response.content)
    return [error.pointer for error in problem.errors or []]


@pytest.fixture
async def tokens(app: FastAPI) -> dict[str, str]:
    factory = app.state.session_factory
    fo = await make_fo(factory, "NL-FO-A")
    await make_contract(factory, "NL-FO-A", "fsc-1", [("EVSE", EVSE_DC)])
    return {"fo": fo, "operator": await make_operator(factory)}


async def _fs_count(app: FastAPI) -> int:
    async with app.state.session_factory() as session:
        rows = await session.execute(select(func.count()).select_from(FlexibilityServiceRow))
        return int(rows.scalar_one())


def _auth(tokens: dict[str, str], path: str) -> dict[str, str]:
    who = "operator" if path.startswith("/admin/") else "fo"
    return {"authorization": f"Bearer {tokens[who]}", "idempotency-key": "k-1"}


def test_every_list_route_is_paged() -> None:
    assert len(LIST_ROUTES) >= 10, LIST_ROUTES


async def test_page_size_is_capped_on_every_list(
    http: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    for path in LIST_ROUTES:
        headers = _auth(tokens, path)
        for limit in (0, MAX_PAGE_SIZE + 1):
            response = await http.get(path, params={"limit": limit}, headers=headers)
            assert _pointers(response) == ["/query/limit"], path
        largest = await http.get(path, params={"limit": MAX_PAGE_SIZE}, headers=headers)
        assert largest.status_code in {200, 404}, (path, largest.text)  # 404: none visible


async def test_target_lists_are_capped(http: httpx.AsyncClient, tokens: dict[str, str]) -> None:
    targets = [("EVSE", f"NL*CSO*E{n:05d}*1") for n in range(MAX_TARGETS + 1)]
    body = request_body("fs-big", fsc_id="fsc-1", targets=targets)
    headers = _auth(tokens, "/v1")
    response = await http.post("/v1/flexibility-services", json=body, headers=headers)
    assert _pointers(response) == ["/body/targets"]
    check = {
        "fsc_id": "fsc-1",
        "fs_type": "SETPOINT",
        "targets": [{"level": level, "id": id_} for level, id_ in targets],
        "window": body["window"],
    }
    response = await http.post("/v1/credential-checks", json=check, headers=headers)
    assert _pointers(response) == ["/body/targets"]


async def test_unknown_fields_are_refused_at_any_depth(
    app: FastAPI, http: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    headers = _auth(tokens, "/v1")
    body = request_body("fs-1", fsc_id="fsc-1", targets=[("EVSE", EVSE_DC)])
    response = await http.post(
        "/v1/flexibility-services", json={**body, "priority": "HIGH"}, headers=headers
    )
    assert _pointers(response) == ["/body/priority"]
    nested = {**body, "window": {**body["window"], "timezone": "Europe/Amsterdam"}}
    response = await http.post("/v1/flexibility-services", json=nested, headers=headers)
    assert _pointers(response) == ["/body/window/timezone"]
    response = await http.post(
        "/v1/heartbeat", json={"sent_at": body["window"]["start"], "x": 1}, headers=headers
    )
    assert _pointers(response) == ["/body/x"]
    assert await _fs_count(app) == 0


async def test_oversize_body_is_413_before_anything_is_read(
    app: FastAPI, http: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    limit = app.state.settings.max_body_bytes
    body = request_body("fs-1", fsc_id="fsc-1", targets=[("EVSE", EVSE_DC)])
    body["padding"] = "x" * limit
    response = await http.post("/v1/flexibility-services", json=body, headers=_auth(tokens, "/"))
    assert response.status_code == 413
    assert Problem.model_validate_json(response.content).slug == "payload-too-large"
    assert await _fs_count(app) == 0
