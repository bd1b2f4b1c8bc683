"""Every error is RFC 9457 problem+json; bad input changes nothing; no input reaches a 500."""

from __future__ import annotations

import json

import httpx
import pytest
from fastapi import FastAPI
from pydantic import Field, model_validator
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from fcsbe.model import InputModel, Problem, UtcDateTime
from fcsbe.server.deps import DbSession
from fcsbe.server.errors import Conflict, json_pointer
from fcsbe.server.storage.base import utcnow
from fcsbe.server.storage.parties import PartyRow

pytestmark = pytest.mark.own_app  # adds probe routes to its app


class _Window(InputModel):
    start: UtcDateTime = Field(description="start")
    end: UtcDateTime = Field(description="end")

    @model_validator(mode="after")
    def _ordered(self) -> _Window:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self


class _Body(InputModel):
    name: str = Field(max_length=20, description="name")
    power_w: float = Field(ge=0, description="power")
    window: _Window = Field(description="window")


@pytest.fixture
def probe_app(app: FastAPI) -> FastAPI:
    """Adds probe routes that write a row, so that 'nothing written' can be checked."""

    @app.post("/probe/parties", status_code=201)
    async def create(body: _Body, session: DbSession) -> dict[str, str]:
        session.add(
            PartyRow(
                party_id=body.name,
                roles=["FO"],
                legal_name=body.name,
                country="NL",
                identifiers={},
                jwks={"keys": []},
                created_at=utcnow(),
            )
        )
        await session.flush()
        if body.power_w == 13:
            raise Conflict("thirteen is taken", slug="probe-conflict")
        if body.power_w == 666:
            raise RuntimeError("secret internal detail")
        if body.power_w == 503:
            raise OperationalError("SELECT 1", {}, ConnectionRefusedError("db down"))
        return {"name": body.name}

    @app.get("/probe/count")
    async def count(session: DbSession) -> dict[str, int]:
        return {
            "n": (await session.execute(select(func.count()).select_from(PartyRow))).scalar_one()
        }

    return app


def _body(**changes: object) -> dict[str, object]:
    body: dict[str, object] = {
        "name": "fo-1",
        "power_w": 10,
        "window": {"start": "2026-01-01T00:00:00Z", "end": "2026-01-01T01:00:00Z"},
    }
    body.update(changes)
    return body


async def _count(http: httpx.AsyncClient) -> int:
    return int((await http.get("/probe/count")).json()["n"])


def _problem(response: httpx.Response) -> Problem:
    assert response.headers["content-type"] == "application/problem+json"
    problem = Problem.model_validate_json(response.content)
    assert problem.status == response.status_code
    assert problem.instance == f"urn:request:{response.headers['x-request-id']}"
    return problem


async def test_valid_request_commits(probe_app: FastAPI, http: httpx.AsyncClient) -> None:
    assert (await http.post("/probe/parties", json=_body())).status_code == 201
    assert await _count(http) == 1


@pytest.mark.parametrize(
    ("body", "pointers"),
    [
        (_body(unknown=1), ["/body/unknown"]),
        (_body(power_w="lots"), ["/body/power_w"]),
        (_body(power_w=-1), ["/body/power_w"]),
        (_body(name="x" * 21), ["/body/name"]),
        (
            _body(window={"start": "2026-01-01T01:00:00Z", "end": "2026-01-01T00:00:00Z"}),
            ["/body/window"],
        ),
        (
            _body(window={"start": "2026-01-01T00:00:00", "end": "2026-01-01T01:00:00Z"}),
            ["/body/window/start"],
        ),
        (_body(power_w=-1, unknown=2), ["/body/power_w", "/body/unknown"]),
    ],
)
async def test_invalid_body_is_422_naming_each_field(
    probe_app: FastAPI, http: httpx.AsyncClient, body: dict[str, object], pointers: list[str]
) -> None:
    response = await http.post("/probe/parties", json=body)
    assert response.status_code == 422
    problem = _problem(response)
    assert problem.slug == "validation-error"
    assert sorted(e.pointer for e in problem.errors or []) == pointers
    assert await _count(http) == 0


async def test_malformed_json_is_422(probe_app: FastAPI, http: httpx.AsyncClient) -> None:
    response = await http.post(
        "/probe/parties", content=b'{"name": "x",', headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert _problem(response).errors
    assert await _count(http) == 0


async def test_oversize_body_is_413_by_length(probe_app: FastAPI, http: httpx.AsyncClient) -> None:
    big = json.dumps(_body(name="x" * 2_000_000)).encode()
    response = await http.post(
        "/probe/parties", content=big, headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert _problem(response).slug == "payload-too-large"
    assert await _count(http) == 0


async def test_oversize_streamed_body_is_413(probe_app: FastAPI, http: httpx.AsyncClient) -> None:
    async def chunks():  # type: ignore[no-untyped-def]
        for _ in range(40):
            yield b" " * 65_536
        yield json.dumps(_body()).encode()

    response = await http.post(
        "/probe/parties", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert _problem(response).slug == "payload-too-large"
    assert await _count(http) == 0


async def test_domain_error_rolls_back(probe_app: FastAPI, http: httpx.AsyncClient) -> None:
    response = await http.post("/probe/parties", json=_body(power_w=13))
    assert response.status_code == 409
    problem = _problem(response)
    assert problem.slug == "probe-conflict"
    assert problem.detail == "thirteen is taken"
    assert await _count(http) == 0


async def test_unexpected_error_is_500_with_request_id_only(
    probe_app: FastAPI, http: httpx.AsyncClient
) -> None:
    response = await http.post("/probe/parties", json=_body(power_w=666))
    assert response.status_code == 500
    problem = _problem(response)
    assert problem.detail is None
    assert "secret" not in response.text
    assert await _count(http) == 0


async def test_database_outage_is_503_with_retry_after(
    probe_app: FastAPI, http: httpx.AsyncClient
) -> None:
    response = await http.post("/probe/parties", json=_body(power_w=503))
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"
    assert _problem(response).slug == "service-unavailable"


async def test_unknown_route_and_method(http: httpx.AsyncClient) -> None:
    assert _problem(await http.get("/nope")).slug == "not-found"
    assert _problem(await http.delete("/versions")).slug == "method-not-allowed"


async def test_method_not_allowed_lists_every_method_of_the_path(http: httpx.AsyncClient) -> None:
    # FastAPI makes one route per method; `Allow` must still name all of the path's methods.
    response = await http.request("OPTIONS", "/v1/enrolments/self")
    assert _problem(response).slug == "method-not-allowed"
    assert response.headers["allow"] == "DELETE, GET, PATCH"
    response = await http.delete("/v1/contracts/fsc-1")
    assert response.headers["allow"] == "GET, PATCH"


def test_json_pointer_escapes() -> None:
    assert json_pointer(("body", "a/b", "c~d", 0)) == "/body/a~1b/c~0d/0"
