"""Registry import: all-or-nothing, idempotent, and every bad input refused with its pointer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from fcsbe.server.services.registry.registry import (
    RegistryRejected,
    import_registry,
    parse_document,
)
from fcsbe.server.services.registry.rules import check_document
from fcsbe.server.storage.base import utcnow
from fcsbe.server.storage.infrastructure import (
    ChargingStationRow,
    EvModelRow,
    EvseRow,
    EvSessionRow,
    SiteRow,
)
from tests.support.registry_samples import ac_evse, dc_evse, sample_document, site, station

Doc = dict[str, Any]


async def _import(app: FastAPI, document: Doc, *, dry_run: bool = False) -> Any:
    async with app.state.session_factory() as session:
        result = await import_registry(session, parse_document(document), dry_run=dry_run)
        await session.commit()
        return result


async def _counts(app: FastAPI) -> tuple[int, ...]:
    async with app.state.session_factory() as session:
        return tuple(
            [
                int(await session.scalar(select(func.count()).select_from(table)) or 0)
                for table in (SiteRow, ChargingStationRow, EvseRow, EvModelRow)
            ]
        )


async def _refused(app: FastAPI, document: Doc) -> list[tuple[str, str]]:
    with pytest.raises(RegistryRejected) as caught:
        await _import(app, document)
    return [(issue.pointer, issue.code) for issue in caught.value.issues]


async def test_import_creates_then_changes_nothing(app: FastAPI) -> None:
    first = await _import(app, sample_document())
    assert first.changed
    assert (first.sites.created, first.charging_stations.created, first.evses.created) == (3, 4, 7)
    assert first.ev_models.created == 2
    async with app.state.session_factory() as session:
        stamps = sorted((r.evse_id, r.updated_at) for r in await session.scalars(select(EvseRow)))
    second = await _import(app, sample_document())
    assert not second.changed
    assert (second.sites.unchanged, second.evses.unchanged, second.ev_models.unchanged) == (3, 7, 2)
    async with app.state.session_factory() as session:
        again = sorted((r.evse_id, r.updated_at) for r in await session.scalars(select(EvseRow)))
    assert again == stamps


async def test_a_changed_field_updates_one_row(app: FastAPI) -> None:
    await _import(app, sample_document())
    document = sample_document()
    document["charging_stations"][0]["evses"][1]["max_charge_power_w"] = 11000.0
    result = await _import(app, document)
    assert (result.evses.updated, result.evses.unchanged) == (1, 6)
    assert (result.charging_stations.updated, result.charging_stations.unchanged) == (1, 3)
    async with app.state.session_factory() as session:
        row = await session.get(EvseRow, "NL*ABC*E1001*2")
    assert row is not None
    assert row.max_charge_w == 11000.0


async def test_dry_run_writes_nothing(app: FastAPI) -> None:
    result = await _import(app, sample_document(), dry_run=True)
    assert result.dry_run
    assert result.sites.created == 3
    assert await _counts(app) == (0, 0, 0, 0)


def _break(path: list[Any], value: Any) -> Callable[[Doc], None]:
    def apply(document: Doc) -> None:
        target = document
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return apply


BAD: dict[str, tuple[Callable[[Doc], None], str, str]] = {
    "unknown site": (
        _break(["charging_stations", 3, "site_id"], "site-nowhere"),
        "/charging_stations/3/site_id",
        "unknown_site",
    ),
    "duplicate site id": (
        _break(["sites", 1, "site_id"], "site-depot"),
        "/sites/1/site_id",
        "duplicate_id",
    ),
    "duplicate station id": (
        _break(["charging_stations", 1, "cs_id"], "cs-depot-1"),
        "/charging_stations/1/cs_id",
        "duplicate_id",
    ),
    "duplicate EVSE id across stations": (
        _break(["charging_stations", 1, "evses", 0, "evse_id"], "NL*ABC*E1001*1"),
        "/charging_stations/1/evses/0/evse_id",
        "duplicate_id",
    ),
    "negative power": (
        _break(["charging_stations", 2, "evses", 1, "max_charge_power_w"], -1.0),
        "/charging_stations/2/evses/1/max_charge_power_w",
        "greater_than_equal",
    ),
    "negative grid limit": (
        _break(["sites", 0, "grid_connection", "import_limit_w"], -5.0),
        "/sites/0/grid_connection/import_limit_w",
        "greater_than_equal",
    ),
    "discharge on a non-V2G EVSE": (
        _break(["charging_stations", 2, "evses", 1, "max_discharge_power_w"], 20000.0),
        "/charging_stations/2/evses/1/max_discharge_power_w",
        "discharge_without_v2g",
    ),
    "station type differs from its site": (
        _break(["charging_stations", 0, "configuration_type"], 1),
        "/charging_stations/0/configuration_type",
        "inconsistent_configuration",
    ),
    "AC EVSE on a DC configuration": (
        _break(["charging_stations", 2, "evses", 1], ac_evse("NL*ABC*E2001*2", 2)),
        "/charging_stations/2/evses/1/current_type",
        "inconsistent_configuration",
    ),
    "two EVSEs on a single-EVSE station": (
        _break(
            ["charging_stations", 3, "evses"],
            [ac_evse("NL*ABC*E3001*1", 1, v2g=False), ac_evse("NL*ABC*E3001*2", 2, v2g=False)],
        ),
        "/charging_stations/3/evses",
        "inconsistent_configuration",
    ),
    "converter on the wrong side": (
        _break(["charging_stations", 2, "evses", 0, "converter_location"], "ON_BOARD"),
        "/charging_stations/2/evses/0/converter_location",
        "inconsistent_converter",
    ),
    "DC mode on an AC EVSE": (
        _break(["charging_stations", 0, "evses", 0, "energy_transfer_modes"], ["DC"]),
        "/charging_stations/0/evses/0/energy_transfer_modes",
        "inconsistent_transfer_mode",
    ),
    "unknown nested field": (
        _break(["sites", 0, "grid_connection", "import_limit_kw"], 250),
        "/sites/0/grid_connection/import_limit_kw",
        "extra_forbidden",
    ),
    "evidence about another station": (
        _break(["charging_stations", 2, "conformity_evidence", 0, "subject_id"], "cs-depot-1"),
        "/charging_stations/2/conformity_evidence/0/subject_id",
        "wrong_subject",
    ),
    "inverter on a unidirectional EV model": (
        _break(["ev_models", 0, "bidirectional"], False),
        "/ev_models/0/onboard_inverter",
        "inconsistent_ev_model",
    ),
}


STORE_CASES = {"unknown site", "station type differs from its site"}
"""Cases that need the stored registry (the others are refused by the document alone)."""


@pytest.mark.parametrize("case", sorted(set(BAD) - STORE_CASES))
def test_bad_document_is_refused_with_its_pointer(case: str) -> None:
    mutate, pointer, code = BAD[case]
    document = sample_document()
    mutate(document)
    try:
        found = [(i.pointer, i.code) for i in check_document(parse_document(document))]
    except RegistryRejected as exc:
        found = [(i.pointer, i.code) for i in exc.issues]
    assert (pointer, code) in found


@pytest.mark.parametrize("case", sorted(STORE_CASES))
async def test_bad_input_needing_the_registry_is_refused_and_nothing_is_written(
    app: FastAPI, case: str
) -> None:
    mutate, pointer, code = BAD[case]
    document = sample_document()
    mutate(document)
    assert (pointer, code) in await _refused(app, document)
    assert await _counts(app) == (0, 0, 0, 0)


async def test_every_problem_is_reported_at_once(app: FastAPI) -> None:
    document = sample_document()
    document["charging_stations"][3]["site_id"] = "site-nowhere"
    document["charging_stations"][2]["evses"][1]["max_discharge_power_w"] = 1.0
    document["sites"][1]["site_id"] = "site-depot"
    codes = {code for _, code in await _refused(app, document)}
    assert {"unknown_site", "discharge_without_v2g", "duplicate_id"} <= codes
    assert await _counts(app) == (0, 0, 0, 0)


async def test_stations_may_refer_to_sites_already_in_the_registry(app: FastAPI) -> None:
    await _import(app, sample_document())
    extra = {
        "charging_stations": [
            station("cs-depot-3", "site-depot", 3, [ac_evse("NL*ABC*E1003*1", 1)])
        ]
    }
    result = await _import(app, extra)
    assert result.charging_stations.created == 1
    wrong = {"charging_stations": [station("cs-x", "site-depot", 2, [dc_evse("NL*ABC*E9*1", 1)])]}
    assert (
        "/charging_stations/0/configuration_type",
        "inconsistent_configuration",
    ) in await _refused(app, wrong)


async def test_a_site_type_change_must_fit_its_stored_stations(app: FastAPI) -> None:
    await _import(app, sample_document())
    document = {"sites": [site("site-depot", 2)]}
    assert ("/sites/0/configuration_type", "inconsistent_configuration") in await _refused(
        app, document
    )


async def test_a_second_evse_on_a_stored_single_evse_site_is_refused(app: FastAPI) -> None:
    await _import(app, sample_document())
    document = {
        "sites": [site("site-home", 4, import_w=17_250.0)],
        "charging_stations": [station("cs-home-2", "site-home", 4, [ac_evse("NL*ABC*E3002*1", 1)])],
    }
    assert ("/sites/0/configuration_type", "inconsistent_configuration") in await _refused(
        app, document
    )


async def test_reimporting_a_station_removes_the_evses_it_no_longer_lists(app: FastAPI) -> None:
    await _import(app, sample_document())
    document = sample_document()
    document["charging_stations"][0]["evses"].pop()
    result = await _import(app, document)
    assert result.evses.removed == 1
    async with app.state.session_factory() as session:
        assert await session.get(EvseRow, "NL*ABC*E1001*2") is None


async def test_an_evse_with_sessions_cannot_be_removed(app: FastAPI) -> None:
    await _import(app, sample_document())
    async with app.state.session_factory() as session:
        session.add(
            EvSessionRow(
                session_ref="ps_abcdefgh12345678",
                evse_id="NL*ABC*E1001*2",
                connected_at=utcnow(),
                data={},
            )
        )
        await session.commit()
    document = sample_document()
    document["charging_stations"][0]["evses"].pop()
    assert ("/charging_stations/0/evses", "evse_in_use") in await _refused(app, document)


async def test_an_evse_cannot_be_taken_from_a_station_not_in_the_document(app: FastAPI) -> None:
    await _import(app, sample_document())
    document = {
        "charging_stations": [
            station("cs-depot-9", "site-depot", 3, [ac_evse("NL*ABC*E1001*1", 1)])
        ]
    }
    assert ("/charging_stations/0/evses/0/evse_id", "evse_owned_elsewhere") in await _refused(
        app, document
    )


async def test_an_evse_moves_when_both_stations_are_reimported(app: FastAPI) -> None:
    await _import(app, sample_document())
    document = sample_document()
    moved = document["charging_stations"][0]["evses"].pop()
    moved["ocpp_evse_id"] = 3
    document["charging_stations"][1]["evses"].append(moved)
    result = await _import(app, document)
    assert (result.evses.updated, result.evses.removed) == (1, 0)
    async with app.state.session_factory() as session:
        row = await session.get(EvseRow, "NL*ABC*E1001*2")
    assert row is not None
    assert row.cs_id == "cs-depot-2"
