"""Decisions in batches: the decision step claims RECEIVED FS, locks what they touch in one
fixed order, reads everything the batch needs in a fixed number of queries
(`storage/decision_batch.py`), decides each FS in memory in claim order (each seeing the
capacity and activations the ones before it took) with the rules of `decision.py`, and writes
each table with one statement; a batch whose write fails is decided again one FS at a time.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from fcsbe.model import (
    ChargingStation,
    ContractTerms,
    Evse,
    FlexibilityServiceRequest,
    FlexibilityServiceResponse,
    FsResult,
    FsState,
    ReasonCode,
)
from fcsbe.server.platform.metrics_hooks import record_decision
from fcsbe.server.platform.observability import correlation_scope
from fcsbe.server.services.flexibility_services.decision import (
    _COUNTED,
    _LIVE,
    Signer,
    _check_terms,
    _commitment,
    _conclude,
    _day_of,
    _Decision,
    _split,
    _summary,
    decide,
)
from fcsbe.server.services.flexibility_services.decision_rules import (
    EvuBound,
    power_need,
)
from fcsbe.server.services.flexibility_services.lifecycle import (
    Moved,
    planned_move,
)
from fcsbe.server.services.records.inputs import (
    declared_baseline_values,
    declared_periods,
)
from fcsbe.server.services.registry.target_scope import ResolvedTarget, resolve_targets
from fcsbe.server.services.registry.target_visibility import visible_only
from fcsbe.server.storage.contracts import ContractRow
from fcsbe.server.storage.decision_batch import (
    ActivationDay,
    Hold,
    activations_on_days,
    contract_scopes,
    contracts_by_id,
    declared_baselines,
    expand_targets_many,
    insert_rows,
    last_transitions,
    live_holds,
    replace_targets_many,
)
from fcsbe.server.storage.decisions import received_fs
from fcsbe.server.storage.event_log import EventLogRow
from fcsbe.server.storage.fleet import (
    EvseFacts,
    evse_facts,
    evse_sites,
    lock_contracts,
    lock_evses,
    lock_sites,
    site_bounds,
    site_evse_ids,
)
from fcsbe.server.storage.flexibility_services import (
    FlexibilityServiceRow,
    FsTransitionRow,
)
from fcsbe.server.storage.notifications import OutboxRow
from fcsbe.server.storage.records import FsBaselineRow
from fcsbe.server.storage.wakeup import wake_workers

__all__ = ["DECISION_BATCH", "claim_received", "decide_pending"]

log = logging.getLogger("fcsbe.decision")

DECISION_BATCH = 50
"""FS the decision step decides per transaction: one commit (and, on PostgreSQL, one round of
lock taking) for many decisions."""


async def claim_received(session: AsyncSession, limit: int = 20) -> list[FlexibilityServiceRow]:
    """Claim undecided FS, oldest first; replicas skip rows another replica holds."""
    return await received_fs(session, limit)


async def _lock_batch(session: AsyncSession, claimed: list[FlexibilityServiceRow]) -> None:
    """Take up front every row lock the batch's decisions will take (PostgreSQL), in the one
    fixed order: contracts, then sites, then EVSEs, each sorted. A decision then finds its
    locks held, and two replicas' batches (or a batch and a single decision) wait for each
    other in that order instead of deadlocking. The sites and EVSEs are those the requests'
    targets name (a superset of what visibility lets a decision look at)."""
    if session.get_bind().dialect.name != "postgresql":
        return  # SQLite: the transaction holds the database's write lock
    await lock_contracts(session, [fs.contract_id for fs in claimed if fs.contract_id])
    wanted = sorted(
        {
            (str(t.get("level")), str(t.get("id")))
            for fs in claimed
            for t in (fs.request or {}).get("targets", [])
        }
    )
    expanded = await expand_targets_many(session, wanted)
    evse_ids = sorted({e for ids in expanded.values() for e in ids})
    await lock_sites(session, await evse_sites(session, evse_ids))
    await lock_evses(session, evse_ids)


@dataclass
class _Batch:
    """What a batch of decisions reads, loaded set-based before any of them is made, and kept
    current as they are made: each decision that holds capacity adds its holds and its
    activation, so the next one sees it as it would have read it from the database."""

    contracts: dict[int, ContractRow]
    activations: dict[ActivationDay, int]
    visible: dict[int, list[bool]]
    """FS id → for each of its targets, whether its FO may see it."""
    expanded: dict[tuple[str, str], list[str]]
    scopes: dict[int, set[tuple[str, str]]]
    facts: dict[str, EvseFacts]
    on_sites: dict[str, str]
    connections: dict[str, tuple[float, float]]
    holds: dict[str, list[Hold]]
    previous: dict[int, datetime]
    baselines: dict[int, FsBaselineRow]
    decided: dict[tuple[int | None, str], list[datetime]] = field(default_factory=dict)
    """(contract id, FS type) → window starts of the FS of this batch that now hold capacity
    (ACCEPTED or PARTIALLY_ACCEPTED)."""
    documents: dict[str, tuple[Evse, ChargingStation]] = field(default_factory=dict)
    """The EVSEs' registry documents, parsed once for the whole batch."""

    def activations_on(self, day: ActivationDay) -> int:
        end = day.day_start + timedelta(days=1)
        starts = self.decided.get((day.contract_pk, day.fs_type), ())
        return self.activations.get(day, 0) + sum(1 for s in starts if day.day_start <= s < end)

    def held(
        self, evse_ids: Iterable[str], request: FlexibilityServiceRequest, fs_pk: int
    ) -> dict[str, list[tuple[int, str, float, float]]]:
        """`committed_by_target` over the batch's reads and decisions."""
        start, end = request.window.start, request.window.end
        found: dict[str, list[tuple[int, str, float, float]]] = {}
        for evse_id in evse_ids:
            for hold in self.holds.get(evse_id, ()):
                if hold.window_start < end and hold.window_end > start and hold.fs_pk != fs_pk:
                    found.setdefault(evse_id, []).append(
                        (hold.fs_pk, hold.fs_type, hold.import_w, hold.export_w)
                    )
        return found

    def hold(self, fs: FlexibilityServiceRow, shares: dict[str, tuple[float, float]]) -> None:
        self.decided.setdefault((fs.contract_id, fs.fs_type), []).append(fs.window_start)
        for evse_id, (imp, exp) in shares.items():
            self.holds.setdefault(evse_id, []).append(
                Hold(evse_id, fs.id, fs.fs_type, imp, exp, fs.window_start, fs.window_end)
            )


