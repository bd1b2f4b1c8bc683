"""Signed requests (S5): unsigned, tampered, stale, misdirected or replayed requests are refused
when the contract requires signatures, and each refusal is a security event."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, update

from fcsbe.model import (
    SIGNATURE_HEADER,
    ContractDecisionKind,
    Problem,
    generate_signing_key,
    public_jwk,
    sign_request,
)
from fcsbe.server.storage.base import utcnow
from fcsbe.server.storage.event_log import EventLogRow
from fcsbe.server.storage.notifications import OutboxRow
from fcsbe.server.storage.parties import EnrolmentRow
from fcsbe.server.storage.signatures import SeenJtiRow, delete_expired_jtis
from tests.support.flows import Fo, asgi_client, enrol_fo, init_server, proposal
from tests.support.registry_fixtures import EVSE_DC, add_registry

PATH = "/v1/credential-checks"


def _check_body(fsc_id: str = "fsc-signed") -> dict[str, Any]:
    start = utcnow().replace(microsecond=0) + timedelta(hours=1)
    return {
        "fsc_id": fsc_id,
        "fs_type": "SETPOINT",
        "targets": [{"level": "EVSE", "id": EVSE_DC}],
        "window": {
            "start": start.isoformat(),
            "end": (start + timedelta(hours=1)).isoformat(),
        },
    }


@pytest.fixture
async def fo(app: FastAPI) -> Fo:
    operator = await init_server(app)
    await add_registry(app.state.session_factory)
    fo = await enrol_fo(app, operator, "NL-FLX")
    targets = [{"level": "EVSE", "id": EVSE_DC}]
    await fo.client.contracts.propose(proposal("fsc-signed", targets, signature_required=True))
    await fo.client.contracts.propose(
        proposal("fsc-plain", targets, fs_types=("CONGESTION",), signature_required=False)
    )
    async with asgi_client(app, token=operator) as op:
        await op.admin.decide_contract("fsc-signed", ContractDecisionKind.ACCEPT)
        await op.admin.decide_contract("fsc-plain", ContractDecisionKind.ACCEPT)
    return fo


async def _post(
    http: httpx.AsyncClient,
    fo: Fo,
    body: dict[str, Any],
    signature: str | None,
    path: str = PATH,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    headers = {
        "authorization": f"Bearer {fo.token}",
        "content-type": "application/json",
        **(headers or {}),
    }
    if signature is not None:
        headers[SIGNATURE_HEADER] = signature
    return await http.post(path, content=json.dumps(body), headers=headers)


def _slug(response: httpx.Response) -> str:
    return Problem.model_validate_json(response.content).slug


async def test_signed_requests_pass_and_bad_ones_are_refused(
    app: FastAPI, http: httpx.AsyncClient, fo: Fo
) -> None:
    body = _check_body()
    # The client signs for you.
    assert (await fo.client.credential_checks.check(**_model_args(body))).contract_ok

    cases: list[tuple[str | None, dict[str, Any], str]] = [
        (None, body, "signature-required"),
        (
            sign_request("POST", PATH, {**body, "fs_type": "DROOP"}, fo.key),
            body,
            "signature-invalid",
        ),
        (
            sign_request("POST", PATH, body, fo.key, issued_at=int(time.time()) - 400),
            body,
            "signature-stale",
        ),
        (
            sign_request("POST", PATH, body, fo.key, issued_at=int(time.time()) + 400),
            body,
            "signature-stale",
        ),
        (sign_request("POST", "/v1/contracts", body, fo.key), body, "signature-invalid"),
        (sign_request("PUT", PATH, body, fo.key), body, "signature-invalid"),
        (
            sign_request("POST", PATH, body, generate_signing_key("intruder")),
            body,
            "signature-invalid",
        ),
        (sign_request("POST", PATH, body, fo.key, jti="short"), body, "signature-invalid"),
        ("not-a-jws", body, "signature-invalid"),
    ]
    for signature, sent, slug in cases:
        response = await _post(http, fo, sent, signature)
        assert (response.status_code, _slug(response)) == (401, slug), (signature, response.text)

    # Replays are refused, also of a request that was refused for another reason.
    signature = sign_request("POST", PATH, body, fo.key)
    assert (await _post(http, fo, body, signature)).status_code == 200
    replay = await _post(http, fo, body, signature)
    assert (replay.status_code, _slug(replay)) == (401, "signature-replayed")
    unknown = _check_body("no-such-contract")
    signed_unknown = sign_request("POST", PATH, unknown, fo.key)
    assert (await _post(http, fo, unknown, signed_unknown)).status_code == 404
    assert _slug(await _post(http, fo, unknown, signed_unknown)) == "signature-replayed"

    # Without a contract that requires it, an unsigned request passes, a bad signature not.
    plain = {**_check_body("fsc-plain"), "fs_type": "CONGESTION"}
    assert (await _post(http, fo, plain, None)).status_code == 200
    tampered = sign_request("POST", PATH, {**plain, "fs_type": "SETPOINT"}, fo.key)
    assert _slug(await _post(http, fo, plain, tampered)) == "signature-invalid"

    async with app.state.session_factory() as session:
        events = (await session.execute(select(EventLogRow))).scalars().all()
        notes = (await session.execute(select(OutboxRow))).scalars().all()
    kinds = {e.type for e in events if e.type.startswith("SECURITY_")}
    assert kinds == {
        "SECURITY_SIGNATURE_MISSING",
        "SECURITY_SIGNATURE_INVALID",
        "SECURITY_SIGNATURE_STALE",
        "SECURITY_SIGNATURE_REPLAYED",
    }
    # Throttled: one entry per party and kind per minute, however many refusals.
    assert sum(1 for e in events if e.type == "SECURITY_SIGNATURE_INVALID") == 1
    security = [n.payload["data"] for n in notes if n.type == "SECURITY_EVENT"]
    assert {d["kind"] for d in security} == {k.removeprefix("SECURITY_") for k in kinds}
    assert all(e.party_id == "NL-FLX" for e in events if e.type.startswith("SECURITY_"))
    await fo.client.aclose()


def _model_args(body: dict[str, Any]) -> dict[str, Any]:
    from fcsbe.model import CredentialCheckRequest

    request = CredentialCheckRequest.model_validate(body)
    return {
        "fsc_id": request.fsc_id,
        "fs_type": request.fs_type,
        "targets": request.targets,
        "window": request.window,
    }


async def test_same_signature_racing(app: FastAPI, fo: Fo) -> None:
    """Two requests carrying one signature at the same moment: one passes, on both backends."""
    body = _check_body()
    signature = sign_request("POST", PATH, body, fo.key)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        responses = await asyncio.gather(*(_post(http, fo, body, signature) for _ in range(4)))
    assert sorted(r.status_code for r in responses) == [200, 401, 401, 401]
    await fo.client.aclose()


async def test_key_rotation_keeps_the_old_key_for_the_overlap(
    app: FastAPI, http: httpx.AsyncClient, fo: Fo
) -> None:
    old_key = fo.key
    new_key = generate_signing_key("fo-key-2")
    await fo.client.enrolments.update(signing_key=public_jwk(new_key))
    body = _check_body()
    assert (
        await _post(http, fo, body, sign_request("POST", PATH, body, new_key))
    ).status_code == 200
    assert (
        await _post(http, fo, body, sign_request("POST", PATH, body, old_key))
    ).status_code == 200
    async with app.state.session_factory() as session:
        await session.execute(
            update(EnrolmentRow).values(previous_keys_valid_until=utcnow() - timedelta(seconds=1))
        )
        await session.commit()
    expired = await _post(http, fo, body, sign_request("POST", PATH, body, old_key))
    assert (expired.status_code, _slug(expired)) == (401, "signature-invalid")
    await fo.client.aclose()


async def test_replay_store_forgets_what_cannot_be_replayed(app: FastAPI, fo: Fo) -> None:
    await fo.client.credential_checks.check(**_model_args(_check_body()))
    async with app.state.session_factory() as session:
        seen = (await session.execute(select(SeenJtiRow))).scalars().all()
        assert len(seen) >= 3  # the two proposals and the check were signed by the client
        assert {row.party_id for row in seen} == {"NL-FLX"}
        first = min(row.expires_at for row in seen)
        last = max(row.expires_at for row in seen)
        assert await delete_expired_jtis(session, first - timedelta(seconds=1)) == 0
        assert await delete_expired_jtis(session, last) == len(seen)
        await session.commit()
    await fo.client.aclose()


async def test_fs_requests_under_a_signing_contract(app: FastAPI, fo: Fo) -> None:
    """FS requests, supersessions and cancellations follow the contract's signature rule."""
    from fcsbe.client import AuthenticationError
    from fcsbe.model import FlexibilityServiceRequest
    from tests.support.fs_fixtures import request_body

    request = FlexibilityServiceRequest.model_validate(
        request_body("fs-1", fsc_id="fsc-signed", targets=[("EVSE", EVSE_DC)])
    )
    accepted = await fo.client.flexibility_services.create(request)  # signed by the client
    assert accepted.fs_id == "fs-1"
    async with asgi_client(app, token=fo.token) as unsigned:
        with pytest.raises(AuthenticationError) as missing:
            await unsigned.flexibility_services.create(request.model_copy(update={"fs_id": "fs-2"}))
        assert missing.value.problem.slug == "signature-required"
        with pytest.raises(AuthenticationError) as cancel:
            await unsigned.flexibility_services.cancel("fs-1", "no signature")
        assert cancel.value.problem.slug == "signature-required"
    assert (
        await fo.client.flexibility_services.cancel("fs-1", "signed")
    ).state.value == "CANCELLED"
    await fo.client.aclose()


