"""The decision step: turns RECEIVED FS into ACCEPTED, PARTIALLY_ACCEPTED or REJECTED.

Checks, in order: contract (exists, active over the window, FS type, activations per day),
timing, then per target: known, in the contract's scope, on-grid, capable and conformant
(`registry/capabilities.py`), consent for export, conflicts with other live FS; then the firm power
that the free capacity can carry, bounded by what the EV users' limits let flow (an EV that must
reach its minimum SoC keeps charging whatever the FS asks: `decision_rules.evu_bound`, with the
planners' own rules, so what is committed is what execution delivers). Free capacity is read
under row locks on the EVSEs involved (PostgreSQL) or the database write lock (SQLite), so FS
racing for the same kW can never be over-allocated. Refusals are decisions with reason codes,
never HTTP errors.

Every decision is signed by the server's active key (`signer`, a detached JWS over the RFC 8785
JSON of the response without `signature`), so an FO can prove what was committed to it. The
signer is a required argument: a decision step without one would publish unsigned decisions.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from fcsbe.model import (
    ChargingStation,
    Commitment,
    ContractTerms,
    DroopSettings,
    Evse,
    FlexibilityServiceRequest,
    FlexibilityServiceResponse,
    FsResult,
    FsState,
    FsType,
    Reason,
    ReasonCode,
    Target,
    TargetLevel,
)
from fcsbe.server.services.contracts.terms import effective_end
from fcsbe.server.services.flexibility_services.decision_rules import (
    EXCLUSIVE_TYPES,
    EvuBound,
    Need,
    allocate,
    committed_fraction,
    evse_state,
    evu_bound,
    ocpp_refusal,
    power_need,
    too_slow,
)
from fcsbe.server.services.flexibility_services.lifecycle import (
    LIVE_STATES,
    move,
)
from fcsbe.server.services.records.inputs import (
    declare_baseline,
)
from fcsbe.server.services.registry.capabilities import assess, evse_response_time_s
from fcsbe.server.services.registry.target_scope import resolve_targets
from fcsbe.server.services.registry.target_visibility import visible_only
from fcsbe.server.services.registry.targets import ev_technical
from fcsbe.server.storage.contracts import ContractRow
from fcsbe.server.storage.decisions import activations_on_day
from fcsbe.server.storage.fleet import (
    EvseFacts,
    contract_scope,
    evse_facts,
    expand_targets,
    lock_contract,
    lock_evses,
    lock_sites,
    site_bounds,
    site_evse_ids,
)
from fcsbe.server.storage.flexibility_services import (
    FlexibilityServiceRow,
    committed_by_target,
    replace_targets,
)

__all__ = ["Signer", "decide"]

log = logging.getLogger("fcsbe.decision")

Signer = Callable[[Any], str]
"""Makes the detached JWS of a JSON value (`ServerKeys.sign`)."""
_LIVE = frozenset(s.value for s in LIVE_STATES)
_COUNTED = _LIVE | {"COMPLETED", "ABORTED", "RECORDED", "PROVEN", "DISPUTED"}
"""States of the FS an FS counts against its contract's activations per day."""


def _in_scope(facts: EvseFacts, scope: set[tuple[str, str]]) -> bool:
    return bool({("EVSE", facts.evse_id), ("CS", facts.cs_id), ("SITE", facts.site_id)} & scope)


async def _activations_today(
    session: AsyncSession, contract_pk: int, fs_type: str, day_start: datetime, fs_pk: int
) -> int:
    return await activations_on_day(
        session,
        contract_pk,
        fs_type,
        day_start,
        fs_pk,
        _LIVE | {"COMPLETED", "ABORTED", "RECORDED", "PROVEN", "DISPUTED"},
    )


class _Decision:
    """Collects reasons and the outcome of one decision."""

    def __init__(self) -> None:
        self.reasons: list[Reason] = []

    def add(self, code: ReasonCode, detail: str, target: Target | None = None) -> None:
        self.reasons.append(Reason(code=code, detail=detail[:500], target=target))


