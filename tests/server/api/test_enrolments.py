"""Enrolment (UC 3.1) at the HTTP edge: token rules, identity rules, rotation, revocation."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select, update

from fcsbe.client import AuthenticationError, ConflictError, UnprocessableEntityError
from fcsbe.model import Enrolment, Problem, generate_signing_key, public_jwk
from fcsbe.server.storage.base import utcnow
from fcsbe.server.storage.idempotency import IdempotencyKeyRow
from fcsbe.server.storage.parties import (
    CredentialRow,
    EnrolmentRow,
    EnrolmentTokenRow,
    PartyRow,
)
from tests.support.flows import PROVIDER, asgi_client, enrol_fo, init_server


def _slug(response: httpx.Response) -> str:
    return Problem.model_validate_json(response.content).slug


def _body(party_id: str = "NL-FLX", **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "party": {"party_id": party_id, "roles": ["FO"], "legal_name": "Flexa", "country": "NL"},
        "callback_base_url": "https://fo.example.com/fcsbe",
        "signing_key": public_jwk(generate_signing_key("fo-key-1")),
    }
    body.update(changes)
    return body


async def _token(http: httpx.AsyncClient, operator: str, **extra: Any) -> str:
    response = await http.post(
        "/admin/v1/enrolment-tokens",
        json={"fo_name": "Flexa", **extra},
        headers={"authorization": f"Bearer {operator}", "idempotency-key": str(uuid.uuid4())},
    )
    assert response.status_code == 201, response.text
    token: str = response.json()["token"]
    return token


async def _enrol(
    http: httpx.AsyncClient, token: str, body: dict[str, Any], key: str = "k1"
) -> httpx.Response:
    return await http.post(
        "/v1/enrolments",
        json=body,
        headers={"authorization": f"Bearer {token}", "idempotency-key": key},
    )


async def _count(app: FastAPI, table: type) -> int:
    """Rows of a table no route lists (parties, enrolment tokens)."""
    async with app.state.session_factory() as session:
        return int(await session.scalar(select(func.count()).select_from(table)) or 0)


async def _enrolments(app: FastAPI, operator: str) -> list[Enrolment]:
    """Every enrolment, whatever its status, as the operator lists them."""
    async with asgi_client(app, token=operator) as client:
        return await client.admin.list_enrolments().to_list()


async def test_enrolment_exchanges_the_token_once(app: FastAPI, http: httpx.AsyncClient) -> None:
    operator = await init_server(app)
    token = await _token(http, operator)
    body = _body()
    first = await _enrol(http, token, body)
    assert first.status_code == 201, first.text
    result = first.json()
    assert result["server_party"]["party_id"] == PROVIDER
    assert result["server_party"]["jwks"]["keys"][0]["crv"] == "Ed25519"
    assert result["enrolment"]["signing_key"]["kid"] == "fo-key-1"
    assert first.headers["location"] == "/v1/enrolments/self"
    access = result["access_token"]
    me = await http.get("/v1/enrolments/self", headers={"authorization": f"Bearer {access}"})
    assert me.json()["fo_party_id"] == "NL-FLX"
    assert me.json()["status"] == "ACTIVE"

    # A retry with the same key replays the same answer (the token is sealed at rest) ...
    replay = await _enrol(http, token, body)
    assert replay.status_code == 201
    assert replay.content == first.content
    async with app.state.session_factory() as session:  # what is at rest: no route shows it
        stored = (await session.execute(select(IdempotencyKeyRow))).scalars().all()
        hashes = (await session.execute(select(CredentialRow.token_hash))).scalars().all()
    assert all(access.encode() not in (row.response_body or b"") for row in stored)
    assert all(access not in h for h in hashes)
    # ... but a new attempt with the spent token is refused and changes nothing.
    again = await _enrol(http, token, _body("NL-OTHER"), key="k2")
    assert (again.status_code, _slug(again)) == (401, "enrolment-token-spent")
    assert len(await _enrolments(app, operator)) == 1


async def test_token_problems(app: FastAPI, http: httpx.AsyncClient) -> None:
    operator = await init_server(app)
    unknown = await _enrol(http, "fcsbe_et_not-a-token", _body())
    assert (unknown.status_code, _slug(unknown)) == (401, "enrolment-token-unknown")
    expired = await _token(http, operator)
    async with app.state.session_factory() as session:  # only time can expire a token
        await session.execute(
            update(EnrolmentTokenRow).values(expires_at=utcnow() - timedelta(seconds=1))
        )
        await session.commit()
    response = await _enrol(http, expired, _body())
    assert (response.status_code, _slug(response)) == (401, "enrolment-token-expired")
    missing_key = await http.post(
        "/v1/enrolments", json=_body(), headers={"authorization": f"Bearer {expired}"}
    )
    assert missing_key.status_code in (400, 401)
    assert await _enrolments(app, operator) == []


@pytest.mark.parametrize(
    ("changes", "status", "slug", "pointer"),
    [
        (
            {"party": {"party_id": "X", "roles": ["CSO"], "legal_name": "x", "country": "NL"}},
            422,
            "party-role-invalid",
            "/body/party/roles",
        ),
        (
            {"callback_base_url": "http://fo.example.com/x"},
            422,
            "callback-url-insecure",
            "/body/callback_base_url",
        ),
        (
            {"callback_base_url": "https://10.0.0.7/x"},
            422,
            "callback-url-forbidden-address",
            "/body/callback_base_url",
        ),
        (
            {"callback_base_url": "https://crm.internal/x"},
            422,
            "callback-url-forbidden-address",
            "/body/callback_base_url",
        ),
        (
            {"callback_base_url": "https://169.254.169.254/latest"},
            422,
            "callback-url-forbidden-address",
            "/body/callback_base_url",
        ),
        (
            {"callback_base_url": "https://nowhere.invalid/x"},
            422,
            "callback-url-unresolvable",
            "/body/callback_base_url",
        ),
        (
            {"signing_key": {"kty": "RSA", "n": "abc", "e": "AQAB", "kid": "r"}},
            422,
            "signing-key-unsupported",
            "/body/signing_key",
        ),
        (
            {"signing_key": {**public_jwk(generate_signing_key("k")), "use": "enc"}},
            422,
            "signing-key-unsupported",
            "/body/signing_key",
        ),
        (
            {"signing_key": {**public_jwk(generate_signing_key("k")), "d": "secret"}},
            422,
            "validation-error",
            "/body/signing_key",
        ),
    ],
)
async def test_bad_enrolments_change_nothing(
    app: FastAPI,
    http: httpx.AsyncClient,
    changes: dict[str, Any],
    status: int,
    slug: str,
    pointer: str,
) -> None:
    operator = await init_server(app)
    token = await _token(http, operator)
    response = await _enrol(http, token, _body(**changes))
    problem = Problem.model_validate_json(response.content)
    assert (response.status_code, problem.slug) == (status, slug), response.text
    assert problem.errors
    assert problem.errors[0].pointer.startswith(pointer)
    assert await _enrolments(app, operator) == []
    # The token was not spent: it still works once the request is fixed.
    assert (await _enrol(http, token, _body(), key="fixed")).status_code == 201


async def test_party_identity_rules(app: FastAPI, http: httpx.AsyncClient) -> None:
    operator = await init_server(app)
    server_id = await _enrol(http, await _token(http, operator), _body(PROVIDER))
    assert (server_id.status_code, _slug(server_id)) == (409, "party-id-taken")
    assert (await _enrol(http, await _token(http, operator), _body())).status_code == 201
    twice = await _enrol(http, await _token(http, operator), _body(), key="k2")
    assert (twice.status_code, _slug(twice)) == (409, "already-enrolled")
    bound = await _token(http, operator, party_id="NL-BOUND")
    mismatch = await _enrol(http, bound, _body("NL-OTHER"), key="k3")
    assert (mismatch.status_code, _slug(mismatch)) == (403, "enrolment-token-party-mismatch")


async def test_re_enrolment_needs_a_bound_token(app: FastAPI, http: httpx.AsyncClient) -> None:
    operator = await init_server(app)
    first = await _enrol(http, await _token(http, operator), _body())
    access = first.json()["access_token"]
    gone = await http.delete("/v1/enrolments/self", headers={"authorization": f"Bearer {access}"})
    assert gone.status_code == 204
    unbound = await _enrol(http, await _token(http, operator), _body(), key="k2")
    assert (unbound.status_code, _slug(unbound)) == (409, "party-id-taken")
    bound = await _token(http, operator, party_id="NL-FLX")
    assert (await _enrol(http, bound, _body(), key="k3")).status_code == 201
    statuses = sorted(e.status.value for e in await _enrolments(app, operator))
    assert statuses == ["ACTIVE", "REVOKED"]


async def test_concurrent_enrolments_with_one_token(app: FastAPI, backend: str) -> None:
    """Two enrolments racing with the same token: exactly one wins, on both backends."""
    operator = await init_server(app)
    async with asgi_client(app, token=operator) as op:
        issued = await op.admin.create_enrolment_token("Flexa")
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        responses = await asyncio.gather(
            *(_enrol(http, issued.token, _body(f"NL-R{i}"), key=f"race-{i}") for i in range(4))
        )
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(201) == 1, [r.text for r in responses]
    assert all(_slug(r) == "enrolment-token-spent" for r in responses if r.status_code != 201)
    assert len(await _enrolments(app, operator)) == 1
    assert await _count(app, PartyRow) == 2  # the server's and the winner's (no party list)


async def test_rotation_overlap_and_revocation(app: FastAPI) -> None:
    operator = await init_server(app)
    fo = await enrol_fo(app, operator, "NL-FLX")
    old = fo.token
    rotation = await fo.client.enrolments.rotate_credentials()
    assert fo.token == rotation.access_token != old
    overlap = app.state.settings.credential_rotation_overlap_s
    assert abs((rotation.previous_token_valid_until - utcnow()).total_seconds() - overlap) < 60
    async with asgi_client(app, token=old) as old_client:
        assert (await old_client.enrolments.get()).fo_party_id == "NL-FLX"  # overlap
        with pytest.raises(ConflictError, match=r"credential-superseded|newest"):
            await old_client.enrolments.rotate_credentials()
        async with app.state.session_factory() as session:  # only time ends the overlap
            await session.execute(
                update(CredentialRow)  # the old token's overlap ends (the new one lives on)
                .where(CredentialRow.expires_at < utcnow() + timedelta(days=30))
                .values(expires_at=utcnow() - timedelta(seconds=1))
            )
            await session.commit()
        with pytest.raises(AuthenticationError, match="expired"):
            await old_client.enrolments.get()
    await fo.client.enrolments.delete()
    with pytest.raises(AuthenticationError, match="revoked"):
        await fo.client.enrolments.get()
    await fo.client.aclose()


async def test_update_moves_callback_and_rotates_the_key(app: FastAPI) -> None:
    operator = await init_server(app)
    fo = await enrol_fo(app, operator, "NL-FLX")
    new_key = generate_signing_key("fo-key-2")
    updated = await fo.client.enrolments.update(
        callback_base_url="https://new.example.org/hooks", signing_key=public_jwk(new_key)
    )
    assert updated.callback_base_url == "https://new.example.org/hooks"
    assert updated.signing_key is not None
    assert updated.signing_key["kid"] == "fo-key-2"
    async with app.state.session_factory() as session:  # the API shows only the current key
        party = await session.get(PartyRow, "NL-FLX")
        enrolment = (await session.execute(select(EnrolmentRow))).scalar_one()
    assert party is not None
    assert [k["kid"] for k in party.jwks["keys"]] == ["fo-key-2", fo.key["kid"]]
    assert enrolment.previous_keys_valid_until is not None
    with pytest.raises(UnprocessableEntityError, match=r"forbidden|private"):
        await fo.client.enrolments.update(callback_base_url="https://192.168.1.10/x")
    await fo.client.aclose()


async def test_enrolment_token_request_validation(app: FastAPI, http: httpx.AsyncClient) -> None:
    operator = await init_server(app)
    auth = {"authorization": f"Bearer {operator}", "idempotency-key": "t"}
    bad_scope = await http.post(
        "/admin/v1/enrolment-tokens", json={"fo_name": "x", "scopes": ["root"]}, headers=auth
    )
    assert bad_scope.status_code == 422
    too_long = await http.post(
        "/admin/v1/enrolment-tokens", json={"fo_name": "x", "ttl_s": 10**9}, headers=auth
    )
    assert too_long.status_code == 422
    own = await http.post(
        "/admin/v1/enrolment-tokens", json={"fo_name": "x", "party_id": PROVIDER}, headers=auth
    )
    assert (own.status_code, _slug(own)) == (422, "party-id-taken")
    assert await _count(app, EnrolmentTokenRow) == 0  # no route lists enrolment tokens
