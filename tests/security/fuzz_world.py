"""The data the API fuzzing runs against: enrolled FOs, contracts, an FS and the operator.

Built through the real flows (enrolment with a one-time token, a contract proposed by the FO and
accepted by the operator, an FS requested through the client), so the fuzzed requests reach the
real code behind authentication and find ids that exist. Operations that would destroy the main
FO's access (deleting its enrolment, rotating its token) run as a second FO of their own.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import httpx
from fastapi import FastAPI

from fcsbe.model import ContractDecisionKind, FlexibilityServiceRequest
from tests.support.flows import asgi_client, enrol_fo, init_server, proposal
from tests.support.fs_fixtures import request_body
from tests.support.registry_fixtures import EVSE_AC1, EVSE_DC, EVSE_HOME, add_registry

__all__ = ["FuzzWorld", "build_world", "world_path_ids"]

FO_A = "NL-FO-FUZZ"
FO_SELF = "NL-FO-SELF"
"""The FO whose own enrolment the destructive operations act on."""

PATH_IDS = {"fsc_id": "fsc-fuzz", "fs_id": "fs-fuzz", "site_id": "site-ams", "cs_id": "cs-dc"}
"""Ids of the world's objects, by path parameter (fixed, so known before the world exists)."""
SPARE_PATH_IDS = {
    ("POST", "/v1/contracts/{fsc_id}/terminate"): {"fsc_id": "fsc-spare"},
    ("POST", "/admin/v1/contracts/{fsc_id}/decision"): {"fsc_id": "fsc-home"},
}
"""Operations that would end or suspend the main contract act on others."""

SELF_DESTRUCTIVE = {
    ("DELETE", "/v1/enrolments/self"),
    ("PUT", "/v1/enrolments/self/credentials"),
}


@dataclass
class FuzzWorld:
    """Tokens of each caller and the ids that exist."""

    operator: str
    fo: str
    fo_self: str
    enrolment_token: str
    ev_user: str
    ev_invite: str
    """The one-time code of an EV user's personal link (for `POST /v1/ev-user/token`)."""
    ids: dict[str, str] = field(default_factory=dict)

    def token_for(self, method: str, path: str) -> str:
        """The caller an operation is for (see tests/security/matrix.py)."""
        if path.startswith("/admin/"):
            return self.operator
        if (method.upper(), path) == ("POST", "/v1/enrolments"):
            return self.enrolment_token
        if (method.upper(), path) == ("POST", "/v1/ev-user/token"):
            return self.ev_invite
        if path.startswith("/v1/ev-user/"):
            return self.ev_user
        if (method.upper(), path) in SELF_DESTRUCTIVE:
            return self.fo_self
        return self.fo

    def headers_for(self, method: str, path: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token_for(method, path)}"}


async def _ev_user(app: FastAPI, operator_token: str) -> tuple[str, str]:
    """An EV user who opened their personal link, and an unused link: (token, code)."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://fcsbe.test") as http:

        async def invite() -> str:
            answer = await http.post(
                "/admin/v1/ev-users",
                json={"identifier": "NL-XYZ-C00000001"},
                headers={"authorization": f"Bearer {operator_token}"},
            )
            return str(answer.raise_for_status().json()["invite_url"].split("#invite=")[1])

        opened = await http.post(
            "/v1/ev-user/token", headers={"authorization": f"Bearer {await invite()}"}
        )
        return str(opened.raise_for_status().json()["access_token"]), await invite()


def world_path_ids(method: str, path: str) -> dict[str, str]:
    """The existing ids an operation's path parameters may take."""
    return {**PATH_IDS, **SPARE_PATH_IDS.get((method.upper(), path), {})}


async def build_world(app: FastAPI) -> FuzzWorld:
    """Enrol two FOs, agree a contract (no signature required), request an FS."""
    operator_token = await init_server(app)
    await add_registry(app.state.session_factory)
    fo = await enrol_fo(app, operator_token, FO_A)
    fo_self = await enrol_fo(app, operator_token, FO_SELF)
    async with asgi_client(app, token=operator_token) as operator, fo.client, fo_self.client:
        targets = [{"level": "EVSE", "id": EVSE_DC}]
        await fo.client.contracts.propose(
            proposal("fsc-fuzz", targets, fs_types=("SETPOINT", "DROOP", "CONGESTION"))
        )
        await operator.admin.decide_contract(
            "fsc-fuzz", ContractDecisionKind.ACCEPT, fo_party_id=FO_A
        )
        await fo.client.contracts.propose(
            proposal("fsc-spare", [{"level": "EVSE", "id": EVSE_AC1}], fs_types=("CONGESTION",))
        )
        await operator.admin.decide_contract(
            "fsc-spare", ContractDecisionKind.ACCEPT, fo_party_id=FO_A
        )
        await fo.client.contracts.propose(
            proposal("fsc-home", [{"level": "EVSE", "id": EVSE_HOME}], fs_types=("CONGESTION",))
        )
        request = request_body("fs-fuzz", fsc_id="fsc-fuzz", targets=[("EVSE", EVSE_DC)])
        await fo.client.flexibility_services.create(
            FlexibilityServiceRequest.model_validate(request)
        )
        issued = await operator.admin.create_enrolment_token("NL-FO-NEW B.V.")
        ev_user, ev_invite = await _ev_user(app, operator_token)
        return FuzzWorld(
            operator=operator_token,
            fo=fo.token,
            fo_self=fo_self.token,
            enrolment_token=issued.token,
            ev_user=ev_user,
            ev_invite=ev_invite,
            ids={**PATH_IDS, "enrolment_id": fo.result.enrolment.enrolment_id},
        )
