"""The plain accept route (`api/fs_accept.py`) answers every request as the FastAPI route does.

The same requests, good and bad, go to an app serving the accept through the plain route and to
one serving it through FastAPI (`fast_accept=False`), each on the same freshly emptied database;
their answers must be the same: status, `Content-Type`, `Location`, `Allow`, `Retry-After` and
the body (times and request ids aside, which differ between any two runs).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from fcsbe.server.api.fs_accept import AcceptRoute
from fcsbe.server.settings import Settings
from tests.support.apps import app_for
from tests.support.databases import empty_all
from tests.support.factories import make_fo, make_operator
from tests.support.fs_fixtures import make_contract, make_site, request_body

PATH = "/v1/flexibility-services"
_VARYING = {"response_deadline", "instance", "request_id", "trace_id"}
_COMPARED_HEADERS = ("content-type", "location", "allow", "retry-after")

Answer = tuple[str, int, dict[str, str], Any]


def _stable(value: Any) -> Any:
    """`value` without the members that differ between two runs."""
    if isinstance(value, dict):
        return {k: _stable(v) for k, v in value.items() if k not in _VARYING}
    if isinstance(value, list):
        return [_stable(v) for v in value]
    return value


async def _exchange(app: FastAPI) -> list[Answer]:
    """Seed the parties, then send every request of the corpus; the answers in order."""
    factory = app.state.session_factory
    fo = await make_fo(factory, "FO-A")
    unscoped = await make_fo(factory, "FO-B", scopes=["contracts"])
    revoked = await make_fo(factory, "FO-C", revoked=True)
    operator = await make_operator(factory)
    await make_site(factory, "s1", evses=2)
    await make_contract(factory, "FO-A")
    good = json.dumps(request_body("fs-1")).encode()
    other = json.dumps(request_body("fs-1", p_w=1000.0)).encode()
    second = json.dumps(request_body("fs-2")).encode()
    bad = request_body("fs-3")
    bad["window"] = {"start": "yesterday"}
    bad["targets"] = [{"level": "PLANET", "id": 7}]
    bad["surprise"] = True
    unknown_contract = json.dumps(request_body("fs-4", fsc_id="fsc-none")).encode()
    as_json = "application/json"

    def headers(
        token: str | None = fo, key: str | None = "k-1", content_type: str | None = as_json
    ) -> dict[str, str]:
        sent = {}
        if token is not None:
            sent["authorization"] = f"Bearer {token}"
        if key is not None:
            sent["idempotency-key"] = key
        if content_type is not None:
            sent["content-type"] = content_type
        return sent

    corpus: list[tuple[str, str, bytes, dict[str, str]]] = [
        ("no credentials", "POST", good, headers(token=None)),
        ("not bearer", "POST", good, {**headers(), "authorization": "Basic abc"}),
        ("unknown token", "POST", good, headers(token="fcsbe_at_unknown")),
        ("revoked token", "POST", good, headers(token=revoked)),
        ("operator", "POST", good, headers(token=operator)),
        ("scope missing", "POST", good, headers(token=unscoped)),
        ("malformed JSON, no credentials", "POST", b'{"fs_id": ', headers(token=None)),
        ("malformed JSON", "POST", b'{"fs_id": ', headers()),
        ("not UTF-8", "POST", b'{"fs_id": "\xff\xfe"}', headers()),
        ("text/plain", "POST", good, headers(content_type="text/plain")),
        ("no content type", "POST", good, headers(content_type=None)),
        ("empty body", "POST", b"", headers()),
        ("JSON array", "POST", b"[1, 2]", headers()),
        ("invalid fields", "POST", json.dumps(bad).encode(), headers()),
        ("invalid fields and key", "POST", json.dumps(bad).encode(), headers(key="")),
        ("blank key", "POST", good, headers(key="   ")),
        ("long key", "POST", good, headers(key="k" * 256)),
        ("no key", "POST", good, headers(key=None)),
        ("bad signature", "POST", good, {**headers(), "x-fcsbe-signature": "not.a.jws"}),
        ("accepted", "POST", good, headers()),
        ("replayed", "POST", good, headers()),
        ("key reused", "POST", other, headers()),
        ("fs_id taken", "POST", other, headers(key="k-2")),
        ("second", "POST", second, headers(key="k-3")),
        ("unknown contract", "POST", unknown_contract, headers(key="k-4")),
        ("other method", "DELETE", b"", headers()),
        ("trailing slash", "POST", good, headers(key="k-5")),
    ]
    answers: list[Answer] = []
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://fcsbe.test") as http:
        for name, method, body, sent in corpus:
            path = PATH + "/" if name == "trailing slash" else PATH
            response = await http.request(method, path, content=body, headers=sent)
            kept = {h: response.headers[h] for h in _COMPARED_HEADERS if h in response.headers}
            try:
                document: Any = _stable(response.json())
            except ValueError:
                document = response.text
            answers.append((name, response.status_code, kept, document))
    return answers


@pytest.fixture
async def plain_app(settings: Settings) -> AsyncIterator[FastAPI]:
    """The app serving the accept through FastAPI, on the test's database."""
    application = app_for(settings.model_copy(update={"fast_accept": False}))
    async with application.router.lifespan_context(application):
        yield application


async def test_the_plain_route_answers_as_the_fastapi_route(
    app: FastAPI, plain_app: FastAPI
) -> None:
    assert isinstance(app.router.routes[0], AcceptRoute)
    assert not any(isinstance(route, AcceptRoute) for route in plain_app.router.routes)
    fast = await _exchange(app)
    await empty_all(app.state.engine)
    plain = await _exchange(plain_app)
    assert [a[0] for a in fast] == [a[0] for a in plain]
    for ours, theirs in zip(fast, plain, strict=True):
        assert ours == theirs, ours[0]
    statuses = {name: status for name, status, _, _ in fast}
    # The corpus reaches every kind of answer, so a route answering all alike cannot pass.
    assert statuses["accepted"] == statuses["replayed"] == 202
    assert statuses["no credentials"] == 401
    assert statuses["operator"] == statuses["scope missing"] == 403
    assert statuses["malformed JSON, no credentials"] == 422
    assert statuses["no key"] == 400
    assert statuses["fs_id taken"] == 409
    assert statuses["other method"] == 405
    assert statuses["invalid fields and key"] == 422
    pointers = [error["pointer"] for error in fast[14][3]["errors"]]
    assert pointers[0] == "/header/Idempotency-Key"
    assert "/body/surprise" in pointers
