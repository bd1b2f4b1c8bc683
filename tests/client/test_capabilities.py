"""`client.capabilities` and `client.availability`: per target, at the level contracts allow."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from fastapi import FastAPI

from fcsbe.client import FcsbeClient, NotFoundError, UnprocessableEntityError
from fcsbe.model import FsType, Target, TargetLevel
from fcsbe.server.security.pseudonyms import Pseudonymizer
from fcsbe.server.services.registry.session_sync import sync_sessions
from fcsbe.server.storage.base import utcnow
from tests.support.factories import make_contract, make_fo
from tests.support.registry_samples import import_document
from tests.support.station_samples import reported_session

BIDI = "NL*ABC*E1001*1"


@pytest.fixture
async def fleet(app: FastAPI, tmp_path: Path) -> Pseudonymizer:
    """The sample registry with one EV (bidirectional on-board inverter) at a depot EVSE."""
    await import_document(app)
    pseudonyms = Pseudonymizer.load_or_create(tmp_path)
    async with app.state.session_factory() as session:
        await sync_sessions(
            session, [reported_session("TX-1", BIDI, utcnow())], pseudonyms, utcnow()
        )
        await session.commit()
    return pseudonyms


async def test_targets_are_only_visible_at_their_level(
    app: FastAPI, client: FcsbeClient, fleet: Pseudonymizer
) -> None:
    factory = app.state.session_factory
    client.token = await make_fo(factory)
    await make_contract(factory, "FO-A", "fsc-1", [("SITE", "site-depot")], level="CS")
    site, station = await client.capabilities.get(
        [Target(level=TargetLevel.SITE, id="site-depot"), "CS:cs-depot-1"],
        fs_types=[FsType.SETPOINT],
    )
    assert (site.target.id, station.target.id) == ("site-depot", "cs-depot-1")
    assert site.p_min_w == -11_000.0  # the one EV with a certified on-board inverter
    assert station.p_max_w == 33_000.0  # the EV's 11 kW plus the free EVSE's 22 kW
    for hidden in (f"EVSE:{BIDI}", f"SESSION:{fleet.session_ref('TX-1')}", "SITE:site-park"):
        with pytest.raises(NotFoundError) as caught:
            await client.capabilities.get([hidden])
        assert caught.value.problem is not None
        assert caught.value.problem.slug == "target-not-found"
    with pytest.raises(NotFoundError):
        await client.availability.get(f"EVSE:{BIDI}")
    assert (await client.availability.get("CS:cs-depot-1")).intervals[0].connected_evs == 1


async def test_all_seven_types_and_session_targets(
    app: FastAPI, client: FcsbeClient, fleet: Pseudonymizer
) -> None:
    factory = app.state.session_factory
    client.token = await make_fo(factory)
    await make_contract(factory, "FO-A", "fsc-1", [("CS", "cs-depot-1")], level="SESSION")
    found = await client.capabilities.get([f"EVSE:{BIDI}", "EVSE:NL*ABC*E1001*2"])
    assert len(found) == 14
    by = {(c.target.id, c.fs_type): c for c in found}
    assert by[(BIDI, FsType.DROOP)].supported
    assert by[(BIDI, FsType.FFR)].supported
    assert not by[("NL*ABC*E1001*2", FsType.DROOP)].supported  # no EV: no on-board inverter
    assert by[("NL*ABC*E1001*2", FsType.CONGESTION)].supported  # V1G limits need no EV
    ref = fleet.session_ref("TX-1")
    (mine,) = await client.capabilities.get([f"SESSION:{ref}"], fs_types=[FsType.SETPOINT])
    assert (mine.target.level, mine.p_min_w) == (TargetLevel.SESSION, -11_000.0)
    start = utcnow()
    forecast = await client.availability.get(
        f"SESSION:{ref}", start=start, end=start + timedelta(hours=8), resolution_s=3600
    )
    assert [i.connected_evs for i in forecast.intervals] == [1] * 6 + [0, 0]  # leaves at 6 h
    assert forecast.intervals[0].max_export_w > 0


async def test_bad_queries_name_the_parameter(
    app: FastAPI, client: FcsbeClient, fleet: Pseudonymizer
) -> None:
    client.token = await make_fo(app.state.session_factory)
    for bad, pointer in (("DEPOT:x", "/query/target/0"), ("no-colon", "/query/target/0")):
        with pytest.raises(UnprocessableEntityError) as caught:
            await client.capabilities.get([bad])
        assert caught.value.problem is not None
        assert caught.value.problem.errors is not None
        assert caught.value.problem.errors[0].pointer == pointer
    start = utcnow()
    with pytest.raises(UnprocessableEntityError) as caught:
        await client.availability.get("SITE:site-depot", start=start, end=start)
    assert caught.value.problem is not None
    assert caught.value.problem.errors is not None
    assert caught.value.problem.errors[0].pointer == "/query/end"
    with pytest.raises(UnprocessableEntityError) as caught:
        await client.availability.get("SITE:site-depot", resolution_s=10)
    assert caught.value.problem is not None
    assert caught.value.problem.errors is not None
    assert caught.value.problem.errors[0].pointer == "/query/resolution_s"
