"""Targets outside the caller's visibility answer exactly like ids that do not exist.

An FO with one contract names targets it may not see (another FO's, or a session below its
data-sharing level) and made-up ids of the same level, through the real client, in every place
that judges named targets: the credentials check, the FS decision, capabilities, availability,
contract proposals (including their overlap rule) and the holder lookup. Each answer must be
byte-identical apart from the id (and the times of separate requests); otherwise EVSE ids, which
are sequential, would let any FO list the CSO's fleet (`docs/privacy.md`).
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI

from fcsbe.client import FcsbeClient, NotFoundError
from fcsbe.model import (
    ContractDecisionKind,
    ContractStatus,
    FlexibilityServiceRequest,
    FsType,
    Target,
    TimeWindow,
)
from fcsbe.server.services.flexibility_services.decision_batch import decide_pending
from fcsbe.server.storage.base import utcnow
from tests.support.flows import Fo, asgi_client, enrol_fo, init_server, proposal
from tests.support.fs_fixtures import request_body
from tests.support.registry_fixtures import EVSE_DC, EVSE_HOME, SESSION_DC, add_registry

HIDDEN_AND_UNKNOWN = [
    ("SITE", "site-other", "site-nowhere"),
    ("CS", "cs-home", "cs-nowhere"),
    ("EVSE", EVSE_HOME, "NL*CSO*E0010*1"),  # the next id in sequence, which does not exist
    ("SESSION", SESSION_DC, "ps_unknown_ref_1"),  # its EVSE is covered, at EVSE level only
]
"""(level, a real target the FO may not see, an id that does not exist)."""


def target(level: str, target_id: str) -> Target:
    return Target.model_validate({"level": level, "id": target_id})


def masked(document: Any, target_id: str, *, blank: tuple[str, ...] = ()) -> str:
    """The JSON of `document` with the target's id replaced (and the `blank` members blanked)."""
    if hasattr(document, "model_dump"):
        document = document.model_dump(mode="json")
    for key in blank:
        document[key] = "<time>"
    return json.dumps(document, sort_keys=True).replace(target_id, "<id>")


async def _accept(app: FastAPI, operator: str, fsc_id: str) -> None:
    async with asgi_client(app, token=operator) as op:
        await op.admin.decide_contract(fsc_id, ContractDecisionKind.ACCEPT)


@pytest.fixture
async def world(app: FastAPI) -> Any:
    """FO A holds site-ams at EVSE level; FO B holds EVSE_HOME (on site-other)."""
    operator = await init_server(app)
    await add_registry(app.state.session_factory)
    fo = await enrol_fo(app, operator, "NL-FLX")
    other = await enrol_fo(app, operator, "NL-OTHER")
    await fo.client.contracts.propose(
        proposal("fsc-a", [{"level": "SITE", "id": "site-ams"}], fs_types=("SETPOINT", "DROOP"))
    )
    await _accept(app, operator, "fsc-a")
    await other.client.contracts.propose(
        proposal("fsc-b", [{"level": "EVSE", "id": EVSE_HOME}], fs_types=("SETPOINT", "DROOP"))
    )
    await _accept(app, operator, "fsc-b")
    yield fo, other, operator
    await fo.client.aclose()
    await other.client.aclose()


def _window() -> TimeWindow:
    start = utcnow() + timedelta(hours=1)
    return TimeWindow(start=start, end=start + timedelta(hours=2))


async def test_credentials_check_answers_hidden_targets_like_unknown_ones(
    world: tuple[Fo, Fo, str],
) -> None:
    fo, _, _ = world
    client: FcsbeClient = fo.client
    targets = [target(level, t) for level, *pair in HIDDEN_AND_UNKNOWN for t in pair]
    result = await client.credential_checks.check(
        fsc_id="fsc-a", fs_type=FsType.DROOP, targets=targets, window=_window()
    )
    for index, (_level, hidden, unknown) in enumerate(HIDDEN_AND_UNKNOWN):
        seen, made_up = result.targets[2 * index], result.targets[2 * index + 1]
        assert masked(seen, hidden) == masked(made_up, unknown), hidden
        assert [r.code.value for r in seen.reasons] == ["TARGET_UNKNOWN"]
        assert seen.conformity_evidence == []
        assert seen.missing_functions == []
    # Separate requests too: the whole result, apart from the id and the times.
    for level, hidden, unknown in HIDDEN_AND_UNKNOWN:
        answers = [
            await client.credential_checks.check(
                fsc_id="fsc-a", fs_type=FsType.DROOP, targets=[target(level, t)], window=_window()
            )
            for t in (hidden, unknown)
        ]
        assert masked(answers[0], hidden, blank=("checked_at", "valid_until")) == masked(
            answers[1], unknown, blank=("checked_at", "valid_until")
        )
    # What the FO may see still gets the full verdict.
    visible = await client.credential_checks.check(
        fsc_id="fsc-a", fs_type=FsType.DROOP, targets=[target("EVSE", EVSE_DC)], window=_window()
    )
    assert visible.targets[0].ok