def _owned_contract(batch: _Batch, fs: FlexibilityServiceRow) -> ContractRow | None:
    contract = batch.contracts.get(fs.contract_id) if fs.contract_id else None
    return contract if contract is not None and contract.fo_party_id == fs.fo_party_id else None


async def _load_batch(
    session: AsyncSession,
    claimed: list[tuple[FlexibilityServiceRow, FlexibilityServiceRequest]],
    now: datetime,
) -> _Batch:
    """Everything the batch's decisions read, in a fixed number of queries."""
    contracts = await contracts_by_id(
        session, {fs.contract_id for fs, _ in claimed if fs.contract_id}
    )
    batch = _Batch(contracts, {}, {}, {}, {}, {}, {}, {}, {}, {}, {})
    owned = [(fs, r, c) for fs, r in claimed if (c := _owned_contract(batch, fs)) is not None]
    days = {ActivationDay(c.id, fs.fs_type, _day_of(r)) for fs, r, c in owned}
    batch.activations = await activations_on_days(session, days, _COUNTED)
    targets = [t for _, r, _ in owned for t in r.targets]
    resolved = iter(await resolve_targets(session, targets, units=False))
    groups: dict[tuple[str, int], list[tuple[int, list[ResolvedTarget | None]]]] = {}
    for fs, request, contract in owned:
        mine = [next(resolved) for _ in request.targets]
        groups.setdefault((contract.fo_party_id, contract.id), []).append((fs.id, mine))
    for (fo_party_id, contract_pk), members in groups.items():
        seen = iter(
            await visible_only(
                session,
                fo_party_id,
                [found for _, mine in members for found in mine],
                now=now,
                contract_id=contract_pk,
            )
        )
        for fs_pk, mine in members:
            batch.visible[fs_pk] = [next(seen) is not None for _ in mine]
    wanted = {
        (t.level.value, t.id)
        for fs, request, _ in owned
        for t, found in zip(request.targets, batch.visible[fs.id], strict=True)
        if found
    }
    batch.expanded = await expand_targets_many(session, wanted)
    batch.scopes = await contract_scopes(session, {c.id for *_, c in owned})
    batch.facts = await evse_facts(
        session, sorted({e for ids in batch.expanded.values() for e in ids})
    )
    site_ids = sorted({f.site_id for f in batch.facts.values()})
    batch.on_sites = await site_evse_ids(session, site_ids)
    batch.connections = await site_bounds(session, site_ids)
    if owned:
        holds = await live_holds(
            session,
            sorted(batch.on_sites),
            min(r.window.start for _, r, _ in owned),
            max(r.window.end for _, r, _ in owned),
            _LIVE,
        )
        for hold in holds:
            batch.holds.setdefault(hold.target_id, []).append(hold)
    pks = [fs.id for fs, _ in claimed]
    batch.previous = await last_transitions(session, pks)
    batch.baselines = await declared_baselines(session, pks)
    return batch


