"""No raw EV or user identifier leaves the server, nor is kept by it (issue 8, quality goal S7).

The demo fleet runs for hours of simulated time behind the real server with every log at DEBUG:
EVs arrive and leave, an FO with a SESSION-level contract sharing every personal-data category
reads sessions, sites and stations, runs a setpoint FS to its end, gets its detailed service
record and proof of work, and reads its notifications and the event log; meanwhile the operator
invites one of the demo's named EV users, who opens the phone app and gives V2G consent. Every
raw identifier the stations reported (session keys, ID tokens - eMAIDs and RFID UIDs -, VINs and
EVCCIDs) and the invited user's identifier is collected, and none may appear in the captured
logs, the FO's responses, the notifications, the event log, or anywhere in the database (the
identifier is stored only as a keyed hash, `ev_users.identifier_hash`).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from fcsbe.client import FcsbeClient, RetryPolicy
from fcsbe.model import (
    EvUserConsentLevel,
    FlexibilityServiceRequest,
    FsState,
    PersonalDataCategory,
)
from fcsbe.server.adapters.base import StationAdapter
from fcsbe.server.notifications.sequencer import assign_sequence
from fcsbe.server.platform.observability import JsonFormatter
from fcsbe.server.services.event_log.log import chain_pending
from fcsbe.server.services.event_log.tree import tree_step
from fcsbe.server.services.records.dsr.inputs import MeterSample, RecordInputs
from fcsbe.server.services.records.records import issue_proofs, record_fs
from fcsbe.server.settings import Settings
from fcsbe.server.storage.base import Base
from fcsbe.server.storage.flexibility_services import get_fs
from fcsbe.server.storage.measurements import readings_between
from fcsbe.sim.scenarios import DEMO_EV_USERS
from tests.scenarios.conftest import StartScenario
from tests.scenarios.harness import Harness, harness
from tests.support.dsr_fixtures import meter
from tests.support.factories import make_contract, make_fo, make_operator
from tests.support.fs_fixtures import request_body

FO = "FO-S"
SITES = ("SITE-DEPOT", "SITE-CARPARK")


class Capture(logging.Handler):
    """Every log record, formatted as the server writes it (JSON, extras included)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(JsonFormatter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@contextmanager
def captured_logs() -> Iterator[Capture]:
    """Capture the root logger and the `fcsbe` loggers (which do not propagate) at DEBUG."""
    capture = Capture()
    loggers = [logging.getLogger(), logging.getLogger("fcsbe")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(capture)
        logger.setLevel(logging.DEBUG)
    try:
        yield capture
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.removeHandler(capture)
            logger.setLevel(level)


class Recording(httpx.AsyncBaseTransport):
    """The FO's side of the wire: every response body it received."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.bodies: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        body = await response.aread()
        self.bodies.append(body.decode("utf-8", errors="replace"))
        return httpx.Response(
            response.status_code, headers=response.headers, content=body, request=request
        )


def _one_of(words: Iterable[str]) -> str:
    """A regular expression matching any of `words`, the longest that fits first.

    The words (hundreds of identifiers) are a tree of their common prefixes: a flat
    alternation makes the regex engine try every word at every word start of megabytes of
    logs, the tree only the words that begin as the text does there (several times faster)."""
    tree: dict[str, Any] = {}
    for word in words:
        node = tree
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}  # a word ends here

    def render(node: dict[str, Any]) -> str:
        branches = [re.escape(char) + render(child) for char, child in sorted(node.items()) if char]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else f"(?:{'|'.join(branches)})"
        # Greedy: a longer word through this node is tried before the one ending here.
        return f"(?:{body})?" if "" in node else body

    return render(tree)


def leaks(raw: Iterable[str], texts: Iterable[str]) -> dict[str, list[str]]:
    """For each raw identifier found, the start of the texts holding it (empty: no leak).

    An identifier counts where it stands on its own (not inside a longer run of letters and
    digits): a 12-digit hex EVCCID would otherwise turn up by chance inside signatures and
    random tokens."""
    pattern = re.compile(f"(?<![0-9A-Za-z])(?:{_one_of(raw)})(?![0-9A-Za-z])")
    found: dict[str, list[str]] = {}
    for text in texts:
        for match in pattern.finditer(text):
            found.setdefault(match.group(0), []).append(text[:200])
    return found


def test_the_leak_finder_finds_a_raw_identifier() -> None:
    texts = ['{"msg": "ev sim-00ab12cd34ef5678 plugged"}', "nothing here", "ps_9Kq2vX7mT4rB8nL1"]
    assert leaks({"sim-00ab12cd34ef5678", "NL-ABC-C12345678-9"}, texts) == {
        "sim-00ab12cd34ef5678": ['{"msg": "ev sim-00ab12cd34ef5678 plugged"}']
    }
    assert leaks({"00ab12cd34ef5678"}, ["ps_9Kq2vX7mT4rB8nL1"]) == {}
    assert leaks({"0A5A795B8509"}, ["sig=x0A5A795B8509y", '{"evccid": "0A5A795B8509"}']) == {
        "0A5A795B8509": ['{"evccid": "0A5A795B8509"}']
    }


async def _raw_identifiers(stations: StationAdapter, into: set[str]) -> None:
    """What the stations report now that identifies an EV or its user (as the server reads it)."""
    for reported in await stations.sessions():
        into.add(reported.session_key)
        into.add(reported.session_key.removeprefix("sim-"))  # the random part on its own
        for raw in (reported.id_token, reported.vin, reported.evcc_id):
            if raw:
                into.add(raw)


async def _invited_user_opens_the_app(h: Harness, identifier: str) -> str:
    """The operator invites a named EV user over the admin API (as an operator's tools do) and
    the user opens the app: their access token."""
    operator = await make_operator(h.app.state.session_factory)
    transport = httpx.ASGITransport(app=h.app, raise_app_exceptions=False)
    async with FcsbeClient("http://fcsbe.test", token=operator, transport=transport) as admin:
        link = await admin.ev_users.invite(identifier, expires_in_s=600)
        assert [u async for u in admin.ev_users.list_users()]
    async with FcsbeClient("http://fcsbe.test", transport=transport) as anonymous:
        token = await anonymous.ev_users.exchange_invite(link.invite_url.split("=", 1)[1])
    return token.access_token


async def _app_shows_the_car(h: Harness, access_token: str) -> int:
    """The EV user gives V2G consent and looks at their sessions (their own side of the wire,
    not the FO's): how many of them are connected now."""
    transport = httpx.ASGITransport(app=h.app, raise_app_exceptions=False)
    async with FcsbeClient("http://fcsbe.test", token=access_token, transport=transport) as app:
        await app.ev_users.set_consent(EvUserConsentLevel.V2G)
        await app.ev_users.participations()
        return (await app.ev_users.profile()).connected_sessions


async def _run_fs(h: Harness, fo: FcsbeClient, raw: set[str]) -> None:
    """A setpoint FS on the depot, run to its end, recorded and proven."""
    body = request_body(
        "fs-privacy",
        fsc_id="fsc-s",
        targets=[("SITE", "SITE-DEPOT")],
        p_w=15_000,
        start_in=timedelta(seconds=60),
        now=h.now,
        duration=timedelta(minutes=10),
    )
    await fo.flexibility_services.create(FlexibilityServiceRequest.model_validate(body))
    started = h.now
    for _ in range(16):
        await h.run(60, tick_s=20)
        await _raw_identifiers(h.stations, raw)
        await fo.flexibility_services.measurements("fs-privacy")
    assert (await fo.flexibility_services.get("fs-privacy")).state in {
        FsState.COMPLETED,
        FsState.RECORDED,
    }
    factory = h.app.state.session_factory
    evses = h.evses_of("SITE-DEPOT")
    async with factory() as db:
        rows = await readings_between(db, evses, started, h.now)
        samples = [
            MeterSample(
                meter_id=r.meter_id,
                at=r.at,
                e_import_wh=r.e_import_wh or 0.0,
                e_export_wh=r.e_export_wh or 0.0,
                p_w=r.p_w,
                soc_pct=r.soc_pct,
                quality=r.quality,
            )
            for r in rows
        ]
        fs = await get_fs(db, FO, "fs-privacy")
        assert fs is not None
        inputs = RecordInputs(meters=[meter(e) for e in evses], readings=samples)
        await record_fs(db, fs.id, inputs, now=h.now)
        await db.commit()
    for _ in range(3):
        async with factory() as db:
            await chain_pending(db)
            await tree_step(db, h.app.state.keys, 0.0)
            await issue_proofs(db, h.app.state.keys, now=h.now)
            await db.commit()
    await fo.records.get("fs-privacy")
    await fo.records.proof("fs-privacy")


async def _database_text(app: FastAPI) -> list[str]:
    """Every row of every table, as text."""
    texts: list[str] = []
    async with app.state.session_factory() as db:
        for table in Base.metadata.sorted_tables:
            for row in (await db.execute(select(table))).all():
                texts.append(json.dumps([str(v) for v in row], ensure_ascii=False))
    return texts


async def test_no_raw_identifier_in_logs_responses_notifications_or_storage(
    settings: Settings,
) -> None:
    invited = DEMO_EV_USERS[1]  # drives the car park's V2G SUV
    raw: set[str] = {invited.identifier}
    with captured_logs() as logs:
        async with harness(settings, contract_sites=list(SITES)) as h:
            factory = h.app.state.session_factory
            app_token = await _invited_user_opens_the_app(h, invited.identifier)
            token = await make_fo(factory, FO)
            await make_contract(
                factory,
                FO,
                "fsc-s",
                [("SITE", s) for s in SITES],
                level="SESSION",
                categories=[c.value for c in PersonalDataCategory],
                provider_party_id="CSO-VISITED",
            )
            wire = Recording(httpx.ASGITransport(app=h.app, raise_app_exceptions=False))
            async with FcsbeClient(
                "http://fcsbe.test", token=token, transport=wire, retry=RetryPolicy()
            ) as fo:
                await _run_fs(h, fo, raw)  # first, while the stations' clock is the server's
                connected = await _app_shows_the_car(h, app_token)
                for _ in range(12):  # three hours: arrivals and departures
                    await h.run(900, tick_s=300)
                    await _raw_identifiers(h.stations, raw)
                    await fo.sessions.list(include_ended=True).to_list()
                sessions = await fo.sessions.list(include_ended=True).to_list()
                for session in sessions[:5]:
                    await fo.sessions.get(session.session_ref)
                await fo.sites.list().to_list()
                await fo.charging_stations.list().to_list()
                async with factory() as db:
                    await assign_sequence(db)  # the delivery worker's first step
                    await db.commit()
                notifications = await fo.notifications.feed().to_list()
                entries = await fo.event_log.list().to_list()
                await h.fo.sessions.list().to_list()  # the EVSE-level FO: sees none
            stored = await _database_text(h.app)
    assert len(raw) >= 10, "the fleet should have reported EV sessions"
    assert any(r.startswith("04") and len(r) == 14 for r in raw), "an RFID UID"
    assert any(len(r) == 17 and "-" not in r for r in raw), "a VIN"
    assert invited.vin in raw, "the invited user's car should have been reported"
    assert connected == 1, "the app should show the invited user's car plugged in"
    assert sessions, "the SESSION-level FO should see sessions"
    assert {n.type.value for n in notifications} >= {"EV_CONNECTED", "FS_STATE_CHANGED"}
    assert entries, "the event log should have entries"
    assert len(logs.lines) > 100, "DEBUG logs should have been captured"
    assert leaks(raw, logs.lines) == {}, "raw identifiers in the logs"
    assert leaks(raw, wire.bodies) == {}, "raw identifiers in FO-facing responses"
    event_log = [e.model_dump_json() for e in entries]
    assert leaks(raw, event_log) == {}, "raw identifiers in the event log"
    assert leaks(raw, stored) == {}, "raw identifiers stored (outbox, event log, any table)"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Every test here runs the server with its logs at DEBUG, as JSON lines."""
    return settings.model_copy(update={"log_level": "DEBUG", "log_json": True})


@pytest.mark.parametrize("fleet", ["uc-1.1", "uc-1.2", "uc-1.4", "uc-1.7"])
async def test_use_case_fleets_leak_nothing(scenario: StartScenario, fleet: str) -> None:
    """Home, roaming (visited and home-controlled) and on-board-inverter fleets: two hours of
    sessions read by a SESSION-level FO of every party that governs some of them."""
    raw: set[str] = set()
    with captured_logs() as logs:
        async with scenario(fleet) as run:
            factory = run.app.state.session_factory
            sites = [("SITE", s.site_id) for s in run.fleet.sites]
            wire = Recording(httpx.ASGITransport(app=run.app, raise_app_exceptions=False))
            reported = run.stations.simulator.sessions()
            parties = {p for s in reported for p in (s.home_party, s.visited_party) if p}
            clients = []
            for n, party in enumerate(sorted(parties | {"CSO-1"})):
                token = await make_fo(factory, f"FO-{n}")
                await make_contract(
                    factory,
                    f"FO-{n}",
                    f"fsc-{n}",
                    sites,
                    level="SESSION",
                    categories=[c.value for c in PersonalDataCategory],
                    provider_party_id=party,
                )
                fo = FcsbeClient("http://fcsbe.test", token=token, transport=wire)
                clients.append(await run.stack.enter_async_context(fo))
            seen = 0
            for _ in range(8):
                await _raw_identifiers(run.stations, raw)
                for fo in clients:
                    seen += len(await fo.sessions.list(include_ended=True).to_list())
                await run.advance(900, dt_s=60)
            async with factory() as db:
                await assign_sequence(db)
                await db.commit()
            for fo in clients:
                await fo.notifications.feed().to_list()
                await fo.event_log.list().to_list()
            stored = await _database_text(run.app)
    assert raw, "the fleet should have reported sessions"
    assert any("-C" in r for r in raw), "an eMAID"
    assert seen, "an FO should have seen sessions"
    assert leaks(raw, logs.lines) == {}, "raw identifiers in the logs"
    assert leaks(raw, wire.bodies) == {}, "raw identifiers in FO-facing responses"
    assert leaks(raw, stored) == {}, "raw identifiers stored"
