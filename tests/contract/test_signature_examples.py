"""The signature and key examples of the published OpenAPI document, checked against the server.

A third party writes its client from `openapi/fcsbe.json` and the docs alone, so the examples
must be what the server really does: every JWK example is a key the server accepts at enrolment
and that then verifies signatures; every JWS example decodes to the one format the server signs
and verifies (compact, detached, standard base64url payload, `{"alg": "Ed25519", "kid"}`), and
the signatures of example documents verify over those documents with the example keys. A
signature built by hand in the example's shape, with nothing but an Ed25519 primitive, as
docs/security.md describes, is accepted.
"""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI
from sqlalchemy import select

from fcsbe.model import (
    SIGNATURE_HEADER,
    Problem,
    canonical_json,
    usable_verification_key,
    verify_detached,
)
from fcsbe.server.storage.parties import EnrolmentRow
from fcsbe.server.storage.signatures import SeenJtiRow
from tests.support.example_keys import CSO_EXAMPLE_KEY, FO_EXAMPLE_KEY
from tests.support.flows import asgi_client, init_server

DOCUMENT = json.loads(
    (Path(__file__).resolve().parents[2] / "openapi" / "fcsbe.json").read_text(encoding="utf-8")
)
SCHEMAS: dict[str, Any] = DOCUMENT["components"]["schemas"]
_JWS = re.compile(r"^[A-Za-z0-9_-]+\.\.[A-Za-z0-9_-]+$")
EXAMPLE_KEYS = {key["kid"]: key for key in (FO_EXAMPLE_KEY, CSO_EXAMPLE_KEY)}
SIGNED_DOCUMENTS = {
    # schema: (signature member, members left out of the payload besides it)
    "FlexibilityServiceResponse": ("signature", ()),
    "SignedTreeHead": ("signature", ("key_id",)),
    "ProofOfWork": ("jws", ("validation",)),
}


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _walk(node: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    yield path, node
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _walk(value, f"{path}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _walk(value, f"{path}/{index}")


def _public(key: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in key.items() if k != "d"}


JWK_EXAMPLES = [
    (path, node)
    for path, node in _walk(DOCUMENT)
    if isinstance(node, dict) and node.get("kty") == "OKP" and "x" in node
]
JWS_EXAMPLES = [
    (path, node) for path, node in _walk(DOCUMENT) if isinstance(node, str) and _JWS.match(node)
]
ALG_EXAMPLES = [
    (path, node)
    for path, node in _walk(DOCUMENT)
    if re.search(r"/alg/examples/\d+$", path) or (path.endswith("/alg") and isinstance(node, str))
]


def test_the_document_has_examples_of_both_kinds() -> None:
    assert len(JWK_EXAMPLES) >= 5
    assert len(JWS_EXAMPLES) >= 6
    assert ALG_EXAMPLES


@pytest.mark.parametrize(("path", "alg"), ALG_EXAMPLES, ids=[p for p, _ in ALG_EXAMPLES])
def test_every_alg_example_is_the_one_algorithm(path: str, alg: str) -> None:
    assert alg == "Ed25519", path


@pytest.mark.parametrize(("path", "jwk"), JWK_EXAMPLES, ids=[p for p, _ in JWK_EXAMPLES])
def test_every_jwk_example_is_a_key_the_server_takes_as_is(path: str, jwk: dict[str, Any]) -> None:
    """Accepted unchanged (nothing to normalise), and the FO's and the server's example keys
    are the ones whose private halves sign the examples."""
    assert usable_verification_key(jwk) == jwk, path
    assert (jwk["alg"], jwk["use"]) == ("Ed25519", "sig"), path
    if jwk["kid"] in EXAMPLE_KEYS:
        assert jwk == {**_public(EXAMPLE_KEYS[jwk["kid"]]), "alg": "Ed25519", "use": "sig"}, path


@pytest.mark.parametrize(("path", "jws"), JWS_EXAMPLES, ids=[p for p, _ in JWS_EXAMPLES])
def test_every_jws_example_has_the_format_the_server_verifies(path: str, jws: str) -> None:
    protected, _, signature = jws.partition("..")
    header = json.loads(_unb64url(protected))
    assert set(header) == {"alg", "kid"}, f"{path}: {header} (no b64, no crit)"
    assert header["alg"] == "Ed25519", path
    assert header["kid"] in EXAMPLE_KEYS, path
    assert len(_unb64url(signature)) == 64, path


def _payload(document: dict[str, Any], member: str, left_out: tuple[str, ...]) -> dict[str, Any]:
    return {k: v for k, v in document.items() if k != member and k not in left_out}


@pytest.mark.parametrize("schema", sorted(SIGNED_DOCUMENTS))
def test_signed_document_examples_verify_with_the_example_server_key(schema: str) -> None:
    """Each example document's signature verifies over the document as shown (without its
    signature member), as a third party would check what it receives."""
    member, left_out = SIGNED_DOCUMENTS[schema]
    jwks = {"keys": SCHEMAS["VersionDetails"]["examples"][0]["jwks"]["keys"]}
    for example in SCHEMAS[schema]["examples"]:
        assert verify_detached(example[member], _payload(example, member, left_out), jwks)
        if schema == "ProofOfWork":
            head = example["tree_head"]
            assert verify_detached(
                head["signature"], _payload(head, "signature", ("key_id",)), jwks
            )


def test_the_fs_request_signature_example_is_the_example_fo_keys() -> None:
    request = SCHEMAS["FlexibilityServiceRequest"]
    (signature,) = request["properties"]["signature"]["examples"]
    example = request["examples"][0]
    assert verify_detached(signature, example, [_public(FO_EXAMPLE_KEY)]) == "fo-2026-01"


def _by_hand(
    header_example: str, private: dict[str, Any], method: str, path: str, body: Any
) -> str:
    """A request signature built as docs/security.md says, from an example's header shape."""
    header = json.loads(_unb64url(header_example.partition("..")[0]))
    header.update(
        kid=private["kid"],
        jti=_b64url(time.time_ns().to_bytes(12, "big")),
        iat=int(time.time()),
        htm=method,
        htu=path,
    )
    protected = _b64url(json.dumps(header, separators=(",", ":")).encode())
    signing_input = f"{protected}.{_b64url(canonical_json(body))}".encode()
    key = Ed25519PrivateKey.from_private_bytes(_unb64url(private["d"]))
    return f"{protected}..{_b64url(key.sign(signing_input))}"


@pytest.mark.parametrize("alg", ["Ed25519", "EdDSA", None])
async def test_the_example_key_enrols_and_an_example_shaped_signature_is_accepted(
    app: FastAPI, http: httpx.AsyncClient, alg: str | None
) -> None:
    """The enrolment example enrols as is; with `alg: EdDSA` (RFC 8037's name) or no `alg` the
    key is stored as `Ed25519`, and a signature made with it then verifies."""
    operator = await init_server(app, "NL-ABC")
    async with asgi_client(app, token=operator) as op:
        issued = await op.admin.create_enrolment_token("Flexa Aggregation B.V.")
    body = json.loads(json.dumps(SCHEMAS["EnrolmentRequest"]["examples"][0]))
    if alg is None:
        del body["signing_key"]["alg"]
    else:
        body["signing_key"]["alg"] = alg
    enrolled = await http.post(
        "/v1/enrolments",
        json=body,
        headers={"authorization": f"Bearer {issued.token}", "idempotency-key": "k-enrol"},
    )
    assert enrolled.status_code == 201, enrolled.text
    token = enrolled.json()["access_token"]

    path = "/v1/contract-holders/lookup"
    lookup = SCHEMAS["ContractHolderLookupRequest"]["examples"][0]
    shape = SCHEMAS["FlexibilityServiceRequest"]["properties"]["signature"]["examples"][0]
    signature = _by_hand(shape, FO_EXAMPLE_KEY, "POST", path, lookup)
    headers = {"authorization": f"Bearer {token}", SIGNATURE_HEADER: signature}
    answer = await http.post(path, json=lookup, headers=headers)
    assert answer.status_code != 401, answer.text
    async with app.state.session_factory() as session:
        seen = (await session.execute(select(SeenJtiRow.jti))).scalars().all()
        row = (await session.execute(select(EnrolmentRow))).scalar_one()
    assert len(seen) == 1  # the signature was checked and its id kept
    assert row.signing_key.get("alg", "Ed25519") == "Ed25519"
    assert enrolled.json()["enrolment"]["signing_key"] == row.signing_key

    changed = {**lookup, "at": "2026-03-02T17:05:01Z"}
    refused = await http.post(path, json=changed, headers=headers | {SIGNATURE_HEADER: signature})
    assert refused.status_code == 401
    assert Problem.model_validate_json(refused.content).slug == "signature-invalid"


@pytest.mark.parametrize(
    ("changes", "member"),
    [
        ({"alg": "RS256"}, "alg"),
        ({"use": "enc"}, "use"),
        ({"key_ops": ["sign"]}, "key_ops"),
        ({"kty": "RSA", "n": "sXch", "e": "AQAB"}, "kty"),
    ],
)
async def test_a_key_that_cannot_verify_is_refused_naming_the_member(
    app: FastAPI, http: httpx.AsyncClient, changes: dict[str, Any], member: str
) -> None:
    operator = await init_server(app, "NL-ABC")
    async with asgi_client(app, token=operator) as op:
        issued = await op.admin.create_enrolment_token("Flexa Aggregation B.V.")
    body = json.loads(json.dumps(SCHEMAS["EnrolmentRequest"]["examples"][0]))
    body["signing_key"].update(changes)
    answer = await http.post(
        "/v1/enrolments",
        json=body,
        headers={"authorization": f"Bearer {issued.token}", "idempotency-key": "k-enrol"},
    )
    assert answer.status_code == 422, answer.text
    problem = Problem.model_validate_json(answer.content)
    assert problem.slug == "signing-key-unsupported"
    assert [e.pointer for e in problem.errors or []] == [f"/body/signing_key/{member}"]