@dataclass
class _Written:
    """What one decision of a batch writes."""

    fs: FlexibilityServiceRow
    response: FlexibilityServiceResponse
    shares: dict[str, tuple[float, float]] | None
    baseline: list[dict[str, float]] | None
    moved: Moved


def _decide_in(
    batch: _Batch,
    fs: FlexibilityServiceRow,
    request: FlexibilityServiceRequest,
    now: datetime,
    signer: Signer,
) -> _Written:
    """`decide` over what the batch read: the same checks, in the same order, with the same
    reasons; the FS is moved in memory and what it writes is returned."""
    out = _Decision()
    shares: dict[str, tuple[float, float]] = {}
    fraction = 0.0
    need = power_need(request)
    bound = EvuBound()
    contract = _owned_contract(batch, fs)
    if contract is None:
        out.add(ReasonCode.CONTRACT_INVALID, f"no contract {request.fsc_id} for this FO")
    else:
        terms = ContractTerms.model_validate(contract.terms)
        done = 0
        if _commitment(terms, request) is not None:
            done = batch.activations_on(ActivationDay(contract.id, fs.fs_type, _day_of(request)))
        _check_terms(contract, terms, fs, request, now, out, done)
        if not out.reasons:
            wanted = [
                (t.level.value, t.id)
                for t, found in zip(request.targets, batch.visible[fs.id], strict=True)
                if found
            ]
            expanded = {key: batch.expanded[key] for key in wanted}
            evse_ids = sorted({e for ids in expanded.values() for e in ids})
            facts = {e: batch.facts[e] for e in evse_ids if e in batch.facts}
            site_ids = {f.site_id for f in facts.values()}
            on_sites = {e: s for e, s in batch.on_sites.items() if s in site_ids}
            connections = {s: c for s, c in batch.connections.items() if s in site_ids}
            held = batch.held(sorted(on_sites), request, fs.id)
            fraction, shares, bound = _split(
                request,
                terms,
                need,
                now,
                out,
                expanded,
                batch.scopes[contract.id],
                evse_ids,
                facts,
                on_sites,
                held,
                connections,
                batch.documents,
            )
    response = _conclude(fs, request, need, fraction, shares, bound, out, now, signer)
    rejected = response.result == FsResult.REJECTED
    baseline = None
    if not rejected:  # the record's DECLARED_SCHEDULE, fixed now
        baseline = declared_periods((batch.facts[e] for e in sorted(shares)), fs, now)
    moved = planned_move(
        fs,
        FsState(response.result.value),
        _summary(response),
        at=now,
        previous=batch.previous.get(fs.id),
    )
    return _Written(fs, response, None if rejected else shares, baseline, moved)