async def _contract_checks(
    session: AsyncSession,
    fs: FlexibilityServiceRow,
    request: FlexibilityServiceRequest,
    now: datetime,
    out: _Decision,
) -> tuple[ContractRow, ContractTerms] | None:
    contract = await session.get(ContractRow, fs.contract_id) if fs.contract_id else None
    if contract is None or contract.fo_party_id != fs.fo_party_id:
        out.add(ReasonCode.CONTRACT_INVALID, f"no contract {request.fsc_id} for this FO")
        return None
    # Every decider of this contract queues here, so its caps hold however many there are.
    await lock_contract(session, contract.id)
    terms = ContractTerms.model_validate(contract.terms)
    done = 0
    if _commitment(terms, request) is not None:
        day = _day_of(request)
        done = await _activations_today(session, contract.id, fs.fs_type, day, fs.id)
    _check_terms(contract, terms, fs, request, now, out, done)
    return contract, terms


def _commitment(terms: ContractTerms, request: FlexibilityServiceRequest) -> Commitment | None:
    return next((c for c in terms.commitments if c.fs_type == request.fs_type), None)


def _day_of(request: FlexibilityServiceRequest) -> datetime:
    """The day whose activations the FS counts against (midnight of its window's start)."""
    return request.window.start.replace(hour=0, minute=0, second=0, microsecond=0)


def _check_terms(
    contract: ContractRow,
    terms: ContractTerms,
    fs: FlexibilityServiceRow,
    request: FlexibilityServiceRequest,
    now: datetime,
    out: _Decision,
    done: int,
) -> None:
    """The contract's checks, `done` being the FS that day already counts against its
    activations per day."""
    if contract.status != "ACTIVE":
        out.add(ReasonCode.CONTRACT_INVALID, f"contract is {contract.status}")
    elif request.window.start < terms.valid_from or request.window.end > effective_end(contract):
        out.add(ReasonCode.CONTRACT_INVALID, "the window is outside the contract's validity")
    if request.fs_type not in terms.fs_types:
        out.add(ReasonCode.TYPE_NOT_IN_CONTRACT, f"{request.fs_type.value} is not contracted")
    if request.window.end <= now or now > fs.response_deadline:
        out.add(ReasonCode.TOO_LATE, "the window or the response deadline has passed")
    commitment = _commitment(terms, request)
    if commitment is not None and done >= commitment.max_activations_per_day:
        out.add(
            ReasonCode.TOO_MANY_ACTIVATIONS,
            f"{done} of {commitment.max_activations_per_day} activations used that day",
        )


def _usable_capacity(
    facts: EvseFacts,
    request: FlexibilityServiceRequest,
    now: datetime,
    out: _Decision,
    needs_export: bool = False,
    documents: dict[str, tuple[Evse, ChargingStation]] | None = None,
) -> tuple[float, float] | None:
    """(import W, export W) this EVSE can offer, or None (with a reason) when unusable.

    `documents` keeps the parsed registry documents of EVSEs across the decisions of a batch."""
    target = Target(level=TargetLevel.EVSE, id=facts.evse_id)
    if facts.site_grid_state == "OFF_GRID":
        out.add(ReasonCode.OFF_GRID, "the site runs off-grid (island mode)", target)
        return None
    p = request.parameters
    refusal = ocpp_refusal(
        request.fs_type,
        facts.station_doc.get("ocpp_version"),
        facts.ocpp_reported,
        needs_export=needs_export,
        voltage_curves=isinstance(p, DroopSettings) and bool(p.volt_var or p.volt_watt),
    )
    if refusal is not None:
        out.add(ReasonCode.NOT_CAPABLE, refusal, target)
        return None
    parsed = documents.get(facts.evse_id) if documents is not None else None
    if parsed is None:
        parsed = (
            Evse.model_validate(facts.evse_doc),
            ChargingStation.model_validate(facts.station_doc),
        )
        if documents is not None:
            documents[facts.evse_id] = parsed
    evse, station = parsed
    assessment = assess(request.fs_type, evse, station, ev_technical(facts.session_doc), now)
    if not assessment.capable:
        code = ReasonCode.NOT_CONFORMANT if not assessment.conformant else ReasonCode.NOT_CAPABLE
        out.add(code, "; ".join(assessment.notes) or "not capable", target)
        return None
    slow = too_slow(request, evse_response_time_s(evse))  # the EVSE's own, not the chain's
    if slow is not None:
        out.add(ReasonCode.NOT_CAPABLE, slow, target)
        return None
    export_w = -assessment.capability.p_min_w
    if export_w > 0 and facts.session_doc is not None and facts.v2g_consent is not True:
        out.add(ReasonCode.NO_CONSENT, "the EV user has not consented to V2G", target)
        export_w = 0.0
    return assessment.capability.p_max_w, export_w


