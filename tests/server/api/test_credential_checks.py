"""The credentials check: actor, contract and per-target verdicts with reason codes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi import FastAPI

from fcsbe.client import NotFoundError
from fcsbe.model import (
    ContractDecisionKind,
    CredentialCheckResult,
    FsType,
    GridFunction,
    ReasonCode,
    Target,
    TimeWindow,
)
from fcsbe.server.storage.base import utcnow
from fcsbe.server.storage.infrastructure import EvSessionRow
from tests.support.flows import Fo, asgi_client, enrol_fo, init_server, proposal
from tests.support.public_effects import logged_events
from tests.support.registry_fixtures import (
    EVSE_AC1,
    EVSE_AC2,
    EVSE_DC,
    EVSE_HOME,
    SESSION_AC1,
    add_registry,
    evidence,
)


def evse(evse_id: str) -> Target:
    return Target.model_validate({"level": "EVSE", "id": evse_id})


def window(hours: float = 2) -> TimeWindow:
    start = utcnow() + timedelta(hours=1)
    return TimeWindow(start=start, end=start + timedelta(hours=hours))


async def _accept(app: FastAPI, operator: str, fsc_id: str) -> None:
    async with asgi_client(app, token=operator) as op:
        await op.admin.decide_contract(fsc_id, ContractDecisionKind.ACCEPT)


@pytest.fixture
async def world(app: FastAPI) -> tuple[Fo, str]:
    operator = await init_server(app)
    await add_registry(app.state.session_factory)
    fo = await enrol_fo(app, operator, "NL-FLX")
    site = [{"level": "SITE", "id": "site-ams"}]
    await fo.client.contracts.propose(proposal("fsc-v2g", site, data_sharing_level="SESSION"))
    await _accept(app, operator, "fsc-v2g")
    return fo, operator


def reasons(result: CredentialCheckResult, index: int) -> list[ReasonCode]:
    return [r.code for r in result.targets[index].reasons]


async def test_verdict_per_target(app: FastAPI, world: tuple[Fo, str]) -> None:
    fo, operator = world
    result = await fo.client.credential_checks.check(
        fsc_id="fsc-v2g",
        fs_type=FsType.DROOP,
        targets=[
            evse(EVSE_DC),
            evse(EVSE_AC1),
            evse(EVSE_AC2),
            evse(EVSE_HOME),
            evse("NL*CSO*E7777*1"),
        ],
        window=window(),
    )
    assert (result.actor_ok, result.contract_ok) == (True, True)
    dc, ac1, ac2, home, unknown = result.targets
    # DC EVSE: its own (CS-level) EN 50549-1 certificate covers the off-board converter.
    assert (dc.capable, dc.conformant, dc.reasons) == (True, True, [])
    assert [e.subject_id for e in dc.conformity_evidence] == ["cs-dc"]
    # AC EVSE with an EV whose on-board inverter is certified: the EV's evidence (UC 1.7).
    assert (ac1.capable, ac1.conformant, ac1.reasons) == (True, True, [])
    assert [e.scope.value for e in ac1.conformity_evidence] == ["EV_MODEL"]
    # AC EVSE with an EV without on-board inverter: cannot run droop locally.
    assert not ac2.capable
    assert ReasonCode.NOT_CAPABLE in reasons(result, 2)
    assert ac2.missing_functions == [GridFunction.FREQ_DROOP]
    # Outside every contract of the FO: answered exactly like an id that does not exist.
    assert reasons(result, 3) == [ReasonCode.TARGET_UNKNOWN]
    assert reasons(result, 4) == [ReasonCode.TARGET_UNKNOWN]
    assert not (home.capable and unknown.capable)
    assert not result.ok
    assert utcnow() < result.valid_until <= utcnow() + timedelta(seconds=901)
    [logged] = await logged_events(app, operator, type="CREDENTIAL_CHECK")
    assert "2/5 targets pass" in logged.summary
    await fo.client.aclose()


async def test_required_standards_over_the_whole_window(
    app: FastAPI, world: tuple[Fo, str]
) -> None:
    fo, _ = world
    ok = await fo.client.credential_checks.check(
        fsc_id="fsc-v2g",
        fs_type=FsType.SETPOINT,
        targets=[evse(EVSE_DC), evse(EVSE_AC1)],
        window=window(),
        required_conformity=["EN 50549-1"],
    )
    assert ok.ok
    missing = await fo.client.credential_checks.check(
        fsc_id="fsc-v2g",
        fs_type=FsType.SETPOINT,
        targets=[evse(EVSE_AC2)],
        window=window(),
        required_conformity=["EN 50549-1"],
    )
    verdict = missing.targets[0]
    assert verdict.capable  # it can still charge under a setpoint ...
    assert not verdict.conformant  # ... but the EV's inverter has no certificate
    assert verdict.reasons[0].code is ReasonCode.NOT_CONFORMANT
    assert "EN 50549-1" in (verdict.reasons[0].detail or "")

    # A certificate that ends inside the window does not count; one that ends after the
    # window bounds how long the verdict holds.
    soon = utcnow() + timedelta(minutes=90)
    async with app.state.session_factory() as session:  # station-side data: no route edits it
        row = await session.get(EvSessionRow, SESSION_AC1)
        assert row is not None
        data = dict(row.data)
        data["ev"] = {
            **data["ev"],
            "conformity": [evidence("EN 50549-1", "EV_MODEL", "Renault 5", valid_to=soon)],
        }
        row.data = data
        await session.commit()
    short = await fo.client.credential_checks.check(
        fsc_id="fsc-v2g",
        fs_type=FsType.SETPOINT,
        targets=[evse(EVSE_AC1)],
        window=window(hours=2),
        required_conformity=["EN 50549-1"],
    )
    assert short.targets[0].reasons[0].code is ReasonCode.NOT_CONFORMANT
    start = utcnow() + timedelta(minutes=5)
    inside = await fo.client.credential_checks.check(
        fsc_id="fsc-v2g",
        fs_type=FsType.SETPOINT,
        targets=[evse(EVSE_AC1)],
        window=TimeWindow(start=start, end=start + timedelta(minutes=30)),
        required_conformity=["EN 50549-1"],
    )
    assert inside.ok
    assert inside.valid_until <= utcnow() + timedelta(seconds=901)
    await fo.client.aclose()


async def test_site_and_session_targets(app: FastAPI, world: tuple[Fo, str], backend: str) -> None:
    fo, operator = world
    site = Target.model_validate({"level": "SITE", "id": "site-ams"})
    session_target = Target.model_validate({"level": "SESSION", "id": SESSION_AC1})
    result = await fo.client.credential_checks.check(
        fsc_id="fsc-v2g", fs_type=FsType.DROOP, targets=[site, session_target], window=window()
    )
    assert result.ok, result.model_dump_json(indent=1)
    assert {e.subject_id for e in result.targets[0].conformity_evidence} == {
        "cs-dc",
        "Renault 5 E-Tech",
    }
    # At data-sharing level EVSE, sessions are not the FO's to address.
    await fo.client.contracts.propose(
        proposal("fsc-evse", [{"level": "EVSE", "id": EVSE_HOME}], fs_types=("CONGESTION",))
    )
    await _accept(app, operator, "fsc-evse")
    hidden = await fo.client.credential_checks.check(
        fsc_id="fsc-evse", fs_type=FsType.CONGESTION, targets=[session_target], window=window()
    )
    assert reasons(hidden, 0) == [ReasonCode.TARGET_NOT_IN_CONTRACT]
    await fo.client.aclose()


async def test_contract_reasons(app: FastAPI, world: tuple[Fo, str]) -> None:
    fo, operator = world
    wrong_type = await fo.client.credential_checks.check(
        fsc_id="fsc-v2g", fs_type=FsType.FFR, targets=[evse(EVSE_DC)], window=window()
    )
    assert not wrong_type.contract_ok
    assert [r.code for r in wrong_type.contract_reasons] == [ReasonCode.TYPE_NOT_IN_CONTRACT]
    late = utcnow() + timedelta(days=60)
    outside = await fo.client.credential_checks.check(
        fsc_id="fsc-v2g",
        fs_type=FsType.DROOP,
        targets=[evse(EVSE_DC)],
        window=TimeWindow(start=late, end=late + timedelta(hours=1)),
    )
    assert [r.code for r in outside.contract_reasons] == [ReasonCode.CONTRACT_INVALID]
    async with asgi_client(app, token=operator) as op:
        await op.admin.decide_contract("fsc-v2g", ContractDecisionKind.SUSPEND)
    suspended = await fo.client.credential_checks.check(
        fsc_id="fsc-v2g", fs_type=FsType.DROOP, targets=[evse(EVSE_DC)], window=window()
    )
    assert "SUSPENDED" in (suspended.contract_reasons[0].detail or "")
    assert not suspended.ok
    with pytest.raises(NotFoundError):
        await fo.client.credential_checks.check(
            fsc_id="no-such", fs_type=FsType.DROOP, targets=[evse(EVSE_DC)], window=window()
        )
    await fo.client.aclose()


async def test_actor_without_the_fs_scope(app: FastAPI, world: tuple[Fo, str]) -> None:
    fo, operator = world
    limited = await enrol_fo(app, operator, "NL-LIMITED", scopes=["contracts", "credential-checks"])
    await limited.client.contracts.propose(
        proposal("fsc-l", [{"level": "EVSE", "id": EVSE_HOME}], fs_types=("CONGESTION",))
    )
    await _accept(app, operator, "fsc-l")
    result = await limited.client.credential_checks.check(
        fsc_id="fsc-l", fs_type=FsType.CONGESTION, targets=[evse(EVSE_HOME)], window=window()
    )
    assert result.contract_ok
    assert not result.actor_ok
    assert not result.ok
    # The other FO's contract id is not the limited FO's to check.
    with pytest.raises(NotFoundError):
        await limited.client.credential_checks.check(
            fsc_id="fsc-v2g", fs_type=FsType.DROOP, targets=[evse(EVSE_DC)], window=window()
        )
    await fo.client.aclose()
    await limited.client.aclose()
