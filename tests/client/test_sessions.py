"""`client.sessions`: sessions only at SESSION level, only the categories contracts name,
roaming sessions only to the contracts of their controlling party."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi import FastAPI

from fcsbe.client import FcsbeClient, NotFoundError
from fcsbe.server.security.pseudonyms import Pseudonymizer
from fcsbe.server.services.registry.session_sync import sync_sessions
from fcsbe.server.storage.base import utcnow
from tests.support.factories import make_contract, make_fo, make_operator
from tests.support.registry_samples import import_document
from tests.support.station_samples import reported_session


@pytest.fixture
async def connected(app: FastAPI, tmp_path: Path) -> Pseudonymizer:
    """The sample registry with three EVs: one at the depot, two roaming at the car park."""
    await import_document(app)
    pseudonyms = Pseudonymizer.load_or_create(tmp_path)
    now = utcnow()
    reported = [
        reported_session("TX-DEPOT", "NL*ABC*E1001*1", now, home_party_id="FLEET-1"),
        reported_session(
            "TX-VISIT",
            "NL*ABC*E2001*1",
            now,
            home_party_id="CSP-HOME-B",
            visited_party_id="NL-CSO",
            fs_controller="VISITED",
        ),
        reported_session(
            "TX-HOME",
            "NL*ABC*E2001*2",
            now,
            home_party_id="CSP-HOME-B",
            visited_party_id="NL-CSO",
            fs_controller="HOME",
        ),
    ]
    async with app.state.session_factory() as session:
        await sync_sessions(session, reported, pseudonyms, now)
        await session.commit()
    return pseudonyms


async def _refs(client: FcsbeClient, **filters: str) -> set[str]:
    return {s.session_ref async for s in client.sessions.list(**filters)}


async def test_operator_sees_every_session_in_full(
    app: FastAPI, client: FcsbeClient, connected: Pseudonymizer
) -> None:
    client.token = await make_operator(app.state.session_factory)
    sessions = [s async for s in client.sessions.list()]
    assert len(sessions) == 3
    assert all(s.energy_request and s.soc and s.evu_limits and s.consent_ref for s in sessions)
    assert await _refs(client, site_id="site-park") == {
        connected.session_ref("TX-VISIT"),
        connected.session_ref("TX-HOME"),
    }
    assert await _refs(client, evse_id="NL*ABC*E1001*1") == {connected.session_ref("TX-DEPOT")}


async def test_below_session_level_no_session_is_shown(
    app: FastAPI, client: FcsbeClient, connected: Pseudonymizer
) -> None:
    factory = app.state.session_factory
    client.token = await make_fo(factory)
    await make_contract(factory, "FO-A", "fsc-1", [("SITE", "site-depot")], level="EVSE")
    assert await _refs(client) == set()
    with pytest.raises(NotFoundError):
        await client.sessions.get(connected.session_ref("TX-DEPOT"))


async def test_session_level_shows_only_the_contracted_categories(
    app: FastAPI, client: FcsbeClient, connected: Pseudonymizer
) -> None:
    factory = app.state.session_factory
    client.token = await make_fo(factory)
    await make_contract(
        factory,
        "FO-A",
        "fsc-1",
        [("CS", "cs-depot-1")],
        level="SESSION",
        categories=["SESSION_TIMES", "STATE_OF_CHARGE"],
    )
    ref = connected.session_ref("TX-DEPOT")
    assert await _refs(client) == {ref}
    shown = await client.sessions.get(ref)
    assert shown.departure_time is not None
    assert shown.soc is not None
    assert shown.soc.current_pct == 41.0
    assert shown.energy_request is None
    assert shown.evu_limits is None
    assert shown.consent_ref is None
    (holder,) = shown.holders
    assert (holder.party_id, holder.role, holder.fsc_id) == ("NL-CSO", "CSO", "fsc-1")


async def test_roaming_sessions_follow_their_controlling_party(
    app: FastAPI, client: FcsbeClient, connected: Pseudonymizer
) -> None:
    factory = app.state.session_factory
    client.token = await make_fo(factory)
    await make_fo(factory, "FO-B")
    await make_contract(factory, "FO-A", "fsc-visited", [("SITE", "site-park")], level="SESSION")
    await make_contract(
        factory,
        "FO-B",
        "fsc-home",
        [("SITE", "site-park")],
        level="SESSION",
        provider_party_id="CSP-HOME-B",
    )
    visit, home = connected.session_ref("TX-VISIT"), connected.session_ref("TX-HOME")
    assert await _refs(client) == {visit}
    (holder,) = (await client.sessions.get(visit)).holders
    assert (holder.party_id, holder.role) == ("NL-CSO", "V_CSO")
    with pytest.raises(NotFoundError):
        await client.sessions.get(home)
    client.token = await make_fo(factory, "FO-C")
    assert await _refs(client) == set()


async def test_home_csp_contract_sees_its_users_session(
    app: FastAPI, client: FcsbeClient, connected: Pseudonymizer
) -> None:
    factory = app.state.session_factory
    client.token = await make_fo(factory, "FO-B")
    await make_contract(
        factory,
        "FO-B",
        "fsc-home",
        [("SITE", "site-park")],
        level="SESSION",
        provider_party_id="CSP-HOME-B",
    )
    home = connected.session_ref("TX-HOME")
    assert await _refs(client) == {home}
    (holder,) = (await client.sessions.get(home)).holders
    assert (holder.party_id, holder.role, holder.fsc_id) == ("CSP-HOME-B", "H_CSP", "fsc-home")


async def test_ended_sessions_only_on_request(
    app: FastAPI, client: FcsbeClient, connected: Pseudonymizer
) -> None:
    client.token = await make_operator(app.state.session_factory)
    async with app.state.session_factory() as session:
        await sync_sessions(session, [], connected, utcnow())
        await session.commit()
    assert await _refs(client) == set()
    assert len([s async for s in client.sessions.list(include_ended=True)]) == 3
