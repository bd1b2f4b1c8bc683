"""EV users (UC 3.6): personal links, tokens, consent and limits, isolation, erasure.

Bad input changes nothing: a reused or expired link is 410 `invite-gone`, an unknown one 401;
limits outside physical bounds are 422 naming the field; an EV user reaches only their own data
and none of the FO or operator routes.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from fcsbe.client import FcsbeClient
from fcsbe.client.errors import FcsbeStatusError
from fcsbe.model import EvUserConsentLevel, EvUserLimits
from fcsbe.server.security.pseudonyms import Pseudonymizer
from fcsbe.server.services.ev_users import access as ev_user_access
from fcsbe.server.storage.base import utcnow
from fcsbe.server.storage.ev_users import EvUserInviteRow, EvUserKeyRow, EvUserRow
from fcsbe.server.storage.parties import CredentialRow
from tests.support.flows import asgi_client, init_server


async def _invite(app: FastAPI, identifier: str, *, ttl_s: int = 600, ago_s: int = 0) -> str:
    async with app.state.session_factory() as db:
        link, _ = await ev_user_access.invite(
            db,
            identifier,
            expires_in_s=ttl_s,
            base_url="https://cso.example",
            pseudonyms=app.state.stations.pseudonyms,
            now=utcnow() - timedelta(seconds=ago_s),
        )
        await db.commit()
    return link.invite_url.split("#invite=", 1)[1]


async def _count(app: FastAPI, model: Any) -> int:
    """Rows of a table no route lists (tokens, invites, pseudonym keys)."""
    async with app.state.session_factory() as db:
        return int((await db.execute(select(func.count()).select_from(model))).scalar_one())


def _auth(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


async def test_a_link_works_once_and_only_until_it_expires(
    app: FastAPI, http: httpx.AsyncClient
) -> None:
    code = await _invite(app, "NL-CSP-C00000001")
    first = await http.post("/v1/ev-user/token", headers=_auth(code))
    assert first.status_code == 201, first.text
    assert first.json()["access_token"].startswith("fcsbe_ev_")
    tokens = await _count(app, CredentialRow)

    again = await http.post("/v1/ev-user/token", headers=_auth(code))
    assert again.status_code == 410
    assert again.headers["content-type"].startswith("application/problem+json")
    assert again.json()["type"].endswith("/invite-gone")
    assert "already used" in again.json()["detail"]

    expired = await _invite(app, "NL-CSP-C00000002", ttl_s=60, ago_s=120)
    late = await http.post("/v1/ev-user/token", headers=_auth(expired))
    assert late.status_code == 410
    assert "expired" in late.json()["detail"]

    unknown = await http.post("/v1/ev-user/token", headers=_auth("fcsbe_iv_nothing"))
    assert unknown.status_code == 401
    assert unknown.json()["type"].endswith("/invite-unknown")
    assert await _count(app, CredentialRow) == tokens, "a refused link issued no token"
    # The refused late attempt did not spend the link: it is still "expired", not "already used".
    late_again = await http.post("/v1/ev-user/token", headers=_auth(expired))
    assert late_again.status_code == 410
    assert "expired" in late_again.json()["detail"]
    assert "already used" not in late_again.json()["detail"]


async def test_nothing_personal_is_stored_in_clear(app: FastAPI) -> None:
    operator = await init_server(app)
    identifier = "NL-CSP-C00000042"
    code = await _invite(app, identifier)
    async with app.state.session_factory() as db:  # what is at rest: no route shows it
        user = (await db.execute(select(EvUserRow))).scalar_one()
        invite = (await db.execute(select(EvUserInviteRow))).scalar_one()
        key = await db.get(EvUserKeyRow, user.user_id)
    pseudonyms: Pseudonymizer = app.state.stations.pseudonyms
    assert user.identifier_hash == pseudonyms.identifier_hash(identifier)
    assert identifier not in f"{user.identifier_hash} {user.subject_ref}"
    assert key is not None
    own = Pseudonymizer.for_subject(bytes.fromhex(key.key_hex))
    assert user.subject_ref == own.subject_ref(identifier) != pseudonyms.subject_ref(identifier)
    assert code not in invite.code_hash
    # Inviting the same person again gives a new link for the same user and key.
    await _invite(app, identifier)
    async with asgi_client(app, token=operator) as desk:
        assert [u.user_id async for u in desk.ev_users.list_users()] == [user.user_id]
    assert await _count(app, EvUserKeyRow) == 1
    assert await _count(app, EvUserInviteRow) == 2


@pytest.mark.parametrize(
    ("limits", "field"),
    [
        ({"min_soc_at_departure_pct": 40, "soc_floor_pct": 60}, "/soc_floor_pct"),
        ({"min_soc_at_departure_pct": 101}, "/min_soc_at_departure_pct"),
        (
            {"min_soc_at_departure_pct": 50, "max_energy_to_grid_kwh_per_day": -1},
            "/max_energy_to_grid_kwh_per_day",
        ),
        ({"min_soc_at_departure_pct": 50, "soc_floor_pct": -5}, "/soc_floor_pct"),
    ],
)
async def test_limits_outside_physical_bounds_are_refused_and_nothing_changes(
    app: FastAPI, http: httpx.AsyncClient, limits: dict[str, float], field: str
) -> None:
    code = await _invite(app, "NL-CSP-C00000003")
    token = (await http.post("/v1/ev-user/token", headers=_auth(code))).json()["access_token"]
    before = (await http.get("/v1/ev-user/self", headers=_auth(token))).json()
    refused = await http.put("/v1/ev-user/self/limits", json=limits, headers=_auth(token))
    assert refused.status_code == 422, refused.text
    pointers = [e["pointer"] for e in refused.json()["errors"]]
    assert any(p.endswith(field) for p in pointers), pointers
    after = (await http.get("/v1/ev-user/self", headers=_auth(token))).json()
    assert after == before


async def test_an_ev_user_sees_and_changes_only_their_own_data(app: FastAPI) -> None:
    operator = await init_server(app)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)

    def client(token: str | None) -> FcsbeClient:
        return FcsbeClient("http://fcsbe.test", token=token, transport=transport)

    async with client(None) as anonymous:
        alice_token = await anonymous.ev_users.exchange_invite(await _invite(app, "NL-C-ALICE"))
        bob_token = await anonymous.ev_users.exchange_invite(await _invite(app, "NL-C-BOB"))
    async with (
        client(alice_token.access_token) as alice,
        client(bob_token.access_token) as bob,
        client(operator) as desk,
    ):
        bob_before = await bob.ev_users.profile()
        changed = await alice.ev_users.set_limits(
            EvUserLimits(
                min_soc_at_departure_pct=80, soc_floor_pct=35, max_energy_to_grid_kwh_per_day=5
            )
        )
        assert changed.limits.soc_floor_pct == 35
        assert (await alice.ev_users.withdraw()).consent_level is EvUserConsentLevel.NONE
        assert await bob.ev_users.profile() == bob_before
        assert bob_before.subject_ref != changed.subject_ref

        # The operator lists both; an EV user may neither list nor erase anyone.
        listed = [u async for u in desk.ev_users.list_users()]
        assert {u.subject_ref for u in listed} == {bob_before.subject_ref, changed.subject_ref}
        bob_id = next(u.user_id for u in listed if u.subject_ref == bob_before.subject_ref)
        for attempt in (alice.ev_users.erase(bob_id), alice.ev_users.invite("NL-C-EVE")):
            with pytest.raises(FcsbeStatusError) as refused:
                await attempt
            assert refused.value.status_code == 403
        with pytest.raises(FcsbeStatusError) as not_fo:
            await alice.sessions.get("ps_anything_at_all")
        assert not_fo.value.status_code == 403
        assert await bob.ev_users.profile() == bob_before

        # Erasure: Bob's key, token and link go at once; Alice is untouched.
        erased = await desk.ev_users.erase(bob_id)
        assert erased.removed["keys"] == 1
        assert erased.removed["tokens"] == 1
        with pytest.raises(FcsbeStatusError) as gone:
            await bob.ev_users.profile()
        assert gone.value.status_code == 401
        assert (await alice.ev_users.profile()).limits.soc_floor_pct == 35
        with pytest.raises(FcsbeStatusError) as twice:
            await desk.ev_users.erase(bob_id)
        assert twice.value.status_code == 404
