"""Storing EV sessions from station reports: pseudonyms only, consents, closing, notifications."""

from __future__ import annotations

import json

from fastapi import FastAPI
from sqlalchemy import select

from fcsbe.server.security.pseudonyms import Pseudonymizer
from fcsbe.server.services.registry.session_sync import sync_sessions
from fcsbe.server.storage.base import utcnow
from fcsbe.server.storage.infrastructure import ConsentRow, EvSessionRow
from fcsbe.server.storage.notifications import OutboxRow
from tests.support.factories import make_contract, make_fo
from tests.support.registry_samples import import_document
from tests.support.station_samples import reported_session


async def _sync(app: FastAPI, reported: list, pseudonyms: Pseudonymizer) -> int:
    async with app.state.session_factory() as session:
        changes = await sync_sessions(session, reported, pseudonyms, utcnow())
        await session.commit()
        return changes


async def _rows(app: FastAPI) -> tuple[list[EvSessionRow], list[ConsentRow], list[OutboxRow]]:
    async with app.state.session_factory() as session:
        return (
            list(await session.scalars(select(EvSessionRow))),
            list(await session.scalars(select(ConsentRow))),
            list(await session.scalars(select(OutboxRow).order_by(OutboxRow.id))),
        )


async def test_sessions_are_stored_under_pseudonyms_only(app: FastAPI, tmp_path) -> None:
    await import_document(app)
    pseudonyms = Pseudonymizer.load_or_create(tmp_path)
    now = utcnow()
    one = reported_session("TX-0001", "NL*ABC*E1001*1", now, home_party_id="FLEET-1")
    assert await _sync(app, [one], pseudonyms) == 1
    (row,), (consent,), _ = await _rows(app)
    assert row.session_ref == pseudonyms.session_ref("TX-0001")
    assert row.subject_ref == pseudonyms.subject_ref(one.id_token or "")
    stored = json.dumps([row.data, row.subject_ref, consent.subject_ref, consent.consent_id])
    assert "TX-0001" not in stored
    assert "NL-ABC-C" not in stored
    assert row.home_party_id == "FLEET-1"
    assert row.data["ev"] == {
        "model_id": "onboard-bidi",
        "bidirectional": True,
        "onboard_inverter": True,
        "max_charge_w": 11000.0,
        "max_discharge_w": 11000.0,
        "conformity": [
            {
                "standard": "EN 50549-1:2019",
                "scope": "EV_MODEL",
                "subject_id": "onboard-bidi",
                "certificate_id": "DEKRA-50549-2025-00417",
                "issuer": "DEKRA Certification B.V.",
                "valid_from": None,
                "valid_to": "2035-12-31T23:59:59Z",
            }
        ],
        "reported_standards": ["EN 50549-1"],
    }
    assert row.data["soc"]["current_pct"] == 41
    assert row.data["energy_request"]["min_energy_wh"] == 17200.0
    assert row.data["evu_limits"]["max_energy_to_grid_wh"] == 10000.0
    assert consent.scope == ["V1G", "V2G"]
    assert row.consent_id == consent.consent_id == row.data["consent_ref"]


async def test_unknown_models_give_no_evidence_and_unknown_evses_are_skipped(
    app: FastAPI, tmp_path
) -> None:
    await import_document(app)
    pseudonyms = Pseudonymizer.load_or_create(tmp_path)
    now = utcnow()
    stranger = reported_session("TX-1", "NL*ABC*E1001*2", now)
    stranger = stranger._replace(ev=stranger.ev._replace(model_id="no-such-model"))
    ghost = reported_session("TX-2", "NL*XYZ*E9*1", now)
    assert await _sync(app, [stranger, ghost], pseudonyms) == 1
    (row,), _, _ = await _rows(app)
    assert row.data["ev"]["conformity"] == []
    assert row.data["ev"]["bidirectional"] is True


async def test_live_values_only_write_when_they_change_materially(app: FastAPI, tmp_path) -> None:
    await import_document(app)
    pseudonyms = Pseudonymizer.load_or_create(tmp_path)
    now = utcnow()
    first = reported_session("TX-1", "NL*ABC*E1001*1", now)
    await _sync(app, [first], pseudonyms)
    assert (
        await _sync(app, [first._replace(soc_pct=41.4, energy_imported_wh=5040.0)], pseudonyms) == 0
    )
    assert await _sync(app, [first._replace(soc_pct=43.0)], pseudonyms) == 1