async def _write_batch(
    session: AsyncSession, batch: _Batch, written: list[_Written], now: datetime
) -> None:
    """The rows of a batch's decisions, one statement per table (the FS rows themselves are
    flushed by the session, as one executemany)."""
    await replace_targets_many(
        session, {w.fs.id: w.shares for w in written if w.shares is not None}
    )
    new_baselines = []
    for w in written:
        if w.baseline is None:
            continue
        row = batch.baselines.get(w.fs.id)
        if row is None:
            new_baselines.append(declared_baseline_values(w.fs, w.baseline, now))
        else:  # a new revision's decision declares anew
            row.periods, row.submitted_at = w.baseline, now
    await insert_rows(session, FsBaselineRow, new_baselines)
    await insert_rows(session, FsTransitionRow, [w.moved.transition for w in written])
    await insert_rows(session, EventLogRow, [w.moved.event for w in written])
    notifications = [w.moved.notification for w in written if w.moved.notification is not None]
    await insert_rows(session, OutboxRow, notifications)
    if written:
        await wake_workers(session)  # the chainer and the delivery loops, at commit


async def decide_pending(
    session: AsyncSession, now: datetime, signer: Signer, limit: int = 1
) -> int:
    """The worker step: decide up to `limit` pending FS in this transaction (returns how many
    were claimed).

    The batch's locks are taken first (`_lock_batch`). Then what the
    decisions read is read for all of them at once (`_load_batch`), they are made in memory in
    claim order, each seeing the capacity and activations the ones before it took, and their
    rows are written with one statement per table. A decision that fails leaves its FS
    RECEIVED (decided again by a later step) and the others commit with the batch; should
    writing the batch fail, its decisions are made again one by one, each under a savepoint.
    A single claimed FS is decided the same way, and its failure fails the step.
    """
    claimed = await claim_received(session, limit)
    if claimed:
        await _lock_batch(session, claimed)
    readable: list[tuple[FlexibilityServiceRow, FlexibilityServiceRequest]] = []
    for fs in claimed:
        try:
            readable.append((fs, FlexibilityServiceRequest.model_validate(fs.request)))
        except Exception:
            if len(claimed) == 1:
                raise
            log.exception("deciding FS %s failed; it is decided again later", fs.fs_id)
    batch = await _load_batch(session, readable, now)
    written: list[tuple[_Written, datetime, str]] = []
    try:
        # The FS are changed in memory from here on: a failed write rolls them back with it.
        async with session.begin_nested():
            for fs, request in readable:
                received_at, fs_type = fs.updated_at, fs.fs_type
                with correlation_scope(fs.correlation_id):
                    try:
                        decision = _decide_in(batch, fs, request, now, signer)
                    except Exception:
                        if len(claimed) == 1:
                            raise
                        log.exception("deciding FS %s failed; it is decided again later", fs.fs_id)
                        await session.refresh(fs)  # what it changed in memory is dropped
                        continue
                if decision.shares is not None:
                    batch.hold(fs, decision.shares)
                written.append((decision, received_at, fs_type))
            await _write_batch(session, batch, [w for w, *_ in written], now)
    except Exception:
        if len(claimed) == 1:
            raise
        log.exception("writing a batch of decisions failed; deciding them one by one")
        return await _decide_one_by_one(session, claimed, [w.fs for w, *_ in written], now, signer)
    for decision, received_at, fs_type in written:
        # Observed when decided; a commit that then fails is retried as a new decision.
        record_decision(
            fs_type, decision.response.result.value, (now - received_at).total_seconds()
        )
    return len(claimed)


async def _decide_one_by_one(
    session: AsyncSession,
    claimed: list[FlexibilityServiceRow],
    decided: list[FlexibilityServiceRow],
    now: datetime,
    signer: Signer,
) -> int:
    """Decide again, each under a savepoint of its own, the FS whose batch could not be
    written (their rows reloaded: the failed write left them changed in memory only)."""
    for fs in decided:
        await session.refresh(fs)
    for fs in decided:
        # read before the savepoint: one rolled back leaves the FS's attributes unloaded
        fs_id, received_at, fs_type = fs.fs_id, fs.updated_at, fs.fs_type
        with correlation_scope(fs.correlation_id):
            try:
                async with session.begin_nested():
                    response = await decide(session, fs, now, signer)
            except Exception:
                log.exception("deciding FS %s failed; it is decided again later", fs_id)
                continue
        record_decision(fs_type, response.result.value, (now - received_at).total_seconds())
    return len(claimed)