async def decide(
    session: AsyncSession, fs: FlexibilityServiceRow, now: datetime, signer: Signer
) -> FlexibilityServiceResponse:
    """Decide one RECEIVED FS (in the caller's transaction), sign the decision and move the FS
    accordingly."""
    request = FlexibilityServiceRequest.model_validate(fs.request)
    out = _Decision()
    checked = await _contract_checks(session, fs, request, now, out)
    shares: dict[str, tuple[float, float]] = {}
    fraction = 0.0
    need = power_need(request)
    bound = EvuBound()
    if checked is not None and not out.reasons:
        contract, terms = checked
        fraction, shares, bound = await _capacity(
            session, fs, request, contract, terms, need, now, out
        )
    response = _conclude(fs, request, need, fraction, shares, bound, out, now, signer)
    if response.result != FsResult.REJECTED:
        await replace_targets(session, fs.id, shares)
        await declare_baseline(session, fs, now)  # the record's DECLARED_SCHEDULE, fixed now
    await move(session, fs, FsState(response.result.value), _summary(response), at=now)
    return response


def _conclude(
    fs: FlexibilityServiceRow,
    request: FlexibilityServiceRequest,
    need: Need,
    fraction: float,
    shares: dict[str, tuple[float, float]],
    bound: EvuBound,
    out: _Decision,
    now: datetime,
    signer: Signer,
) -> FlexibilityServiceResponse:
    """The signed response of a decision, kept on the FS with what it commits."""
    result = _result(fraction, need, shares, request, out, bound)
    committed_w = None
    if need.firm and result != FsResult.REJECTED:
        committed_w = need.magnitude_w * fraction
        if bound.committed_w is not None:  # a setpoint held up by a floor: what will flow
            committed_w = bound.committed_w
    response = FlexibilityServiceResponse(
        fs_id=fs.fs_id,
        revision=fs.revision,
        result=result,
        reasons=out.reasons[:100],
        committed_w=committed_w,
        decided_at=now,
    )
    response = response.model_copy(update={"signature": signer(response.signed_payload())})
    fs.response = response.model_dump(mode="json")
    fs.committed_w = committed_w
    return response


def _summary(response: FlexibilityServiceResponse) -> str:
    """The reason of the decision's transition."""
    committed_w = response.committed_w
    return f"{response.result.value}" + (f" {committed_w:.0f} W" if committed_w is not None else "")


def _result(
    fraction: float,
    need: Need,
    shares: dict[str, tuple[float, float]],
    request: FlexibilityServiceRequest,
    out: _Decision,
    bound: EvuBound,
) -> FsResult:
    hard = {
        ReasonCode.CONTRACT_INVALID,
        ReasonCode.TYPE_NOT_IN_CONTRACT,
        ReasonCode.TOO_LATE,
        ReasonCode.TOO_MANY_ACTIVATIONS,
    }
    if any(r.code in hard for r in out.reasons) or not shares:
        if not out.reasons:
            out.add(ReasonCode.INSUFFICIENT_AVAILABILITY, "no usable target")
        return FsResult.REJECTED
    if not need.firm or fraction >= 0.9999:
        return FsResult.PARTIALLY_ACCEPTED if out.reasons else FsResult.ACCEPTED
    detail = f"{fraction * 100:.1f} % of the requested power can be committed"
    # The EV users' limits are the cause when they bound the share below the headroom's.
    code = (
        ReasonCode.EVU_LIMIT
        if bound.notes and bound.fraction <= fraction + 1e-9
        else ReasonCode.INSUFFICIENT_AVAILABILITY
    )
    if fraction * 100 >= float(request.minimum_acceptance_pct) and fraction > 0:
        out.add(code, detail)
        return FsResult.PARTIALLY_ACCEPTED
    out.add(code, detail)
    return FsResult.REJECTED


