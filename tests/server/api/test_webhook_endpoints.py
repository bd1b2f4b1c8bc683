"""The FO's webhook endpoint over HTTP: register, refuse unsafe URLs, read, rotate, re-enable."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from fcsbe.server.services.enrolments.webhook_endpoints import disable_endpoint
from fcsbe.server.storage.base import utcnow
from fcsbe.server.storage.webhook_endpoints import WebhookEndpointRow
from tests.support.factories import make_fo


def _headers(token: str, key: str = "k-1") -> dict[str, str]:
    return {"authorization": f"Bearer {token}", "idempotency-key": key}


async def test_register_read_rotate(app: FastAPI, http: httpx.AsyncClient) -> None:
    token = await make_fo(app.state.session_factory, "FO-A")
    missing = await http.get("/v1/webhook-endpoint", headers=_headers(token))
    assert missing.status_code == 404
    created = await http.put(
        "/v1/webhook-endpoint",
        json={"callback_base_url": "https://fo.example.com/fcsbe/"},
        headers=_headers(token),
    )
    assert created.status_code == 200
    body = created.json()
    assert body["url"] == "https://fo.example.com/fcsbe/notifications"
    assert body["status"] == "ACTIVE"
    assert body["secret"].startswith("whsec_")
    read = (await http.get("/v1/webhook-endpoint", headers=_headers(token))).json()
    assert "secret" not in read or read["secret"] is None
    rotated = await http.post("/v1/webhook-endpoint/secret", headers=_headers(token, "k-2"))
    assert rotated.status_code == 200
    assert rotated.json()["secret"] not in {None, body["secret"]}
    assert rotated.json()["previous_secret_valid_until"] is not None
    replay = await http.post("/v1/webhook-endpoint/secret", headers=_headers(token, "k-2"))
    assert replay.json()["secret"] == rotated.json()["secret"]
    updated = await http.put(
        "/v1/webhook-endpoint",
        json={"callback_base_url": "https://fo2.example.com"},
        headers=_headers(token, "k-3"),
    )
    assert updated.json()["secret"] is None
    assert updated.json()["url"] == "https://fo2.example.com/notifications"


async def test_unsafe_callback_urls_are_refused_with_the_field(
    app: FastAPI, http: httpx.AsyncClient
) -> None:
    token = await make_fo(app.state.session_factory, "FO-A")
    for index, url in enumerate(
        [
            "http://fo.example.com",
            "https://127.0.0.1/x",
            "https://10.1.2.3",
            "https://169.254.169.254/latest",
            "https://[::1]/",
            "https://[::ffff:192.168.1.1]/",
            "https://user:pw@fo.example.com",
            "https://localhost:8443",
            "https://printer.local",
            "ftp://fo.example.com",
        ]
    ):
        response = await http.put(
            "/v1/webhook-endpoint",
            json={"callback_base_url": url},
            headers=_headers(token, f"bad-{index}"),
        )
        assert response.status_code == 422, url
        assert response.json()["errors"][0]["pointer"] == "/body/callback_base_url", url
    after = await http.get("/v1/webhook-endpoint", headers=_headers(token))
    assert after.status_code == 404, "nothing half-written"


async def test_putting_the_url_again_re_enables_a_disabled_endpoint(
    app: FastAPI, http: httpx.AsyncClient
) -> None:
    token = await make_fo(app.state.session_factory, "FO-A")
    body = {"callback_base_url": "https://fo.example.com"}
    await http.put("/v1/webhook-endpoint", json=body, headers=_headers(token))
    async with app.state.session_factory() as session:  # as the delivery worker does on a 410
        row = await session.get(WebhookEndpointRow, "FO-A")
        assert row is not None
        disable_endpoint(row, "the receiver answered 410 Gone", utcnow())
        await session.commit()
    disabled = (await http.get("/v1/webhook-endpoint", headers=_headers(token))).json()
    assert disabled["status"] == "DISABLED"
    assert "410" in disabled["disabled_reason"]
    again = await http.put("/v1/webhook-endpoint", json=body, headers=_headers(token, "k-2"))
    assert again.json()["status"] == "ACTIVE"
    assert again.json()["disabled_reason"] is None


async def test_the_fo_chooses_ed25519_hmac_or_both(app: FastAPI, http: httpx.AsyncClient) -> None:
    token = await make_fo(app.state.session_factory, "FO-A")
    published = (await http.get("/v1")).json()["webhook_public_key"]
    assert published.startswith("whpk_")
    created = await http.put(
        "/v1/webhook-endpoint",
        json={"callback_base_url": "https://fo.example.com", "signature_schemes": ["v1a"]},
        headers=_headers(token),
    )
    assert created.status_code == 200
    body = created.json()
    assert body["signature_schemes"] == ["v1a"]
    assert body["secret"] is None  # nothing shared with v1a
    assert body["public_key"] == published
    same = await http.put(
        "/v1/webhook-endpoint",
        json={"callback_base_url": "https://fo.example.com"},
        headers=_headers(token, "k-2"),
    )
    assert same.json()["signature_schemes"] == ["v1a"]  # omitted: unchanged
    both = await http.put(
        "/v1/webhook-endpoint",
        json={"callback_base_url": "https://fo.example.com", "signature_schemes": ["v1", "v1a"]},
        headers=_headers(token, "k-3"),
    )
    assert both.json()["secret"].startswith("whsec_")  # v1 added: a fresh secret, shown once
    assert both.json()["signature_schemes"] == ["v1", "v1a"]
    hmac_only = await http.put(
        "/v1/webhook-endpoint",
        json={"callback_base_url": "https://fo.example.com", "signature_schemes": ["v1"]},
        headers=_headers(token, "k-4"),
    )
    assert hmac_only.json()["secret"] is None
    assert hmac_only.json()["public_key"] is None


async def test_signature_schemes_are_validated_with_the_field(
    app: FastAPI, http: httpx.AsyncClient
) -> None:
    token = await make_fo(app.state.session_factory, "FO-A")
    for schemes, index in ((["v2"], "/0"), (["v1", "v1"], "/1"), ([], "")):
        answer = await http.put(
            "/v1/webhook-endpoint",
            json={"callback_base_url": "https://fo.example.com", "signature_schemes": schemes},
            headers=_headers(token, f"k-{schemes}"),
        )
        assert answer.status_code == 422, schemes
        pointers = [e["pointer"] for e in answer.json()["errors"]]
        assert pointers == [f"/body/signature_schemes{index}"], pointers
    after = await http.get("/v1/webhook-endpoint", headers=_headers(token))
    assert after.status_code == 404, "nothing half-written"