async def test_a_body_signature_is_verified(app: FastAPI, fo: Fo) -> None:
    """`FlexibilityServiceRequest.signature` is checked with the FO's key when present: a good
    one is accepted and kept with the request, a forged one is a 401 and writes no FS."""
    from fcsbe.client import NotFoundError
    from fcsbe.model import sign_detached
    from tests.support.fs_fixtures import request_body

    path = "/v1/flexibility-services"
    body = request_body("fs-body-ok", fsc_id="fsc-signed", targets=[("EVSE", EVSE_DC)])
    signed = {**body, "signature": sign_detached(body, fo.key)}

    async def post(document: dict[str, Any], key: str) -> httpx.Response:
        header = sign_request("POST", path, document, fo.key)  # the contract requires it
        return await _post(http, fo, document, header, path=path, headers={"idempotency-key": key})

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://fcsbe.test"
    ) as http:
        ok = await post(signed, "k-1")
        assert ok.status_code == 202, ok.text
        stored = await fo.client.flexibility_services.get("fs-body-ok")
        assert stored.request.signature == signed["signature"]

        forged_body = {**body, "fs_id": "fs-body-forged"}
        forged = {**forged_body, "signature": sign_detached(forged_body, generate_signing_key())}
        refused = await post(forged, "k-2")
        assert refused.status_code == 401
        assert _slug(refused) == "signature-invalid"
        # A signature made over another body (here: the first one) does not verify either.
        refused = await post({**forged_body, "signature": signed["signature"]}, "k-3")
        assert (refused.status_code, _slug(refused)) == (401, "signature-invalid")
    with pytest.raises(NotFoundError):
        await fo.client.flexibility_services.get("fs-body-forged")
    await fo.client.aclose()