async def _capacity(
    session: AsyncSession,
    fs: FlexibilityServiceRow,
    request: FlexibilityServiceRequest,
    contract: ContractRow,
    terms: ContractTerms,
    need: Need,
    now: datetime,
    out: _Decision,
) -> tuple[float, dict[str, tuple[float, float]], EvuBound]:
    """Lock the EVSEs, compute their free capacity, bound it by the EV users' limits (see
    `decision_rules.evu_bound`), and split the commitment over them."""
    # A target the FO may not see is reported exactly like an unknown one, and none of its
    # EVSEs is looked at (their ids and states would tell the fleet; `target_visibility`).
    seen = await visible_only(
        session,
        contract.fo_party_id,
        await resolve_targets(session, request.targets),
        now=now,
        contract_id=contract.id,
    )
    wanted = [
        (t.level.value, t.id) for t, found in zip(request.targets, seen, strict=True) if found
    ]
    expanded = await expand_targets(session, wanted)
    scope = await contract_scope(session, contract.id)
    evse_ids = sorted({e for ids in expanded.values() for e in ids})
    facts = await evse_facts(session, evse_ids)
    site_ids = sorted({f.site_id for f in facts.values()})
    # Fixed order (contract, sites, EVSEs): deciders that share a site queue, never deadlock.
    await lock_sites(session, site_ids)
    await lock_evses(session, evse_ids)
    on_sites = await site_evse_ids(session, site_ids)
    held = await committed_by_target(
        session, sorted(on_sites), request.window.start, request.window.end, _LIVE, fs.id
    )
    connections = await site_bounds(session, site_ids)
    return _split(
        request,
        terms,
        need,
        now,
        out,
        expanded,
        scope,
        evse_ids,
        facts,
        on_sites,
        held,
        connections,
    )


