"""The decision holds every physical bound (quality goal R9), with worked numbers.

- A site's grid connection: 20 EVSEs of 22 kW (440 kW) behind a 150 kW connection; a 300 kW
  SETPOINT is committed at 150 kW (it used to be SCHEDULED at 300 kW).
- Other FS on the same site: 4 EVSEs of 50 kW behind 100 kW; 60 kW on two of them, then 60 kW
  on the two others: the second gets the 40 kW left.
- An EVSE's export capability: RESERVE up 11 kW + down 2 kW on an 11 kW home EVSE that cannot
  discharge holds no export, and up and down together fit in its 11 kW range.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import FastAPI
from sqlalchemy import select, update

from fcsbe.model import FlexibilityServiceRequest, FsResult, ReasonCode
from fcsbe.server.services.flexibility_services.decision import decide
from fcsbe.server.storage.base import utcnow
from fcsbe.server.storage.contracts import ContractRow
from fcsbe.server.storage.flexibility_services import FlexibilityServiceRow, FsTargetRow
from fcsbe.server.storage.infrastructure import SiteRow
from tests.support.factories import make_fo
from tests.support.fs_fixtures import evse_id, make_contract, make_site, request_body


async def _connection(app: FastAPI, site_id: str, import_w: float, export_w: float) -> None:
    async with app.state.session_factory() as session:
        site = await session.get(SiteRow, site_id)
        assert site is not None
        data = dict(site.data)
        data["grid_connection"] = {
            **data["grid_connection"],
            "import_limit_w": import_w,
            "export_limit_w": export_w,
        }
        await session.execute(update(SiteRow).where(SiteRow.site_id == site_id).values(data=data))
        await session.commit()


async def _decide(app: FastAPI, body: dict[str, Any]) -> tuple[Any, list[tuple[float, float]]]:
    """Store `body` as a RECEIVED FS and decide it; the response and its committed targets."""
    now = utcnow()
    request = FlexibilityServiceRequest.model_validate(body)
    async with app.state.session_factory() as session:
        pk = await session.scalar(select(ContractRow.id).where(ContractRow.fsc_id == "fsc-1"))
        fs = FlexibilityServiceRow(
            fo_party_id="FO-A",
            fs_id=request.fs_id,
            revision=1,
            contract_id=pk,
            fs_type=request.fs_type.value,
            state="RECEIVED",
            window_start=request.window.start,
            window_end=request.window.end,
            response_deadline=now + timedelta(minutes=5),
            committed_w=None,
            request=request.model_dump(mode="json"),
            response=None,
            execution=None,
            correlation_id=None,
            created_at=now,
            updated_at=now,
        )
        session.add(fs)
        await session.flush()
        response = await decide(session, fs, now, app.state.keys.sign)
        targets = await session.execute(
            select(FsTargetRow.committed_w, FsTargetRow.committed_export_w).where(
                FsTargetRow.fs_pk == fs.id
            )
        )
        shares = [(float(i or 0), float(x or 0)) for i, x in targets.all()]
        await session.commit()
    return response, shares


async def test_a_setpoint_is_held_within_the_site_connection(app: FastAPI) -> None:
    await make_fo(app.state.session_factory, "FO-A")
    await make_site(app.state.session_factory, "s1", evses=20, charge_w=22_000, discharge_w=0)
    await _connection(app, "s1", 150_000.0, 0.0)
    await make_contract(app.state.session_factory, "FO-A")
    body = request_body("fs-300", p_w=300_000.0, minimum_acceptance_pct=10)
    response, shares = await _decide(app, body)
    assert response.result is FsResult.PARTIALLY_ACCEPTED
    assert response.committed_w is not None
    assert abs(response.committed_w - 150_000.0) < 1.0
    assert sum(i for i, _ in shares) <= 150_000.0 + 1e-6
    site_reasons = [r for r in response.reasons if r.target is not None and r.target.id == "s1"]
    assert site_reasons
    assert site_reasons[0].code is ReasonCode.INSUFFICIENT_AVAILABILITY


async def test_other_fs_on_the_site_count_against_its_connection(app: FastAPI) -> None:
    await make_fo(app.state.session_factory, "FO-A")
    evses = await make_site(app.state.session_factory, "s1", evses=4, discharge_w=0)
    await _connection(app, "s1", 100_000.0, 0.0)
    await make_contract(app.state.session_factory, "FO-A")
    first, _ = await _decide(
        app,
        request_body("fs-a", p_w=60_000.0, targets=[("EVSE", evses[0]), ("EVSE", evses[1])]),
    )
    assert first.result is FsResult.ACCEPTED
    second, shares = await _decide(
        app,
        request_body("fs-b", p_w=60_000.0, targets=[("EVSE", evses[2]), ("EVSE", evses[3])]),
    )
    assert second.result is FsResult.PARTIALLY_ACCEPTED
    assert abs(sum(i for i, _ in shares) - 40_000.0) < 1.0


async def test_reserve_on_an_evse_that_cannot_discharge_holds_no_export(app: FastAPI) -> None:
    await make_fo(app.state.session_factory, "FO-A")
    await make_site(app.state.session_factory, "s1", evses=1, charge_w=11_000, discharge_w=0)
    await make_contract(app.state.session_factory, "FO-A")
    parameters = {
        "fs_type": "RESERVE",
        "up_w": 11_000.0,
        "down_w": 2_000.0,
        "full_activation_time_s": 300,
        "min_activation_duration_s": 300,
    }
    body = request_body(
        "fs-res",
        fs_type="RESERVE",
        parameters=parameters,
        targets=[("EVSE", evse_id("s1", 1))],
        minimum_acceptance_pct=10,
    )
    response, shares = await _decide(app, body)
    assert response.result is FsResult.PARTIALLY_ACCEPTED
    ((import_w, export_w),) = shares
    assert export_w == 0.0
    assert import_w <= 11_000.0 + 1e-6
    # up and down share the EVSE's 0..11 kW range: 11/13 of each fits
    assert response.committed_w is not None
    assert abs(response.committed_w - 11_000.0 * 11 / 13) < 1.0
