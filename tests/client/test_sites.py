"""`client.sites` and `client.charging_stations`: what each caller's contracts let it see.

Contract rows are written directly (the contract flow is tested elsewhere); the reads go through
the real server and client.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi import FastAPI

from fcsbe.client import FcsbeClient, NotFoundError, PermissionDeniedError, UnprocessableEntityError
from fcsbe.server.security.tokens import EV_USER_TOKEN_PREFIX, hash_secret, new_secret
from fcsbe.server.storage.base import utcnow
from fcsbe.server.storage.parties import CredentialRow
from tests.support.factories import make_contract, make_fo, make_operator
from tests.support.registry_samples import import_document


@pytest.fixture
async def fleet(app: FastAPI) -> FastAPI:
    await import_document(app)
    return app


async def _sites(client: FcsbeClient) -> dict[str, list[str]]:
    return {s.site_id: s.cs_ids async for s in client.sites.list()}


async def _stations(client: FcsbeClient) -> dict[str, list[str]]:
    return {c.cs_id: [e.evse_id for e in c.evses] async for c in client.charging_stations.list()}


async def test_operator_sees_everything_paged(fleet: FastAPI, client: FcsbeClient) -> None:
    client.token = await make_operator(fleet.state.session_factory)
    pages = [p async for p in client.sites.list(page_size=2).pages()]
    assert [len(p.items) for p in pages] == [2, 1]
    assert await _sites(client) == {
        "site-depot": ["cs-depot-1", "cs-depot-2"],
        "site-home": ["cs-home-1"],
        "site-park": ["cs-park-1"],
    }
    stations = await _stations(client)
    assert stations["cs-depot-1"] == ["NL*ABC*E1001*1", "NL*ABC*E1001*2"]
    depot = await client.sites.get("site-depot")
    assert depot.configuration_type == 3
    assert depot.grid_connection.import_limit_w == 250_000.0
    park = await client.charging_stations.get("cs-park-1")
    assert park.evses[0].max_discharge_power_w == 50_000.0
    assert park.conformity_evidence[0].standard == "EN 50549-1:2019"
    only = [c.cs_id async for c in client.charging_stations.list(site_id="site-depot")]
    assert only == ["cs-depot-1", "cs-depot-2"]


async def test_fo_without_contracts_sees_nothing(fleet: FastAPI, client: FcsbeClient) -> None:
    client.token = await make_fo(fleet.state.session_factory)
    assert await _sites(client) == {}
    assert await _stations(client) == {}
    with pytest.raises(NotFoundError) as caught:
        await client.sites.get("site-depot")
    assert caught.value.problem is not None
    assert caught.value.problem.slug == "site-not-found"
    with pytest.raises(NotFoundError):
        await client.charging_stations.get("cs-depot-1")


async def test_site_level_contract_shows_the_site_but_no_station(
    fleet: FastAPI, client: FcsbeClient
) -> None:
    factory = fleet.state.session_factory
    client.token = await make_fo(factory)
    await make_contract(factory, "FO-A", "fsc-1", [("SITE", "site-depot")], level="SITE")
    assert await _sites(client) == {"site-depot": []}
    assert await _stations(client) == {}
    with pytest.raises(NotFoundError):
        await client.charging_stations.get("cs-depot-1")


async def test_cs_level_site_contract_shows_its_stations_whole(
    fleet: FastAPI, client: FcsbeClient
) -> None:
    factory = fleet.state.session_factory
    client.token = await make_fo(factory)
    await make_contract(factory, "FO-A", "fsc-1", [("SITE", "site-depot")], level="CS")
    assert await _sites(client) == {"site-depot": ["cs-depot-1", "cs-depot-2"]}
    assert set(await _stations(client)) == {"cs-depot-1", "cs-depot-2"}


async def test_station_and_evse_targets_show_only_what_they_cover(
    fleet: FastAPI, client: FcsbeClient
) -> None:
    factory = fleet.state.session_factory
    client.token = await make_fo(factory)
    await make_contract(
        factory,
        "FO-A",
        "fsc-1",
        [("CS", "cs-park-1"), ("EVSE", "NL*ABC*E1002*2")],
        level="EVSE",
    )
    assert await _sites(client) == {}
    assert await _stations(client) == {
        "cs-depot-2": ["NL*ABC*E1002*2"],
        "cs-park-1": ["NL*ABC*E2001*1", "NL*ABC*E2001*2"],
    }
    partial = await client.charging_stations.get("cs-depot-2")
    assert [e.evse_id for e in partial.evses] == ["NL*ABC*E1002*2"]


async def test_only_active_contracts_of_the_caller_count(
    fleet: FastAPI, client: FcsbeClient
) -> None:
    factory = fleet.state.session_factory
    client.token = await make_fo(factory)
    await make_fo(factory, "FO-B")
    now = utcnow()
    await make_contract(factory, "FO-B", "fsc-b", [("SITE", "site-park")], level="SESSION")
    await make_contract(factory, "FO-A", "fsc-p", [("SITE", "site-home")], status="PROPOSED")
    await make_contract(factory, "FO-A", "fsc-s", [("SITE", "site-home")], status="SUSPENDED")
    await make_contract(
        factory,
        "FO-A",
        "fsc-old",
        [("SITE", "site-depot")],
        valid_from=now - timedelta(days=30),
        valid_to=now - timedelta(days=1),
    )
    await make_contract(
        factory,
        "FO-A",
        "fsc-new",
        [("SITE", "site-depot")],
        valid_from=now + timedelta(days=1),
        valid_to=now + timedelta(days=30),
    )
    assert await _sites(client) == {}
    assert await _stations(client) == {}
    with pytest.raises(NotFoundError):
        await client.sites.get("site-park")


async def test_ev_user_credentials_are_refused(fleet: FastAPI, client: FcsbeClient) -> None:
    token = new_secret(EV_USER_TOKEN_PREFIX)
    async with fleet.state.session_factory() as session:
        session.add(
            CredentialRow(
                credential_id="evu-1",
                token_hash=hash_secret(token),
                role="EV_USER",
                party_id="evu_abc",
                enrolment_id=None,
                created_at=utcnow(),
            )
        )
        await session.commit()
    client.token = token
    with pytest.raises(PermissionDeniedError):
        await client.sites.get("site-depot")


async def test_a_forged_cursor_is_a_422(fleet: FastAPI, client: FcsbeClient) -> None:
    client.token = await make_operator(fleet.state.session_factory)
    with pytest.raises(UnprocessableEntityError) as caught:
        await client._transport.request("GET", "/v1/sites", params={"cursor": "WzFd"})
    assert caught.value.problem is not None
    assert caught.value.problem.errors is not None
    assert caught.value.problem.errors[0].pointer == "/query/cursor"
