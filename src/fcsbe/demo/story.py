"""The aggregator story of `fcsbe demo`, told through the FO client only.

Each step is a coroutine that either returns a one-line detail or raises `StepFailed`;
`demo/runner.py` runs them in order, times them and stops at the first failure. Nothing here
knows the server's internals: it speaks HTTP through `FcsbeClient` as any aggregator would, so
the same story runs against a laptop or a production deployment.

Operator actions (issuing the enrolment token, accepting the contract) use the operator's
`/admin/v1` routes with an operator token the caller provides.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from fcsbe.client import FcsbeClient, FcsbeStatusError, UnprocessableEntityError
from fcsbe.demo.outcome import (
    DemoOptions,
    DemoReport,
    FsOutcome,
    Reporter,
    StepFailed,
    failure_reason,
)
from fcsbe.demo.plan import (
    PREFERRED_SITES,
    assign_sites,
    contract_proposal,
    plan_services,
    reserve_activation,
    setpoint_update,
)
from fcsbe.demo.receiver import LocalReceiver
from fcsbe.model import (
    ContractDecisionKind,
    ContractStatus,
    FlexibilityService,
    FsResult,
    FsState,
    FsType,
    Notification,
    NotificationType,
    Party,
    PartyRole,
    Site,
    Target,
    TargetLevel,
    TimeWindow,
    generate_signing_key,
)

__all__ = ["Story"]

ENDED = frozenset(
    {
        FsState.COMPLETED,
        FsState.ABORTED,
        FsState.CANCELLED,
        FsState.RECORDED,
        FsState.PROVEN,
        FsState.DISPUTED,
    }
)
COMPLETED = frozenset({FsState.COMPLETED, FsState.RECORDED, FsState.PROVEN})
POLL_S = 0.25
RECORD_WAIT_S = 60.0
"""Extra wait for records: the server keeps reading meters for a while after an FS ends (30 s
by default) before it records it."""


class NoSiteYet(Exception):
    """No site can take some FS type yet (the credentials step tries again)."""


class Story:
    """The state shared by the steps of one run."""

    def __init__(self, options: DemoOptions, reporter: Reporter) -> None:
        self.o = options
        self.reporter = reporter
        self.report = DemoReport(party_id=options.party_id)
        self.operator = FcsbeClient(options.server, token=options.operator_token)
        self.key = generate_signing_key()
        self.fo = FcsbeClient(options.server, signing_key=self.key)
        self.receiver = LocalReceiver() if options.callback_url is None else None
        self.sites: list[Site] = []
        self.server_party_id = ""
        self.jwks: dict[str, Any] = {}
        self.fsc_id = f"demo-{uuid.uuid4()}"
        self.window_start = datetime.now(UTC)
        self.checks_s = 0.0
        """How long the credentials checks took: the server's pace, for the FS windows."""
        self.services: list[FsOutcome] = []

    @property
    def callback_url(self) -> str:
        if self.receiver is not None:
            return self.receiver.base_url
        assert self.o.callback_url is not None
        return self.o.callback_url

    async def close(self) -> None:
        await self.fo.aclose()
        await self.operator.aclose()
        if self.receiver is not None:
            self.receiver.stop()

    async def until(
        self, what: str, check: Callable[[], Awaitable[bool]], timeout_s: float | None = None
    ) -> None:
        """Poll `check` until it holds, or fail saying `what` did not happen in time."""
        deadline = time.monotonic() + (timeout_s if timeout_s is not None else self.o.timeout_s)
        while not await check():
            if time.monotonic() > deadline:
                raise StepFailed(f"timed out waiting for {what}")
            await asyncio.sleep(POLL_S)

    async def refresh(self) -> list[FlexibilityService]:
        services = await asyncio.gather(
            *(self.fo.flexibility_services.get(s.fs_id) for s in self.services)
        )
        for outcome, fs in zip(self.services, services, strict=True):
            outcome.state = fs.state
            if fs.response is not None:
                outcome.result = fs.response.result
                outcome.committed_w = fs.response.committed_w
        return list(services)

    # --- the steps -------------------------------------------------------------------------

    async def server(self) -> str:
        details = await self.fo.discovery.version_details()
        if not details.server_party_id:
            raise StepFailed("the server has no party yet (`fcsbe admin party init`)")
        self.server_party_id = details.server_party_id
        self.sites = [site async for site in self.operator.sites.list()]
        if not self.sites:
            raise StepFailed("the server serves no sites (is the simulator on?)")
        evses = sum([len(cs.evses) async for cs in self.operator.charging_stations.list()])
        return f"CSO {self.server_party_id}: {len(self.sites)} sites, {evses} EVSEs"

    async def enrol(self) -> str:
        issued = await self.operator.admin.create_enrolment_token(
            f"{self.o.party_id} (demo aggregator)", ttl_s=3600, party_id=self.o.party_id
        )
        if self.receiver is not None:
            self.receiver.start()
        party = Party(
            party_id=self.o.party_id,
            roles=[PartyRole.FO],
            legal_name=f"{self.o.party_id} Demo Aggregator B.V.",
            country="NL",
        )
        try:
            result = await self.fo.enrolments.enrol(
                issued.token, party=party, callback_base_url=self.callback_url
            )
        except UnprocessableEntityError as exc:
            raise StepFailed(
                f"the server refused the callback URL {self.callback_url} ({failure_reason(exc)}); "
                "for a local demo start it with `sh scripts/dev.sh serve` (loopback callbacks "
                "allowed), or pass --callback-url with a public https receiver"
            ) from exc
        keys = result.server_party.jwks
        self.jwks = keys.model_dump(mode="json") if keys is not None else {}
        if not self.jwks.get("keys"):
            raise StepFailed("the server's party publishes no signing keys")
        beat = await self.fo.heartbeat.send()
        return (
            f"{self.o.party_id} enrolled ({result.enrolment.enrolment_id}), Ed25519 key "
            f"registered, heartbeat every {beat.heartbeat_interval_s} s"
        )

    async def webhooks(self) -> str:
        try:
            endpoint = await self.fo.webhook_endpoints.put(self.callback_url)
        except UnprocessableEntityError as exc:
            raise StepFailed(
                f"the server refused the webhook URL ({failure_reason(exc)}); for a local demo set "
                "FCSBE_WEBHOOK_ALLOW_LOOPBACK=true and FCSBE_WEBHOOK_REQUIRE_HTTPS=false "
                "(`sh scripts/dev.sh serve` does)"
            ) from exc
        if self.receiver is None:
            return f"pushes go to {endpoint.url}; the demo reads the feed"
        if not endpoint.secret:
            raise StepFailed("the endpoint was registered without a signing secret")
        self.receiver.use_secret(endpoint.secret)
        return f"pushes go to {endpoint.url} (Standard Webhooks, HMAC-SHA256)"

    async def contract(self) -> str:
        now = datetime.now(UTC).replace(microsecond=0)
        proposal = contract_proposal(
            self.fsc_id, self.server_party_id, [site.site_id for site in self.sites], now
        )
        proposed = await self.fo.contracts.propose(proposal)
        self.reporter.step_note(f"contract {self.fsc_id} {proposed.status.value}")
        await self.operator.admin.decide_contract(
            self.fsc_id,
            ContractDecisionKind.ACCEPT,
            reason="demo: terms agreed",
            fo_party_id=self.o.party_id,
        )
        active = await self.fo.contracts.get(self.fsc_id)
        if active.status is not ContractStatus.ACTIVE:
            raise StepFailed(f"the contract is {active.status.value}, not ACTIVE")
        return f"{self.fsc_id[:13]}… ACTIVE: 7 FS types on {len(self.sites)} sites"

    async def credentials(self) -> str:
        """Check every FS type on every site and choose a site per type. A fleet that has just
        connected (chargers over OCPP report their EVs a few seconds after they boot, and the
        server stores sessions on its sync interval) may not yet be able to take every type:
        the check is repeated until it can, within the step timeout."""
        deadline = time.monotonic() + self.o.timeout_s
        while True:
            try:
                return await self._credentials()
            except NoSiteYet as exc:
                if time.monotonic() > deadline:
                    raise StepFailed(f"{exc} within {self.o.timeout_s:g} s") from exc
                await asyncio.sleep(1.0)

    async def _credentials(self) -> str:
        self.window_start = datetime.now(UTC) + timedelta(seconds=self.o.lead_s)
        window = TimeWindow(
            start=self.window_start,
            end=self.window_start + timedelta(seconds=self.o.window_s),
        )
        site_ids = [site.site_id for site in self.sites]
        pairs = [(fs_type, site_id) for fs_type in FsType for site_id in site_ids]
        began = time.monotonic()
        results = await asyncio.gather(
            *(
                self.fo.credential_checks.check(
                    fsc_id=self.fsc_id,
                    fs_type=fs_type,
                    targets=[Target(level=TargetLevel.SITE, id=site_id)],
                    window=window,
                )
                for fs_type, site_id in pairs
            )
        )
        self.checks_s = time.monotonic() - began
        refused = {r.fs_type.value for r in results if not (r.actor_ok and r.contract_ok)}
        if refused:
            raise StepFailed(f"actor or contract refused for {', '.join(sorted(refused))}")
        capable: dict[FsType, set[str]] = {fs_type: set() for fs_type in FsType}
        for (fs_type, site_id), result in zip(pairs, results, strict=True):
            if all(v.capable and v.conformant for v in result.targets):
                capable[fs_type].add(site_id)
        try:
            assignment = assign_sites(site_ids, capable)
        except ValueError as exc:
            # Say why the sites that could take the scarce types cannot (yet).
            why = [
                f"{fs_type.value} at {site_id}: {reason.code.value} {reason.detail or ''}".strip()
                for (fs_type, site_id), result in zip(pairs, results, strict=True)
                if fs_type in (FsType.DROOP, FsType.FFR)
                and site_id not in capable[fs_type]
                and site_id in PREFERRED_SITES[fs_type]
                for verdict in result.targets[:1]
                for reason in verdict.reasons[:1]
            ]
            raise NoSiteYet(f"{exc}; {'; '.join(why)}" if why else str(exc)) from exc
        self.services = [
            FsOutcome(planned, f"demo-{planned.fs_type.value.lower()}-{uuid.uuid4()}")
            for planned in plan_services(assignment, self.o.window_s)
        ]
        able = sum(len(sites) for sites in capable.values())
        return f"{len(pairs)} checks, {able} type/site pairs capable; a site chosen for each type"

    async def request(self) -> str:
        # A busy server decides slowly: the windows start after twice the time the credentials
        # checks took (at least `lead_s`), so that no FS is decided after its window began.
        lead = max(1.0, 2 * self.checks_s)
        start = max(self.window_start, datetime.now(UTC) + timedelta(seconds=lead))
        self.window_start = start
        receipts = await asyncio.gather(
            *(
                self.fo.flexibility_services.create(
                    s.planned.request(s.fs_id, self.fsc_id, start, self.o.window_s)
                )
                for s in self.services
            )
        )
        states = {r.state for r in receipts}
        return (
            f"7 requests, windows of {self.o.window_s} s from "
            f"{start.astimezone(UTC):%H:%M:%S} UTC; answered {', '.join(sorted(states))}"
        )

    async def decide(self) -> str:
        async def decided() -> bool:
            return all(fs.state is not FsState.RECEIVED for fs in await self.refresh())

        await self.until("the decisions", decided)
        refused = [
            f"{s.fs_type.value} ({s.state.value if s.state else '?'})"
            for s in self.services
            if s.result in (None, FsResult.REJECTED)
        ]
        if refused:
            services = await asyncio.gather(
                *(self.fo.flexibility_services.get(s.fs_id) for s in self.services)
            )
            reasons = [
                f"{fs.fs_type.value}: {r.code.value} {r.detail}"
                for fs in services
                if fs.response is not None and fs.response.result is FsResult.REJECTED
                for r in fs.response.reasons[:2]
            ]
            raise StepFailed(f"refused: {', '.join(refused)}; " + "; ".join(reasons))
        results = [s.result.value for s in self.services if s.result is not None]
        accepted = results.count(FsResult.ACCEPTED.value)
        return f"{accepted} accepted, {len(results) - accepted} partially accepted, 0 refused"

    async def control(self) -> str:
        by_type = {s.fs_type: s for s in self.services}
        setpoint, reserve = by_type[FsType.SETPOINT], by_type[FsType.RESERVE]
        running = {FsState.ACTIVE, FsState.ARMED}

        async def both_running() -> bool:
            await self.refresh()
            return setpoint.state in running and reserve.state in running

        to_start = max(0.0, (self.window_start - datetime.now(UTC)).total_seconds())
        wait = to_start + self.o.window_s / 2 + self.o.timeout_s
        await self.until("SETPOINT and RESERVE to start", both_running, wait)
        update = setpoint_update()
        fs = await self.fo.flexibility_services.update_setpoint(setpoint.fs_id, update)
        setpoint.control = f"now {update.p_w / 1000:g} kW"
        self.reporter.step_note(f"SETPOINT {fs.state.value}: new setpoint {update.p_w:.0f} W")
        left = self.window_start + timedelta(seconds=self.o.window_s) - datetime.now(UTC)
        activation = reserve_activation(str(uuid.uuid4()), int(left.total_seconds()) - 1)
        fs = await self.fo.flexibility_services.activate(reserve.fs_id, activation)
        reserve.control = f"{activation.direction.value} {activation.delta_p_w / 1000:g} kW"
        return (
            f"SETPOINT {setpoint.control}; RESERVE {fs.state.value} (called up {reserve.control})"
        )

    async def complete(self) -> str:
        async def ended() -> bool:
            return all(fs.state in ENDED for fs in await self.refresh())

        end = self.window_start + timedelta(seconds=self.o.window_s)
        left = max(0.0, (end - datetime.now(UTC)).total_seconds())
        await self.until("the windows to end", ended, left + self.o.timeout_s)
        bad = [f"{s.fs_type.value} {s.state}" for s in self.services if s.state not in COMPLETED]
        if bad:
            raise StepFailed(f"did not complete: {', '.join(bad)}")
        return f"all 7 completed ({', '.join(sorted({str(s.state) for s in self.services}))})"

    async def notifications(self) -> str:
        fs_ids = {s.fs_id: s for s in self.services}

        async def feed() -> list[Notification]:
            return [n async for n in self.fo.notifications.feed()]

        items: list[Notification] = []

        async def every_fs_seen_completing() -> bool:
            nonlocal items
            items = await feed()
            done = {
                n.fs_id
                for n in items
                if n.type is NotificationType.FS_STATE_CHANGED
                and n.typed_data().model_dump().get("to_state") == FsState.COMPLETED
            }
            return set(fs_ids) <= done

        await self.until("FS_STATE_CHANGED to COMPLETED for every FS", every_fs_seen_completing)
        seqs = [n.seq for n in items]
        if seqs != list(range(1, len(seqs) + 1)):
            raise StepFailed(f"the feed has gaps or is out of order: {seqs}")
        for outcome in self.services:
            outcome.notifications = sum(1 for n in items if n.fs_id == outcome.fs_id)
        types = sorted({n.type.value for n in items})
        detail = f"{len(items)} in the feed, seq 1..{len(items)} ({', '.join(types)})"
        if self.receiver is None:
            return detail
        receiver = self.receiver

        async def all_pushed() -> bool:
            return set(seqs) <= set(receiver.received())

        try:
            await self.until("the webhooks", all_pushed)
        except StepFailed as exc:
            missing = sorted(set(seqs) - set(receiver.received()))
            raise StepFailed(f"{exc}: seq {missing[:10]} not pushed") from exc
        problem = receiver.differences(items)
        if problem:
            raise StepFailed(problem)
        return f"{detail}; all {len(seqs)} pushed and signature-verified"

    async def _evidence(self, outcome: FsOutcome) -> None:
        """The evidence of a locally executed FS: its events, and its plot saved as SVG."""
        summary = await self.fo.flexibility_services.evidence_summary(outcome.fs_id)
        times = [e.response_time_s for e in summary.events if e.response_time_s is not None]
        outcome.evidence = f"{len(summary.events)} event(s)" + (
            f", slowest to 90 % {max(times):.2f} s" if times else ""
        )
        if self.o.plot_dir is not None:
            svg = await self.fo.flexibility_services.evidence_plot(outcome.fs_id)
            self.o.plot_dir.mkdir(parents=True, exist_ok=True)
            path = self.o.plot_dir / f"{outcome.fs_id}.svg"
            path.write_text(svg, encoding="utf-8")
            outcome.evidence += f"; plot {path}"
            self.reporter.step_note(f"{outcome.fs_type.value}: {outcome.evidence}")

    async def records(self) -> str:
        async def record_of(outcome: FsOutcome) -> None:
            async def available() -> bool:
                try:
                    record = await self.fo.records.get(outcome.fs_id)
                except FcsbeStatusError as exc:
                    if exc.status_code in (404, 409):
                        return False
                    raise
                outcome.delivered_wh = record.totals.delivered_energy_wh
                outcome.intervals = record.totals.intervals_total
                return True

            wait = self.o.timeout_s + RECORD_WAIT_S
            await self.until(f"the record of {outcome.fs_type.value}", available, wait)
            verdict, _record, _proof = await self.fo.records.verify(outcome.fs_id, self.jwks)
            if not verdict.valid:
                outcome.proof = "INVALID"
                raise StepFailed(f"{outcome.fs_type.value}: {'; '.join(verdict.problems)}")
            if outcome.fs_type in (FsType.DROOP, FsType.FFR):
                await self._evidence(outcome)
            validated = await self.fo.records.validate(outcome.fs_id, "ACCEPT")
            state = validated.validation.status.value
            outcome.proof = f"valid, {state}"
            outcome.state = (await self.fo.flexibility_services.get(outcome.fs_id)).state

        self.reporter.step_note(
            "the server waits for late meter readings before recording (FCSBE_RECORD_DELAY_S)"
        )
        await asyncio.gather(*(record_of(s) for s in self.services))
        proven = sum(1 for s in self.services if s.state is FsState.PROVEN)
        return f"7 DSR and PoW verified with the CSO's key from enrolment; {proven} FS PROVEN"