async def test_consent_changes_and_disconnection(app: FastAPI, tmp_path) -> None:
    await import_document(app)
    factory = app.state.session_factory
    await make_fo(factory)
    await make_fo(factory, "FO-B")
    await make_contract(factory, "FO-A", "fsc-a", [("SITE", "site-depot")], level="SESSION")
    await make_contract(factory, "FO-B", "fsc-b", [("SITE", "site-depot")], level="EVSE")
    pseudonyms = Pseudonymizer.load_or_create(tmp_path)
    now = utcnow()
    first = reported_session("TX-1", "NL*ABC*E1001*1", now)
    await _sync(app, [first], pseudonyms)
    await _sync(app, [first._replace(consent_v2g=False)], pseudonyms)
    _, (consent,), _ = await _rows(app)
    assert consent.scope == ["V1G"]
    assert consent.withdrawn_at is None
    await _sync(app, [first._replace(consent_v1g=False, consent_v2g=False)], pseudonyms)
    _, (consent,), _ = await _rows(app)
    assert consent.withdrawn_at is not None
    assert await _sync(app, [], pseudonyms) == 1
    (row,), _, outbox = await _rows(app)
    assert row.disconnected_at is not None
    sessions = [o for o in outbox if o.type != "AVAILABILITY_UPDATED"]
    assert [(o.fo_party_id, o.type) for o in sessions] == [
        ("FO-A", "EV_CONNECTED"),
        ("FO-A", "EV_DISCONNECTED"),
    ]
    assert sessions[1].payload["data"]["energy_charged_wh"] == 5000.0
    assert sessions[0].payload["target"] == {"level": "SESSION", "id": row.session_ref}
    # Both FOs see the EVSE's availability change, the EVSE-level one without the session.
    availability = [
        (o.fo_party_id, o.payload["target"]["id"], o.payload["data"]["status"])
        for o in outbox
        if o.type == "AVAILABILITY_UPDATED"
    ]
    assert availability == [
        ("FO-A", "NL*ABC*E1001*1", "OCCUPIED"),
        ("FO-B", "NL*ABC*E1001*1", "OCCUPIED"),
        ("FO-A", "NL*ABC*E1001*1", "AVAILABLE"),
        ("FO-B", "NL*ABC*E1001*1", "AVAILABLE"),
    ]
    assert await _sync(app, [], pseudonyms) == 0


async def test_ev_connected_carries_departure_only_where_session_times_are_shared(
    app: FastAPI, tmp_path
) -> None:
    await import_document(app)
    factory = app.state.session_factory
    await make_fo(factory)
    await make_fo(factory, "FO-B")
    await make_contract(factory, "FO-A", "fsc-a", [("SITE", "site-depot")], level="SESSION")
    await make_contract(
        factory,
        "FO-B",
        "fsc-b",
        [("SITE", "site-depot")],
        level="SESSION",
        categories=("ENERGY_REQUEST",),
    )
    pseudonyms = Pseudonymizer.load_or_create(tmp_path)
    await _sync(app, [reported_session("TX-1", "NL*ABC*E1001*1", utcnow())], pseudonyms)
    _, _, outbox = await _rows(app)
    data = {o.fo_party_id: o.payload["data"] for o in outbox if o.type == "EV_CONNECTED"}
    assert data["FO-A"]["departure_time"] is not None
    assert "departure_time" not in data["FO-B"]
    assert data["FO-B"]["session_ref"] == data["FO-A"]["session_ref"]


async def test_a_scoped_report_closes_only_sessions_of_its_own_evses(
    app: FastAPI, tmp_path
) -> None:
    """Several replicas each holding some OCPP stations: one replica's report says nothing of
    the EVs at the stations another holds."""
    await import_document(app)
    pseudonyms = Pseudonymizer.load_or_create(tmp_path)
    now = utcnow()
    here = reported_session("TX-HERE", "NL*ABC*E1001*1", now)
    there = reported_session("TX-THERE", "NL*ABC*E1002*1", now)
    assert await _sync(app, [here, there], pseudonyms) == 2
    async with app.state.session_factory() as session:
        await sync_sessions(session, [], pseudonyms, utcnow(), scope={"NL*ABC*E1001*1"})
        await session.commit()
    rows, _, _ = await _rows(app)
    closed = {row.evse_id: row.disconnected_at is not None for row in rows}
    assert closed == {"NL*ABC*E1001*1": True, "NL*ABC*E1002*1": False}