async def test_fs_decision_answers_hidden_targets_like_unknown_ones(
    app: FastAPI, world: tuple[Fo, Fo, str]
) -> None:
    fo, _, _ = world
    for level, hidden, unknown in HIDDEN_AND_UNKNOWN:
        for fs_id, target_id in (("fs-h", hidden), ("fs-u", unknown)):
            body = request_body(f"{fs_id}-{level}", fsc_id="fsc-a", targets=[(level, target_id)])
            await fo.client.flexibility_services.create(
                FlexibilityServiceRequest.model_validate(body)
            )
        while True:
            async with app.state.session_factory() as session:
                decided = await decide_pending(session, utcnow(), app.state.keys.sign)
                await session.commit()
            if not decided:
                break
        seen = await fo.client.flexibility_services.get(f"fs-h-{level}")
        made_up = await fo.client.flexibility_services.get(f"fs-u-{level}")
        assert seen.response is not None
        assert made_up.response is not None
        assert seen.state is made_up.state
        # The signature covers the fs_id and the time, so it differs like them.
        ignored = ("decided_at", "fs_id", "signature")
        assert masked(seen.response, hidden, blank=ignored) == masked(
            made_up.response, unknown, blank=ignored
        ), level
        assert {r.code.value for r in seen.response.reasons} == {"TARGET_UNKNOWN"}
        named = {r.target.id for r in seen.response.reasons if r.target is not None}
        assert named == {hidden}, "no EVSE of the hidden target is named"


async def test_capabilities_and_availability_answer_hidden_targets_like_unknown_ones(
    world: tuple[Fo, Fo, str],
) -> None:
    fo, _, _ = world
    for level, hidden, unknown in HIDDEN_AND_UNKNOWN:
        problems = []
        for target_id in (hidden, unknown):
            with pytest.raises(NotFoundError) as capabilities:
                await fo.client.capabilities.get([target(level, target_id)])
            with pytest.raises(NotFoundError) as availability:
                await fo.client.availability.get(target(level, target_id))
            problems.append(
                [
                    masked(caught.value.problem.model_copy(update={"instance": None}), target_id)
                    for caught in (capabilities, availability)
                ]
            )
        assert problems[0] == problems[1], level


async def test_proposals_learn_nothing_of_hidden_targets(world: tuple[Fo, Fo, str]) -> None:
    fo, _, _ = world
    types = iter([("FFR",), ("CONGESTION",), ("DYNAMIC_PRICE",)])
    for level, hidden, unknown in HIDDEN_AND_UNKNOWN[:3]:  # sessions are never contract targets
        fs_types = next(types)
        answers = []
        for suffix, target_id in (("h", hidden), ("u", unknown)):
            made = await fo.client.contracts.propose(
                proposal(
                    f"fsc-{level}-{suffix}",
                    [{"level": level, "id": target_id}],
                    fs_types=fs_types,
                )
            )
            answers.append(made)
        assert [a.status for a in answers] == [ContractStatus.PROPOSED] * 2
    # The overlap rule does not reveal what contains what: a proposal naming cs-home after
    # one naming site-other (the station is on that site) is taken like one naming a
    # made-up station after a made-up site.
    for site, station, suffix in (("site-other", "cs-home", "h"), ("site-x", "cs-x", "u")):
        await fo.client.contracts.propose(
            proposal(f"fsc-s-{suffix}", [{"level": "SITE", "id": site}], fs_types=("RESERVE",))
        )
        inner = await fo.client.contracts.propose(
            proposal(f"fsc-c-{suffix}", [{"level": "CS", "id": station}], fs_types=("RESERVE",))
        )
        assert inner.status is ContractStatus.PROPOSED


async def test_holder_lookup_answers_unknown_ids_like_targets_nobody_holds(
    world: tuple[Fo, Fo, str],
) -> None:
    fo, _, _ = world
    answers = [
        await fo.client.contract_holders.lookup(target("CS", t)) for t in ("cs-home", "cs-nowhere")
    ]
    assert answers[0].holders == []  # FO B's contract names the EVSE, not the station
    assert masked(answers[0], "cs-home", blank=("at",)) == masked(
        answers[1], "cs-nowhere", blank=("at",)
    )
