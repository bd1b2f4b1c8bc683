"""Every 422 pointer resolves inside the JSON document the client sent (RFC 6901).

Pydantic locates errors by the model: it inserts the tag of a tagged union, and reports a model
validator's error at the model itself. A client can only act on a pointer into its own body, so
each bad request here is sent over HTTP and every pointer of the answer is resolved against the
body that was submitted.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from fcsbe.model import ContractProposal
from tests.support.factories import make_fo
from tests.support.fs_fixtures import request_body

Body = dict[str, Any]


def _resolve(document: Any, pointer: str, *, absent_ok: bool) -> Any:
    """The value `pointer` names in `document`; raises LookupError when it names nothing.

    With `absent_ok` (an error about a missing member) the last token may be absent, as long as
    its parent is an object of the document.
    """
    assert pointer.startswith("/body"), pointer
    tokens = [t.replace("~1", "/").replace("~0", "~") for t in pointer.split("/")[2:]]
    node = document
    for position, token in enumerate(tokens):
        last = position == len(tokens) - 1
        if isinstance(node, dict):
            if token not in node:
                if last and absent_ok:
                    return None
                raise LookupError(f"{pointer}: no member {token!r}")
            node = node[token]
        elif isinstance(node, list):
            if not token.isdigit() or int(token) >= len(node):
                raise LookupError(f"{pointer}: no item {token!r}")
            node = node[int(token)]
        else:
            raise LookupError(f"{pointer}: {token!r} below a scalar")
    return node


def _fs(change: Callable[[Body], None]) -> Body:
    body = request_body("fs-bad")
    change(body)
    return body


def _set(path: str, value: Any) -> Callable[[Body], None]:
    def change(body: Body) -> None:
        *parents, last = path.split(".")
        node = body
        for name in parents:
            node = node[name]
        node[last] = value

    return change


def _duplicate_target(body: Body) -> None:
    body["targets"] = [
        {"level": "SITE", "id": "s1"},
        {"level": "SITE", "id": "s2"},
        {"level": "SITE", "id": "s3"},
        {"level": "SITE", "id": "s1"},
    ]


def _drop_tag(body: Body) -> None:
    del body["parameters"]["fs_type"]


def _late_periods(body: Body) -> None:
    body["parameters"]["periods"] = [{"start_offset_s": 86_000, "p_w": 1.0}]


def _late_deadline(body: Body) -> None:
    body["response_deadline"] = body["window"]["end"]


def _contract_with_twice_one_commitment() -> Body:
    example = ContractProposal.model_config["json_schema_extra"]["examples"][0]  # type: ignore[index]
    body: Body = copy.deepcopy(example)
    body["commitments"] = [body["commitments"][0], body["commitments"][0]]
    return body


CASES: list[tuple[str, str, Body, str]] = [
    (
        "tagged union member",
        "/v1/flexibility-services",
        _fs(_set("parameters.resolution_s", 0)),
        "/body/parameters/resolution_s",
    ),
    (
        "unknown member in a tagged union",
        "/v1/flexibility-services",
        _fs(_set("parameters.bogus", 1)),
        "/body/parameters/bogus",
    ),
    (
        "unknown union tag",
        "/v1/flexibility-services",
        _fs(_set("parameters.fs_type", "NOPE")),
        "/body/parameters/fs_type",
    ),
    ("missing union tag", "/v1/flexibility-services", _fs(_drop_tag), "/body/parameters/fs_type"),
    (
        "duplicate target",
        "/v1/flexibility-services",
        _fs(_duplicate_target),
        "/body/targets/3",
    ),
    (
        "fs_type differs from the parameters'",
        "/v1/flexibility-services",
        _fs(_set("fs_type", "RESERVE")),
        "/body/fs_type",
    ),
    ("periods past the window", "/v1/flexibility-services", _fs(_late_periods), "/body/parameters"),
    (
        "deadline after the window",
        "/v1/flexibility-services",
        _fs(_late_deadline),
        "/body/response_deadline",
    ),
    (
        "duplicate commitment",
        "/v1/contracts",
        _contract_with_twice_one_commitment(),
        "/body/commitments/1/fs_type",
    ),
]


@pytest.mark.parametrize(("name", "path", "body", "expected"), CASES, ids=[c[0] for c in CASES])
async def test_every_422_pointer_resolves_in_the_submitted_body(
    app: FastAPI, http: httpx.AsyncClient, name: str, path: str, body: Body, expected: str
) -> None:
    token = await make_fo(app.state.session_factory, "FO-A")
    headers = {"authorization": f"Bearer {token}", "idempotency-key": f"k-{name}"}
    response = await http.post(path, json=body, headers=headers)
    assert response.status_code == 422, response.text
    errors = response.json()["errors"]
    assert errors
    for error in errors:
        absent = error["code"] in {"missing", "union_tag_not_found"}
        _resolve(body, error["pointer"], absent_ok=absent)
    assert expected in [e["pointer"] for e in errors]


async def test_a_field_validators_duplicate_points_at_the_second_occurrence(
    app: FastAPI, http: httpx.AsyncClient
) -> None:
    token = await make_fo(app.state.session_factory, "FO-A")
    body = {
        "callback_base_url": "https://fo.example.com/fcsbe",
        "signature_schemes": ["v1a", "v1a"],
    }
    response = await http.put(
        "/v1/webhook-endpoint",
        json=body,
        headers={"authorization": f"Bearer {token}", "idempotency-key": "k-1"},
    )
    assert response.status_code == 422
    assert [e["pointer"] for e in response.json()["errors"]] == ["/body/signature_schemes/1"]
