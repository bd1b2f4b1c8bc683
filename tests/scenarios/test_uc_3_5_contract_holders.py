"""UC 3.5 - Discover flexibility service contract holders (roaming, UC 1.2 / 1.4).

Two aggregators hold contracts over the same site of the visited CSO: one with the CSO itself
(SETPOINT), one held by an EV user's home CSP (DYNAMIC_PRICE). A roaming session is governed by
whoever controls it: the home CSP's contract for a session its EV user's home CSP controls
(scenario 2), the visited CSO's for one the CSO controls (scenario 1). A lookup by EVSE or by
pseudonymous session reference finds the holders; each aggregator sees its own contract ids and
nothing of the other's but the holder and FS types.
"""

from __future__ import annotations

from fastapi import FastAPI

from fcsbe.model import ContractDecisionKind, FsType, PartyRole, Target
from fcsbe.server.storage.infrastructure import EvSessionRow
from tests.support.flows import asgi_client, enrol_fo, init_server, proposal
from tests.support.registry_fixtures import (
    EVSE_AC1,
    EVSE_HOME,
    SESSION_AC1,
    SESSION_AC2,
    SESSION_DC,
    add_registry,
)

SITE = {"level": "SITE", "id": "site-ams"}


def _holders(result: object) -> set[tuple[str, str, tuple[str, ...], str | None]]:
    return {
        (h.party_id, h.role.value, tuple(t.value for t in h.fs_types), h.fsc_id)
        for h in result.holders  # type: ignore[attr-defined]
    }


async def test_roaming_session_holders(app: FastAPI) -> None:
    operator = await init_server(app, "NL-CSO")
    await add_registry(
        app.state.session_factory,
        home_party_id="DE-HCP",
        visited_party_id="NL-CSO",
        fs_controller="HOME",
    )
    # This one the visited CSO controls: set on the row, as the station adapter reports roaming
    # data and no API writes it (a setup step, not a check of an effect).
    async with app.state.session_factory() as session:
        row = await session.get(EvSessionRow, SESSION_AC2)
        assert row is not None
        row.home_party_id = "FR-OTHER"
        row.fs_controller = "VISITED"
        await session.commit()
    visited = await enrol_fo(app, operator, "NL-AGG")
    home = await enrol_fo(app, operator, "DE-AGG")
    await visited.client.contracts.propose(proposal("fsc-v", [SITE], fs_types=("SETPOINT",)))
    await home.client.contracts.propose(
        proposal(
            "fsc-h",
            [SITE],
            fs_types=("DYNAMIC_PRICE",),
            holder_role="H_CSP",
            holder_party_id="DE-HCP",
            data_sharing_level="SESSION",
        )
    )
    async with asgi_client(app, token=operator) as op:
        for fo_id, fsc in (("NL-AGG", "fsc-v"), ("DE-AGG", "fsc-h")):
            await op.admin.decide_contract(fsc, ContractDecisionKind.ACCEPT, fo_party_id=fo_id)

    home_controlled = Target.model_validate({"level": "SESSION", "id": SESSION_AC1})
    assert _holders(await home.client.contract_holders.lookup(home_controlled)) == {
        ("DE-HCP", "H_CSP", ("DYNAMIC_PRICE",), "fsc-h")
    }
    assert _holders(await visited.client.contract_holders.lookup(home_controlled)) == {
        ("DE-HCP", "H_CSP", ("DYNAMIC_PRICE",), None)
    }
    visited_controlled = Target.model_validate({"level": "SESSION", "id": SESSION_AC2})
    assert _holders(await visited.client.contract_holders.lookup(visited_controlled)) == {
        ("NL-CSO", "V_CSO", ("SETPOINT",), "fsc-v")
    }
    assert _holders(await home.client.contract_holders.lookup(visited_controlled)) == {
        ("NL-CSO", "V_CSO", ("SETPOINT",), None)
    }
    # The session list of the home CSP's aggregator agrees: it sees the session its home CSP
    # controls, under the H-CSP as holder, and not the one the visited CSO controls.
    listed = await home.client.sessions.list().to_list()
    assert {s.session_ref: [(h.party_id, h.role) for h in s.holders] for s in listed} == {
        SESSION_AC1: [("DE-HCP", PartyRole.H_CSP)],
        SESSION_DC: [("DE-HCP", PartyRole.H_CSP)],
    }
    # By EVSE: both contracts cover it, each under its holder's role; filtered by FS type.
    evse = Target.model_validate({"level": "EVSE", "id": EVSE_AC1})
    assert _holders(await visited.client.contract_holders.lookup(evse)) == {
        ("NL-CSO", "CSO", ("SETPOINT",), "fsc-v"),
        ("DE-HCP", "H_CSP", ("DYNAMIC_PRICE",), None),
    }
    by_type = await visited.client.contract_holders.lookup(evse, fs_type=FsType.DYNAMIC_PRICE)
    assert [(h.party_id, h.role) for h in by_type.holders] == [("DE-HCP", PartyRole.H_CSP)]
    # Outside every contract: nobody holds it, and an unknown target answers the same (an
    # FO must not tell existing ids from made-up ones).
    outside = Target.model_validate({"level": "EVSE", "id": EVSE_HOME})
    assert (await visited.client.contract_holders.lookup(outside)).holders == []
    unknown = Target.model_validate({"level": "SESSION", "id": "ps_unknown_ref_1"})
    assert (await visited.client.contract_holders.lookup(unknown)).holders == []
    await visited.client.aclose()
    await home.client.aclose()
