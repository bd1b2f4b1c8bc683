"""UC 3.3 - Management of flexibility service contracts.

The aggregator proposes an FSC; the operator accepts it from the command line; the aggregator
runs a credentials check for an FS over some EVSEs and gets a verdict per target with reasons.
It then amends the contract (a new revision; the old one stays readable), the operator rejects
the amendment, suspends and resumes the contract, and the aggregator terminates it. Every change
reached the aggregator as a CONTRACT_CHANGED notification.
"""

from __future__ import annotations

import json
from datetime import timedelta

from fastapi import FastAPI

from fcsbe.model import (
    ContractChangedNotification,
    ContractStatus,
    FsType,
    NotificationType,
    ReasonCode,
    RevisionStatus,
    Target,
    TimeWindow,
)
from fcsbe.server.storage.base import utcnow
from tests.scenarios.operator_cli import fcsbe_admin
from tests.support.flows import amendment, enrol_fo, proposal
from tests.support.public_effects import feed as read_feed
from tests.support.registry_fixtures import EVSE_AC1, EVSE_AC2, EVSE_DC, EVSE_HOME, add_registry

SITE = {"level": "SITE", "id": "site-ams"}


async def test_contract_lifecycle_and_credentials_check(app: FastAPI) -> None:
    init = await fcsbe_admin(
        app, "party", "init", "--party-id", "NL-CSO", "--name", "CSO N.V.", "--country", "NL"
    )
    operator_token = init.output.strip().splitlines()[-1]
    await add_registry(app.state.session_factory)
    fo = await enrol_fo(app, operator_token, "NL-FLX")
    client = fo.client

    proposed = await client.contracts.propose(
        proposal("fsc-2026", [SITE], fs_types=("SETPOINT", "DROOP"), signature_required=True)
    )
    assert proposed.status is ContractStatus.PROPOSED
    listed = await fcsbe_admin(app, "contracts", "list", "--status", "PROPOSED")
    assert "fsc-2026  fo NL-FLX  PROPOSED  rev 1  pending rev 1" in listed.output
    await fcsbe_admin(app, "contracts", "accept", "fsc-2026", "--reason", "signed on paper")
    assert (await client.contracts.get("fsc-2026")).status is ContractStatus.ACTIVE

    # Credentials check for a droop service over three EVSEs and one outside the contract
    # (and outside anything the FO may see: it answers like an id that does not exist).
    start = utcnow() + timedelta(hours=1)
    check = await client.credential_checks.check(
        fsc_id="fsc-2026",
        fs_type=FsType.DROOP,
        targets=[
            Target.model_validate({"level": "EVSE", "id": evse})
            for evse in (EVSE_DC, EVSE_AC1, EVSE_AC2, EVSE_HOME)
        ],
        window=TimeWindow(start=start, end=start + timedelta(hours=3)),
        required_conformity=["EN 50549-1"],
    )
    assert check.actor_ok
    assert check.contract_ok
    verdicts = {v.target.id: v for v in check.targets}
    assert verdicts[EVSE_DC].ok
    assert verdicts[EVSE_AC1].ok  # the EV's own certified inverter (UC 1.7)
    assert {r.code for r in verdicts[EVSE_AC2].reasons} == {
        ReasonCode.NOT_CAPABLE,
        ReasonCode.NOT_CONFORMANT,
    }
    assert verdicts[EVSE_HOME].reasons[0].code is ReasonCode.TARGET_UNKNOWN
    assert check.valid_until > utcnow()

    # An amendment is a new revision; the terms in force stay until it is decided.
    await client.contracts.amend("fsc-2026", amendment([SITE], fs_types=("SETPOINT",)))
    shown = await fcsbe_admin(app, "contracts", "show", "fsc-2026")
    document = json.loads(shown.output)
    assert (document["revision"], document["pending_revision"]) == (1, 2)
    await fcsbe_admin(app, "contracts", "reject", "fsc-2026", "--revision", "2")
    await fcsbe_admin(app, "contracts", "suspend", "fsc-2026", "--reason", "grid works")
    assert (await client.contracts.get("fsc-2026")).status is ContractStatus.SUSPENDED
    await fcsbe_admin(app, "contracts", "accept", "fsc-2026")
    contract = await client.contracts.get("fsc-2026")
    assert contract.status is ContractStatus.ACTIVE
    assert [(r.revision, r.status) for r in contract.revisions] == [
        (1, RevisionStatus.ACCEPTED),
        (2, RevisionStatus.REJECTED),
    ]
    assert contract.revisions[1].terms.fs_types == [FsType.SETPOINT]  # still readable

    ended = await client.contracts.terminate("fsc-2026", reason="end of pilot")
    assert ended.status is ContractStatus.TERMINATED

    feed = await read_feed(app, client, NotificationType.CONTRACT_CHANGED)
    assert all(isinstance(n, ContractChangedNotification) for n in feed)
    statuses = [n.data.status.value for n in feed if isinstance(n, ContractChangedNotification)]
    assert statuses == [
        "PROPOSED",
        "ACTIVE",
        "ACTIVE",
        "ACTIVE",
        "SUSPENDED",
        "ACTIVE",
        "TERMINATED",
    ]
    await client.aclose()
