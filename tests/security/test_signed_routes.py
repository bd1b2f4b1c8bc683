"""The OpenAPI document declares `X-Fcsbe-Signature` on exactly the routes that verify it.

Every served route is called by its allowed caller, as in the authorisation matrix, with a
malformed signature header. A route that verifies signatures refuses it (401 `signature-*`);
any other route ignores the header and answers as usual. The set of refusing routes must equal
the operations that declare the header, and each of those must name the signature problems on
its 401.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
from fastapi import FastAPI

from fcsbe.cli import render_openapi
from fcsbe.model import SIGNATURE_HEADER, Problem, problem_type
from tests.security.matrix import ROWS, Row, Who, World
from tests.security.test_authorisation_matrix import _world

_CALLER = {
    Who.FO: "fo_a",
    Who.FO_OR_OPERATOR: "fo_a",
    Who.OPERATOR: "operator",
    Who.EV_USER: "ev_user",
    Who.PUBLIC: "anonymous",
}
BAD_SIGNATURE = "bm90LWEtandz..c2lnbmF0dXJl"
SIGNATURE_PROBLEMS = (
    "signature-required",
    "signature-invalid",
    "signature-stale",
    "signature-replayed",
)


def _declared(document: dict[str, Any]) -> set[str]:
    """`METHOD /path` of the operations that declare the signature header."""
    return {
        f"{method.upper()} {path}"
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if any(
            (p["in"], p["name"]) == ("header", SIGNATURE_HEADER)
            for p in operation.get("parameters", [])
        )
    }


def _last(row: Row) -> bool:
    """Calls that end FO A's enrolment or credentials go last, so the others still reach
    their handlers."""
    ends = row.method == "DELETE" or row.path.endswith(("/revoke", "/credentials"))
    return "enrolment" in row.path and ends


async def _call(http: httpx.AsyncClient, row: Row, world: World) -> httpx.Response:
    headers = {"idempotency-key": str(uuid.uuid4()), SIGNATURE_HEADER: BAD_SIGNATURE}
    if row.who is Who.ENROLMENT_TOKEN:
        token: str | None = world.enrolment_token
    elif row.who is Who.EV_USER_INVITE:
        token = world.ev_invite
    else:
        token = world.tokens.get(_CALLER[row.who])
    if token:
        headers["authorization"] = f"Bearer {token}"
    return await http.request(
        row.method,
        row.path.format(**world.ids),
        json=row.body(world),
        params=dict(row.query),
        headers=headers,
    )


async def test_the_header_is_declared_exactly_where_it_is_verified(
    app: FastAPI, http: httpx.AsyncClient
) -> None:
    world = await _world(app)
    document = json.loads(render_openapi())
    declared = _declared(document)
    verifying = set()
    for row in sorted(ROWS, key=_last):
        response = await _call(http, row, world)
        slug = (
            Problem.model_validate_json(response.content).slug
            if response.headers.get("content-type", "").startswith("application/problem+json")
            else ""
        )
        if slug.startswith("signature-"):
            assert (response.status_code, slug) == (401, "signature-invalid"), row.key
            verifying.add(row.key)
        else:
            # Authorised as usual: the call reached the route, so its silence means something.
            assert response.status_code < 500, (row.key, response.text)
            assert response.status_code not in (401, 403), (row.key, response.text)
    assert verifying, "no route verifies signatures"
    assert declared == verifying, {
        "declared, not verified": declared - verifying,
        "verified, not declared": verifying - declared,
    }
    types = [problem_type(slug) for slug in SIGNATURE_PROBLEMS]
    for key in declared:
        method, path = key.split(" ", 1)
        unauthorized = document["paths"][path][method.lower()]["responses"]["401"]
        assert unauthorized["x-problem-types"] == types, key
        assert all(f"`{slug}`" in unauthorized["description"] for slug in SIGNATURE_PROBLEMS)
