"""FS measurements follow the contract's data-sharing level: per site, per station or per EVSE,
and the state of charge of one EV only at SESSION level with STATE_OF_CHARGE shared."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from fastapi import FastAPI
from sqlalchemy import select

from fcsbe.client import FcsbeClient
from fcsbe.model import (
    FlexibilityServiceRequest,
    MeasurementQuality,
    MeasurementSeries,
    Quantity,
    TargetLevel,
)
from fcsbe.server.services.flexibility_services.decision_batch import decide_pending
from fcsbe.server.storage.base import utcnow
from fcsbe.server.storage.contracts import ContractRow
from fcsbe.server.storage.measurements import insert_readings
from tests.support.factories import make_fo
from tests.support.fs_fixtures import evse_id, make_contract, make_site, request_body

E1, E2 = evse_id("s1", 1), evse_id("s1", 2)
QUANTITIES = [Quantity.P_W, Quantity.SOC_AGG_PCT]


def _reading(meter_id: str, at: datetime, p_w: float, soc: float) -> dict[str, object]:
    return {
        "meter_id": meter_id,
        "kind": "EVSE",
        "at": at,
        "p_w": p_w,
        "q_var": None,
        "e_import_wh": 1.0,
        "e_export_wh": 0.0,
        "soc_pct": soc,
        "f_hz": None,
        "u_v": None,
        "quality": "MEASURED",
    }


@pytest.fixture
async def fo(app: FastAPI, client: FcsbeClient) -> FcsbeClient:
    """FO-A with an accepted FS on a site of one station with two EVSEs, and readings of both
    at the first minute of the window and of one EVSE at the second."""
    factory = app.state.session_factory
    client.token = await make_fo(factory, "FO-A")
    await make_site(factory, "s1", evses=2)
    await make_contract(factory, "FO-A")
    body = request_body("fs-m", start_in=timedelta(minutes=5))
    await client.flexibility_services.create(FlexibilityServiceRequest.model_validate(body))
    async with factory() as session:
        await decide_pending(session, utcnow(), app.state.keys.sign)
        await session.commit()
    start = datetime.fromisoformat(body["window"]["start"])
    one, two = start + timedelta(minutes=1), start + timedelta(minutes=2)
    async with factory() as session:
        await insert_readings(
            session,
            [
                _reading(E1, one, 10_000.0, 40.0),
                _reading(E2, one, 5_000.0, 60.0),
                _reading(E1, two, 11_000.0, 41.0),
            ],
        )
        await session.commit()
    return client


async def _share(app: FastAPI, level: str, categories: list[str]) -> None:
    async with app.state.session_factory() as session:
        row = (await session.execute(select(ContractRow))).scalar_one()
        row.data_sharing_level = level
        row.terms = {
            **row.terms,
            "data_sharing_level": level,
            "personal_data": {"categories": categories, "legal_basis": "CONTRACT"},
        }
        await session.commit()


def _shown(
    series: list[MeasurementSeries],
) -> dict[tuple[str, str, str], list[tuple[float | None, str]]]:
    return {
        (s.target.level.value, s.target.id, s.quantity.value): [
            (p.value, p.quality.value) for p in s.points
        ]
        for s in series
    }


async def test_site_level_shows_the_site_sum_and_a_crowd_soc(app: FastAPI, fo: FcsbeClient) -> None:
    await _share(app, "SITE", ["STATE_OF_CHARGE"])
    shown = _shown(await fo.flexibility_services.measurements("fs-m", QUANTITIES))
    assert shown == {
        ("SITE", "s1", "P_W"): [(15_000.0, "MEASURED"), (11_000.0, "ESTIMATED")],
        ("SITE", "s1", "SOC_AGG_PCT"): [(50.0, "MEASURED"), (None, "MISSING")],
    }


async def test_cs_level_shows_the_station_sum(app: FastAPI, fo: FcsbeClient) -> None:
    await _share(app, "CS", [])
    series = await fo.flexibility_services.measurements("fs-m")
    (only,) = series
    assert only.target.level is TargetLevel.CS
    assert [p.value for p in only.points] == [15_000.0, 11_000.0]


async def test_evse_level_shows_each_evse_but_no_single_ev_soc(
    app: FastAPI, fo: FcsbeClient
) -> None:
    await _share(app, "EVSE", ["STATE_OF_CHARGE"])
    shown = _shown(await fo.flexibility_services.measurements("fs-m", QUANTITIES))
    assert shown[("EVSE", E1, "P_W")] == [(10_000.0, "MEASURED"), (11_000.0, "MEASURED")]
    assert shown[("EVSE", E2, "P_W")] == [(5_000.0, "MEASURED")]
    assert {v for v, _ in shown[("EVSE", E1, "SOC_AGG_PCT")]} == {None}


@pytest.mark.parametrize(("categories", "soc"), [(["STATE_OF_CHARGE"], 40.0), ([], None)])
async def test_session_level_shows_one_evs_soc_only_when_shared(
    app: FastAPI, fo: FcsbeClient, categories: list[str], soc: float | None
) -> None:
    await _share(app, "SESSION", categories)
    shown = _shown(await fo.flexibility_services.measurements("fs-m", QUANTITIES))
    first = shown[("EVSE", E1, "SOC_AGG_PCT")][0]
    assert first == (soc, "MEASURED" if soc is not None else MeasurementQuality.MISSING.value)
