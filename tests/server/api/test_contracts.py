"""Contracts (UC 3.3): lifecycle, revisions, rules on terms, events and notifications."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi import FastAPI

from fcsbe.client import ConflictError, NotFoundError, UnprocessableEntityError
from fcsbe.model import (
    ContractChangedNotification,
    ContractDecisionKind,
    ContractStatus,
    RevisionStatus,
)
from fcsbe.server.services.contracts.decisions import close_due_contracts
from fcsbe.server.storage.base import utcnow
from tests.support.flows import Fo, amendment, asgi_client, enrol_fo, init_server, proposal
from tests.support.public_effects import feed, logged_types
from tests.support.registry_fixtures import EVSE_AC1, EVSE_AC2, EVSE_DC, EVSE_HOME, add_registry

SITE = {"level": "SITE", "id": "site-ams"}
DC = {"level": "EVSE", "id": EVSE_DC}
AC1 = {"level": "EVSE", "id": EVSE_AC1}
HOME = {"level": "EVSE", "id": EVSE_HOME}


@pytest.fixture
async def world(app: FastAPI) -> tuple[Fo, str]:
    operator = await init_server(app)
    await add_registry(app.state.session_factory)
    fo = await enrol_fo(app, operator, "NL-FLX")
    return fo, operator


async def _decide(app: FastAPI, operator: str, fsc_id: str, kind: str, **kw: object) -> object:
    async with asgi_client(app, token=operator) as op:
        return await op.admin.decide_contract(fsc_id, ContractDecisionKind(kind), **kw)  # type: ignore[arg-type]


async def test_lifecycle_with_revisions(app: FastAPI, world: tuple[Fo, str]) -> None:
    fo, operator = world
    proposed = await fo.client.contracts.propose(proposal("fsc-1", [DC]))
    assert (proposed.status, proposed.revision, proposed.pending_revision) == (
        ContractStatus.PROPOSED,
        1,
        1,
    )
    amended = await fo.client.contracts.amend("fsc-1", amendment([DC, AC1]))
    assert [(r.revision, r.status) for r in amended.revisions] == [
        (1, RevisionStatus.SUPERSEDED),
        (2, RevisionStatus.PENDING),
    ]
    assert amended.revision == 2  # a proposal's latest terms are the ones proposed
    with pytest.raises(ConflictError, match=r"revision-mismatch|Revision 2"):
        await _decide(app, operator, "fsc-1", "ACCEPT", revision=1)
    await _decide(app, operator, "fsc-1", "ACCEPT", revision=2, reason="agreed")
    active = await fo.client.contracts.get("fsc-1")
    assert active.status is ContractStatus.ACTIVE
    assert active.revisions[-1].reason == "agreed"

    # An amendment of an active contract leaves the terms in force until accepted.
    await fo.client.contracts.amend("fsc-1", amendment([DC]))
    pending = await fo.client.contracts.get("fsc-1")
    assert (pending.revision, pending.pending_revision) == (2, 3)
    assert len(pending.terms.targets) == 2
    await _decide(app, operator, "fsc-1", "REJECT", reason="no")
    kept = await fo.client.contracts.get("fsc-1")
    assert (kept.status, kept.revision, kept.pending_revision) == (ContractStatus.ACTIVE, 2, None)
    assert kept.revisions[-1].status is RevisionStatus.REJECTED

    await _decide(app, operator, "fsc-1", "SUSPEND", reason="maintenance")
    assert (await fo.client.contracts.get("fsc-1")).status is ContractStatus.SUSPENDED
    await _decide(app, operator, "fsc-1", "ACCEPT")  # resume
    assert (await fo.client.contracts.get("fsc-1")).status is ContractStatus.ACTIVE
    with pytest.raises(ConflictError, match=r"nothing-pending|no revision"):
        await _decide(app, operator, "fsc-1", "REJECT")

    ended = await fo.client.contracts.terminate("fsc-1", reason="portfolio moved")
    assert ended.status is ContractStatus.TERMINATED
    with pytest.raises(ConflictError):
        await fo.client.contracts.amend("fsc-1", amendment([DC]))

    events = await logged_types(app, operator)
    notes = await feed(app, fo.client)  # NL-FLX's own feed: each change reached that FO
    contract_events = [e for e in events if e.startswith("CONTRACT_")]
    assert contract_events == [
        "CONTRACT_PROPOSED",
        "CONTRACT_AMENDED",
        "CONTRACT_ACCEPTED",
        "CONTRACT_AMENDED",
        "CONTRACT_REJECTED",
        "CONTRACT_SUSPENDED",
        "CONTRACT_RESUMED",
        "CONTRACT_TERMINATED",
    ]
    changed = [n.data for n in notes if isinstance(n, ContractChangedNotification)]
    assert len(changed) == len(contract_events)
    assert changed[-1].model_dump(mode="json") == {
        "fsc_id": "fsc-1",
        "revision": 2,
        "status": "TERMINATED",
    }
    await fo.client.aclose()


async def test_rejected_proposal_and_listing(app: FastAPI, world: tuple[Fo, str]) -> None:
    fo, operator = world
    for i in range(3):
        await fo.client.contracts.propose(
            proposal(
                f"fsc-{i}",
                [HOME],
                fs_types=(f"{'SETPOINT'}",),
                valid_from=utcnow() + timedelta(days=40 * i),
                valid_to=utcnow() + timedelta(days=40 * i + 30),
            )
        )
    await _decide(app, operator, "fsc-1", "REJECT")
    assert (await fo.client.contracts.get("fsc-1")).status is ContractStatus.REJECTED
    listed = await fo.client.contracts.list(page_size=2).to_list()
    assert [c.fsc_id for c in listed] == ["fsc-0", "fsc-1", "fsc-2"]
    proposed = await fo.client.contracts.list(status=ContractStatus.PROPOSED).to_list()
    assert [c.fsc_id for c in proposed] == ["fsc-0", "fsc-2"]
    with pytest.raises(ConflictError, match=r"contract-exists|already have"):
        await fo.client.contracts.propose(proposal("fsc-0", [DC]))
    await fo.client.aclose()


async def test_an_unknown_target_is_refused_at_the_operators_decision(
    app: FastAPI, world: tuple[Fo, str]
) -> None:
    """The FO is not told whether an id exists (that would list the fleet); the operator is."""
    fo, operator = world
    proposed = await fo.client.contracts.propose(
        proposal("fsc-x", [{"level": "EVSE", "id": "NL*CSO*E9999*9"}])
    )
    assert proposed.status is ContractStatus.PROPOSED
    with pytest.raises(UnprocessableEntityError) as caught:
        await _decide(app, operator, "fsc-x", "ACCEPT")
    assert caught.value.problem.slug == "target-unknown"
    assert caught.value.problem.errors
    assert caught.value.problem.errors[0].pointer == "/terms/targets/0/id"
    assert (await fo.client.contracts.get("fsc-x")).status is ContractStatus.PROPOSED
    await fo.client.aclose()


@pytest.mark.parametrize(
    ("build", "slug"),
    [
        (
            lambda: proposal("x", [{"level": "SESSION", "id": "ps_abcdefgh"}]),
            "target-level-invalid",
        ),
        (lambda: proposal("x", [DC], provider="NL-OTHER"), "unknown-provider"),
        (lambda: proposal("x", [DC], holder_role="H_CSP"), "holder-party-required"),
        (
            lambda: proposal("x", [DC], holder_role="CSO", holder_party_id="NL-ELSE"),
            "holder-party-invalid",
        ),
        (
            lambda: proposal(
                "x",
                [DC],
                valid_from=utcnow() - timedelta(days=10),
                valid_to=utcnow() - timedelta(days=1),
            ),
            "contract-window-past",
        ),
    ],
)
async def test_bad_proposals_change_nothing(
    app: FastAPI, world: tuple[Fo, str], build: object, slug: str
) -> None:
    fo, _operator = world
    with pytest.raises(UnprocessableEntityError) as caught:
        await fo.client.contracts.propose(build())  # type: ignore[operator]
    assert caught.value.problem.slug == slug
    assert caught.value.problem.errors
    assert await fo.client.contracts.list().to_list() == []
    await fo.client.aclose()


async def test_inverted_and_overlapping_windows(app: FastAPI, world: tuple[Fo, str]) -> None:
    fo, operator = world
    body = proposal("fsc-a", [SITE]).model_dump(mode="json")
    body["valid_to"], body["valid_from"] = body["valid_from"], body["valid_to"]
    response = await fo.client._transport.http.post(
        "/v1/contracts",
        json=body,
        headers={"authorization": f"Bearer {fo.token}", "idempotency-key": "inv"},
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["pointer"] == "/body/valid_to"
    assert response.json()["errors"][0]["code"] == "window_inverted"

    windows = proposal("fsc-w", [DC]).model_dump(mode="json")
    windows["commitments"][0]["availability_windows"] = [
        {"weekdays": [1, 2], "start_time": "08:00:00", "end_time": "12:00:00"},
        {"weekdays": [2, 3], "start_time": "11:00:00", "end_time": "13:00:00"},
    ]
    overlapping = await fo.client._transport.http.post(
        "/v1/contracts",
        json=windows,
        headers={"authorization": f"Bearer {fo.token}", "idempotency-key": "win"},
    )
    assert overlapping.status_code == 422
    assert overlapping.json()["type"].endswith("/availability-windows-overlap")
    assert overlapping.json()["errors"][0]["pointer"] == (
        "/body/commitments/0/availability_windows/1"
    )

    await fo.client.contracts.propose(proposal("fsc-a", [SITE]))
    # The same target named twice for the same FS type in an overlapping period: refused.
    with pytest.raises(ConflictError) as caught:
        await fo.client.contracts.propose(proposal("fsc-b", [SITE], fs_types=("SETPOINT",)))
    assert caught.value.problem.slug == "contract-overlap"
    assert caught.value.problem.errors
    assert caught.value.problem.errors[0].pointer == "/body/targets/0"
    # An EVSE of that site: the FO cannot see that it lies on the site (no accepted contract
    # shows it), so the proposal is taken and the operator's acceptance finds the overlap.
    await fo.client.contracts.propose(proposal("fsc-b", [DC], fs_types=("SETPOINT",)))
    with pytest.raises(ConflictError) as at_decision:
        await _decide(app, operator, "fsc-b", "ACCEPT")
    assert at_decision.value.problem.slug == "contract-overlap"
    assert at_decision.value.problem.errors
    assert at_decision.value.problem.errors[0].pointer == "/terms/targets/0"
    await _decide(app, operator, "fsc-b", "REJECT")
    # Once the site's contract is accepted the FO sees its EVSEs: the overlap is refused at once.
    await _decide(app, operator, "fsc-a", "ACCEPT")
    with pytest.raises(ConflictError) as seen:
        await fo.client.contracts.propose(proposal("fsc-e", [DC], fs_types=("SETPOINT",)))
    assert seen.value.problem.errors
    assert seen.value.problem.errors[0].pointer == "/body/targets/0"
    # Another FS type, or another period, is fine.
    await fo.client.contracts.propose(proposal("fsc-c", [DC], fs_types=("CONGESTION",)))
    later = utcnow() + timedelta(days=60)
    await fo.client.contracts.propose(
        proposal("fsc-d", [DC], valid_from=later, valid_to=later + timedelta(days=10))
    )
    # Another FO may contract the same targets (the operator decides).
    other = await enrol_fo(app, operator, "NL-OTHER")
    await other.client.contracts.propose(proposal("fsc-a", [SITE]))
    await fo.client.aclose()
    await other.client.aclose()


async def test_scheduled_termination_and_expiry(app: FastAPI, world: tuple[Fo, str]) -> None:
    fo, operator = world
    now = utcnow().replace(microsecond=0)
    await fo.client.contracts.propose(proposal("fsc-t", [DC], valid_to=now + timedelta(days=2)))
    await fo.client.contracts.propose(
        proposal("fsc-e", [HOME], valid_to=now + timedelta(days=1), fs_types=("CONGESTION",))
    )
    await _decide(app, operator, "fsc-t", "ACCEPT")
    await _decide(app, operator, "fsc-e", "ACCEPT")
    with pytest.raises(UnprocessableEntityError, match=r"termination-after-end|ends by itself"):
        await fo.client.contracts.terminate("fsc-t", effective_at=now + timedelta(days=3))
    scheduled = await fo.client.contracts.terminate("fsc-t", effective_at=now + timedelta(hours=6))
    assert scheduled.status is ContractStatus.ACTIVE
    factory = app.state.session_factory
    async with factory() as session:
        assert await close_due_contracts(session, now + timedelta(hours=1)) == 0
        assert await close_due_contracts(session, now + timedelta(hours=7)) == 1
        assert await close_due_contracts(session, now + timedelta(days=1, seconds=1)) == 1
        await session.commit()
    assert (await fo.client.contracts.get("fsc-t")).status is ContractStatus.TERMINATED
    assert (await fo.client.contracts.get("fsc-e")).status is ContractStatus.EXPIRED
    async with factory() as session:
        assert await close_due_contracts(session, now + timedelta(days=5)) == 0
    await fo.client.aclose()


async def test_scope_index_follows_the_terms_in_force(app: FastAPI, world: tuple[Fo, str]) -> None:
    fo, operator = world
    await fo.client.contracts.propose(proposal("fsc-1", [DC]))
    await _decide(app, operator, "fsc-1", "ACCEPT")
    await fo.client.contracts.amend("fsc-1", amendment([SITE]))

    async def scope() -> tuple[list[str], list[str]]:
        """The sites and EVSEs the FO sees: what the scope index lets through."""
        sites = [site.site_id async for site in fo.client.sites.list()]
        stations = await fo.client.charging_stations.list().to_list()
        return sites, sorted(evse.evse_id for cs in stations for evse in cs.evses)

    assert await scope() == ([], [EVSE_DC])  # the pending SITE amendment is not in force
    await _decide(app, operator, "fsc-1", "ACCEPT")
    assert await scope() == (["site-ams"], sorted([EVSE_DC, EVSE_AC1, EVSE_AC2]))
    await fo.client.aclose()


async def test_operator_needs_the_fo_when_ids_collide(app: FastAPI, world: tuple[Fo, str]) -> None:
    fo, operator = world
    other = await enrol_fo(app, operator, "NL-OTHER")
    await fo.client.contracts.propose(proposal("same-id", [DC]))
    await other.client.contracts.propose(proposal("same-id", [DC]))
    with pytest.raises(ConflictError) as caught:
        await _decide(app, operator, "same-id", "ACCEPT")
    assert caught.value.problem.slug == "contract-id-ambiguous"
    await _decide(app, operator, "same-id", "ACCEPT", fo_party_id="NL-OTHER")
    assert (await other.client.contracts.get("same-id")).status is ContractStatus.ACTIVE
    assert (await fo.client.contracts.get("same-id")).status is ContractStatus.PROPOSED
    async with asgi_client(app, token=operator) as op:
        everything = await op.admin.list_contracts().to_list()
        assert {(c.fo_party_id, c.status) for c in everything} == {
            ("NL-FLX", ContractStatus.PROPOSED),
            ("NL-OTHER", ContractStatus.ACTIVE),
        }
        with pytest.raises(NotFoundError):
            await op.admin.get_contract("same-id", fo_party_id="NL-NOBODY")
    await fo.client.aclose()
    await other.client.aclose()


async def test_revoking_an_enrolment_ends_its_contracts(
    app: FastAPI, world: tuple[Fo, str]
) -> None:
    fo, operator = world
    await fo.client.contracts.propose(proposal("fsc-1", [DC]))
    await _decide(app, operator, "fsc-1", "ACCEPT")
    async with asgi_client(app, token=operator) as op:
        revoked = await op.admin.revoke_enrolment(fo.result.enrolment.enrolment_id)
        assert revoked.status.value == "REVOKED"
        contract = await op.admin.get_contract("fsc-1")
    assert contract.status is ContractStatus.TERMINATED
    await fo.client.aclose()
