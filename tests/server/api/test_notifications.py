"""Notification routes over HTTP: the FO feed, tenancy, and the operator's delivery views."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from fcsbe.server.notifications.sequencer import assign_sequence
from tests.support.factories import make_fo, make_operator
from tests.support.webhooks import enqueue


async def _sequence(app: FastAPI) -> None:
    async with app.state.session_factory() as session:
        await assign_sequence(session)
        await session.commit()


def _auth(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


async def test_feed_pages_in_seq_order_with_link_and_after_seq(
    app: FastAPI, http: httpx.AsyncClient
) -> None:
    token = await make_fo(app.state.session_factory, "FO-A")
    ids = await enqueue(app.state.session_factory, "FO-A", 5)
    await _sequence(app)
    first = await http.get("/v1/notifications", params={"limit": 3}, headers=_auth(token))
    assert first.status_code == 200
    page = first.json()
    assert [n["seq"] for n in page["items"]] == [1, 2, 3]
    assert [n["notification_id"] for n in page["items"]] == ids[:3]
    assert 'rel="next"' in first.headers["link"]
    second = await http.get(
        "/v1/notifications",
        params={"limit": 3, "cursor": page["next_cursor"]},
        headers=_auth(token),
    )
    assert [n["seq"] for n in second.json()["items"]] == [4, 5]
    assert second.json()["next_cursor"] is None
    resumed = await http.get("/v1/notifications", params={"after_seq": 4}, headers=_auth(token))
    assert [n["notification_id"] for n in resumed.json()["items"]] == ids[4:]


async def test_feed_is_per_fo(app: FastAPI, http: httpx.AsyncClient) -> None:
    token_a = await make_fo(app.state.session_factory, "FO-A")
    await make_fo(app.state.session_factory, "FO-B")
    await enqueue(app.state.session_factory, "FO-B", 2)
    await _sequence(app)
    response = await http.get("/v1/notifications", headers=_auth(token_a))
    assert response.json()["items"] == []


async def test_feed_refuses_bad_input_and_wrong_roles(
    app: FastAPI, http: httpx.AsyncClient
) -> None:
    token = await make_fo(app.state.session_factory, "FO-A")
    operator = await make_operator(app.state.session_factory)
    bad = await http.get("/v1/notifications", params={"cursor": "!!"}, headers=_auth(token))
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["pointer"] == "/query/cursor"
    not_int = await http.get(
        "/v1/notifications", params={"cursor": "InRleHQi"}, headers=_auth(token)
    )
    assert not_int.status_code == 422
    negative = await http.get("/v1/notifications", params={"after_seq": -1}, headers=_auth(token))
    assert negative.status_code == 422
    assert (await http.get("/v1/notifications")).status_code == 401
    assert (await http.get("/v1/notifications", headers=_auth(operator))).status_code == 403
    admin = await http.get("/admin/v1/notifications", headers=_auth(token))
    assert admin.status_code == 403


async def test_operator_lists_attempts_and_redelivers(
    app: FastAPI, http: httpx.AsyncClient
) -> None:
    await make_fo(app.state.session_factory, "FO-A")
    operator = _auth(await make_operator(app.state.session_factory))
    ids = await enqueue(app.state.session_factory, "FO-A", 3)
    await _sequence(app)
    listed = await http.get("/admin/v1/notifications", params={"limit": 2}, headers=operator)
    assert listed.status_code == 200
    assert [r["notification_id"] for r in listed.json()["items"]] == ids[:2]
    assert listed.json()["items"][0]["status"] == "PENDING"
    rest = await http.get(
        "/admin/v1/notifications",
        params={"limit": 2, "cursor": listed.json()["next_cursor"]},
        headers=operator,
    )
    assert [r["notification_id"] for r in rest.json()["items"]] == ids[2:]
    dead = await http.get("/admin/v1/notifications", params={"status": "DEAD"}, headers=operator)
    assert dead.json()["items"] == []
    attempts = await http.get(f"/admin/v1/notifications/{ids[0]}/attempts", headers=operator)
    assert attempts.status_code == 200
    assert attempts.json()["items"] == []
    missing = await http.get("/admin/v1/notifications/nope/attempts", headers=operator)
    assert missing.status_code == 404
    assert missing.json()["type"].endswith("/notification-not-found")
    redeliver = await http.post(
        "/admin/v1/notifications/redeliver",
        json={"notification_ids": ids[:2]},
        headers={**operator, "idempotency-key": "r-1"},
    )
    assert redeliver.status_code == 200
    assert redeliver.json() == {"count": 2}


async def test_redelivery_selection_is_validated(app: FastAPI, http: httpx.AsyncClient) -> None:
    operator = {
        **_auth(await make_operator(app.state.session_factory)),
        "idempotency-key": "k",
    }
    empty = await http.post("/admin/v1/notifications/redeliver", json={}, headers=operator)
    assert empty.status_code == 422
    assert empty.json()["errors"][0]["pointer"] == "/body/notification_ids"
    delivered = await http.post(
        "/admin/v1/notifications/redeliver",
        json={"status": "DELIVERED"},
        headers={**operator, "idempotency-key": "k2"},
    )
    assert delivered.status_code == 422
    assert delivered.json()["errors"][0]["pointer"] == "/body/status"
    unknown = await http.post(
        "/admin/v1/notifications/redeliver",
        json={"status": "DEAD", "extra": 1},
        headers={**operator, "idempotency-key": "k3"},
    )
    assert unknown.status_code == 422


async def test_feed_ends_on_a_full_page(app: FastAPI, http: httpx.AsyncClient) -> None:
    """The feed reads one notification more than it serves: a full last page has no cursor."""
    token = await make_fo(app.state.session_factory, "FO-A")
    await enqueue(app.state.session_factory, "FO-A", 4)
    await _sequence(app)
    first = await http.get("/v1/notifications", params={"limit": 2}, headers=_auth(token))
    cursor = first.json()["next_cursor"]
    second = await http.get(
        "/v1/notifications", params={"limit": 2, "cursor": cursor}, headers=_auth(token)
    )
    assert [n["seq"] for n in second.json()["items"]] == [3, 4]
    assert second.json()["next_cursor"] is None
    assert "link" not in second.headers