def _split(
    request: FlexibilityServiceRequest,
    terms: ContractTerms,
    need: Need,
    now: datetime,
    out: _Decision,
    expanded: dict[tuple[str, str], list[str]],
    scope: set[tuple[str, str]],
    evse_ids: list[str],
    facts: dict[str, EvseFacts],
    on_sites: dict[str, str],
    held: dict[str, list[tuple[int, str, float, float]]],
    connections: dict[str, tuple[float, float]],
    documents: dict[str, tuple[Evse, ChargingStation]] | None = None,
) -> tuple[float, dict[str, tuple[float, float]], EvuBound]:
    """The free capacity of the FS's EVSEs (from what the decision read: its targets expanded
    to EVSEs, the contract's scope, the EVSEs' facts, the other live FS on their sites and the
    sites' connections), bounded by the EV users' limits and split over the EVSEs."""
    for target in request.targets:
        if not expanded.get((target.level.value, target.id)):
            out.add(ReasonCode.TARGET_UNKNOWN, f"unknown {target.level.value} target", target)
    free_import: dict[str, float] = {}
    free_export: dict[str, float] = {}
    for evse_id in evse_ids:
        fact = facts[evse_id]
        target = Target(level=TargetLevel.EVSE, id=evse_id)
        if not _in_scope(fact, scope):
            out.add(ReasonCode.TARGET_NOT_IN_CONTRACT, "not in the contract's scope", target)
            continue
        capacity = _usable_capacity(fact, request, now, out, need.export_w > 0, documents)
        if capacity is None:
            continue
        others = held.get(evse_id, [])
        if request.fs_type in EXCLUSIVE_TYPES and any(
            FsType(t) in EXCLUSIVE_TYPES for _, t, _, _ in others
        ):
            out.add(ReasonCode.CONFLICTING_FS, "another FS steers this EVSE then", target)
            continue
        free_import[evse_id] = max(0.0, capacity[0] - sum(imp for *_, imp, _ in others))
        free_export[evse_id] = max(0.0, capacity[1] - sum(exp for *_, exp in others))
    if not free_import:
        return 0.0, {}, EvuBound()
    site_notes = _fit_sites(free_import, free_export, facts, on_sites, held, connections)
    fraction = committed_fraction(need, sum(free_import.values()), sum(free_export.values()))
    states = [
        evse_state(e, facts[e].site_id, facts[e].session_doc, free_import[e], free_export[e])
        for e in free_import
    ]
    bound = evu_bound(request, need, states, max(now, request.window.start))
    if bound.notes:
        fraction = min(fraction, bound.fraction)
        for evse_id in bound.bound[:20]:
            out.add(
                ReasonCode.EVU_LIMIT,
                "the EV user's limits hold this EVSE: " + "; ".join(bound.notes),
                Target(level=TargetLevel.EVSE, id=evse_id),
            )
        if not bound.bound:
            out.add(ReasonCode.EVU_LIMIT, "; ".join(bound.notes))
    commitment = _commitment(terms, request)
    if commitment is not None and need.magnitude_w > commitment.max_power_w:
        fraction = min(fraction, commitment.max_power_w / need.magnitude_w)
        out.add(
            ReasonCode.INSUFFICIENT_AVAILABILITY,
            f"the contract caps this FS at {commitment.max_power_w:.0f} W",
        )
    if fraction < 0.9999:  # the site's connection is among the causes: say so, per site
        for site_id, direction, free_w in site_notes:
            if (direction == "import" and (need.import_w > 0 or need.up_w > 0)) or (
                direction == "export" and (need.export_w > 0 or need.up_w > 0)
            ):
                out.add(
                    ReasonCode.INSUFFICIENT_AVAILABILITY,
                    f"the site's grid connection leaves {free_w:.0f} W of {direction} then",
                    Target(level=TargetLevel.SITE, id=site_id),
                )
    import_w = need.import_w * fraction if bound.import_w is None else bound.import_w
    export_w = need.export_w * fraction if bound.export_w is None else bound.export_w
    imports = allocate(import_w, free_import)
    exports = allocate(export_w, free_export)
    if need.up_w > 0:  # up-regulation held against import first, then export
        # the range left once the down part is held: never export an EVSE cannot give
        rooms = {
            e: max(
                0.0,
                free_import[e]
                - imports.get(e, 0.0)
                + free_export.get(e, 0.0)
                - exports.get(e, 0.0),
            )
            for e in free_import
        }
        if bound.notes:  # only the room above each EV's floor
            rooms = {e: min(rooms[e], bound.up_room.get(e, rooms[e])) for e in rooms}
        ups = allocate(need.up_w * fraction, rooms)
        for evse_id, up in ups.items():
            from_import = max(0.0, min(up, free_import[evse_id] - imports.get(evse_id, 0.0)))
            from_export = min(
                up - from_import, free_export.get(evse_id, 0.0) - exports.get(evse_id, 0.0)
            )
            imports[evse_id] = imports.get(evse_id, 0.0) + from_import
            exports[evse_id] = exports.get(evse_id, 0.0) + max(0.0, from_export)
    return fraction, {e: (imports[e], exports.get(e, 0.0)) for e in free_import}, bound


def _fit_sites(
    free_import: dict[str, float],
    free_export: dict[str, float],
    facts: dict[str, EvseFacts],
    on_sites: dict[str, str],
    held: dict[str, list[tuple[int, str, float, float]]],
    connections: dict[str, tuple[float, float]],
) -> list[tuple[str, str, float]]:
    """Bound each site's free EVSE capacity by what its grid connection leaves once the other
    live FS on any of its EVSEs are counted (scaled in proportion, in place). Returns the
    (site, direction, free W) that bound."""
    notes: list[tuple[str, str, float]] = []
    for site_id, (import_limit, export_limit) in sorted(connections.items()):
        used_import = sum(
            imp for e, s in on_sites.items() if s == site_id for *_, imp, _ in held.get(e, [])
        )
        used_export = sum(
            exp for e, s in on_sites.items() if s == site_id for *_, exp in held.get(e, [])
        )
        mine = [e for e in free_import if facts[e].site_id == site_id]
        for direction, free, left in (
            ("import", free_import, max(0.0, import_limit - used_import)),
            ("export", free_export, max(0.0, export_limit - used_export)),
        ):
            total = sum(free.get(e, 0.0) for e in mine)
            if total <= left + 1e-6:
                continue
            for evse_id in mine:
                free[evse_id] = free.get(evse_id, 0.0) * (left / total)
            notes.append((site_id, direction, left))
    return notes
