"""The credentials check (interface data item 4): may this FS run on these targets?

Answered before an FS is sent, in four layers, each with reason codes:

1. actor: the caller is an enrolled FO whose enrolment grants the `flexibility-services` scope
   (authentication itself is done before: a bad credential never gets a verdict);
2. contract: the caller's contract is ACTIVE over the whole window and allows the FS type
   (`CONTRACT_INVALID`, `TYPE_NOT_IN_CONTRACT`);
3. per target: known to the registry and visible to the caller (`TARGET_UNKNOWN`: a target
   the caller may not see answers exactly like one that does not exist, see
   `services.target_visibility`), in the contract's scope
   (`TARGET_NOT_IN_CONTRACT`; session targets only at data-sharing level SESSION), capable of the
   FS type (`NOT_CAPABLE`, with the grid functions missing) and conformant: the DER has valid
   grid-code evidence where the FS needs it (export, local grid functions) and every standard the
   caller requires is evidenced for the whole window (`NOT_CONFORMANT`). For an AC EVSE the DER
   is the EV's on-board inverter, so its evidence is the EV's (UC 1.7);
4. `valid_until`: the verdict holds until the first of: the check's lifetime, the contract's
   end, the expiry of evidence relied upon.

Capabilities come from `services.capabilities.assess`, the same rules the FS decision uses.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from fcsbe.model import (
    ConformityEvidence,
    ContractTerms,
    CredentialCheckRequest,
    CredentialCheckResult,
    DataSharingLevel,
    GridFunction,
    Reason,
    ReasonCode,
    Target,
    TargetLevel,
    TargetVerdict,
    TimeWindow,
)
from fcsbe.server.errors import NotFound
from fcsbe.server.security.principal import Principal
from fcsbe.server.services.contracts.terms import contract_covers, effective_end
from fcsbe.server.services.event_log.log import append_event
from fcsbe.server.services.registry.capabilities import assess, grid_code_of
from fcsbe.server.services.registry.target_scope import ResolvedTarget, Unit, resolve_targets
from fcsbe.server.services.registry.target_visibility import visible_only
from fcsbe.server.storage.contracts import ContractRow, find_contract

__all__ = ["FS_SCOPE", "check_credentials", "contract_reasons"]

FS_SCOPE = "flexibility-services"
"""The scope an enrolment needs to send flexibility services."""


def contract_reasons(row: ContractRow, fs_type: str, window: TimeWindow) -> list[Reason]:
    """Why the contract cannot carry this FS type over this window (empty: it can)."""
    reasons = []
    if row.status != "ACTIVE":
        reasons.append(
            Reason(code=ReasonCode.CONTRACT_INVALID, detail=f"the contract is {row.status}")
        )
    end = effective_end(row)
    if window.start < row.valid_from or window.end > end:
        reasons.append(
            Reason(
                code=ReasonCode.CONTRACT_INVALID,
                detail=f"the window is not inside the contract's validity "
                f"[{row.valid_from.isoformat()}, {end.isoformat()})",
            )
        )
    if fs_type not in row.fs_types:
        reasons.append(
            Reason(
                code=ReasonCode.TYPE_NOT_IN_CONTRACT,
                detail=f"{fs_type} is not among the contract's FS types {row.fs_types}",
            )
        )
    return reasons


def _base(standard: str) -> str:
    return standard.split(":", 1)[0].strip().upper()


def _evidence_pool(unit: Unit, grid_code: bool) -> list[ConformityEvidence]:
    """Evidence that may satisfy a required standard for this unit.

    For a grid code, only the DER's own evidence counts: the EV's for an AC EVSE (on-board
    converter, UC 1.7), the EVSE's or CS's otherwise. Other standards may be met by either.
    """
    station = unit.station
    own = [
        e for e in station.conformity_evidence if e.subject_id in {unit.evse.evse_id, station.cs_id}
    ]
    ev = list(unit.ev.conformity) if unit.ev else []
    if not grid_code:
        return own + ev
    return ev if unit.evse.current_type.value == "AC" else own


@dataclass
class _UnitVerdict:
    unit: Unit
    capable: bool
    conformant: bool
    reasons: list[Reason] = field(default_factory=list)
    missing: list[GridFunction] = field(default_factory=list)
    evidence: list[ConformityEvidence] = field(default_factory=list)


def _judge_unit(
    request: CredentialCheckRequest, unit: Unit, now: datetime, reason_target: Target
) -> _UnitVerdict:
    assessment = assess(
        request.fs_type, unit.evse, unit.station, unit.ev, now, reported=unit.reported
    )
    verdict = _UnitVerdict(
        unit,
        capable=assessment.capable,
        conformant=assessment.conformant,
        missing=list(assessment.missing_functions),
        evidence=list(assessment.evidence),
    )
    notes = "; ".join(assessment.notes) or None
    for code in assessment.reasons:
        verdict.reasons.append(Reason(code=code, target=reason_target, detail=notes))
    start = max(now, request.window.start)
    for standard in request.required_conformity:
        pool = _evidence_pool(unit, grid_code_of(standard) is not None)
        valid = [
            e
            for e in pool
            if _base(e.standard) == _base(standard)
            and e.valid_to >= request.window.end
            and (e.valid_from is None or e.valid_from <= start)
            and e.valid_to > now
        ]
        if valid:
            verdict.evidence.extend(valid)
        else:
            verdict.conformant = False
            verdict.reasons.append(
                Reason(
                    code=ReasonCode.NOT_CONFORMANT,
                    target=reason_target,
                    detail=f"no evidence of {standard} valid for the whole window",
                )
            )
    return verdict


def _unique(evidence: Sequence[ConformityEvidence]) -> list[ConformityEvidence]:
    seen: dict[tuple[str, str, str], ConformityEvidence] = {}
    for item in evidence:
        seen.setdefault((item.standard, item.certificate_id, item.subject_id), item)
    return list(seen.values())


def _verdict(
    request: CredentialCheckRequest,
    row: ContractRow,
    target: Target,
    found: ResolvedTarget | None,
    now: datetime,
) -> tuple[TargetVerdict, list[ConformityEvidence]]:
    """The verdict on one target and the evidence it relies on."""

    def refused(code: ReasonCode, detail: str) -> tuple[TargetVerdict, list[ConformityEvidence]]:
        reason = Reason(code=code, target=target, detail=detail)
        return TargetVerdict(target=target, capable=False, conformant=False, reasons=[reason]), []

    if found is None:
        return refused(ReasonCode.TARGET_UNKNOWN, f"no {target.level.value} {target.id}")
    if found.ended:
        return refused(ReasonCode.TARGET_UNKNOWN, "the EV session has ended")
    terms = ContractTerms.model_validate(row.terms)
    if target.level is TargetLevel.SESSION and terms.data_sharing_level is not (
        DataSharingLevel.SESSION
    ):
        return refused(
            ReasonCode.TARGET_NOT_IN_CONTRACT,
            "the contract's data-sharing level does not allow session targets",
        )
    reasons: list[Reason] = []
    if not contract_covers(row, found):
        reasons.append(
            Reason(
                code=ReasonCode.TARGET_NOT_IN_CONTRACT,
                target=target,
                detail="not in the contract's scope",
            )
        )
    if not found.units:
        reasons.append(Reason(code=ReasonCode.NOT_CAPABLE, target=target, detail="no EVSE"))
        return TargetVerdict(target=target, capable=False, conformant=False, reasons=reasons), []
    single = len(found.units) == 1
    units = [
        _judge_unit(
            request,
            unit,
            now,
            target if single else Target(level=TargetLevel.EVSE, id=unit.evse.evse_id),
        )
        for unit in found.units
    ]
    capable = any(u.capable for u in units)
    usable = [u for u in units if u.capable and u.conformant]
    conformant = bool(usable) if capable else all(u.conformant for u in units)
    relied = usable or units
    if not (capable and conformant):
        reasons.extend(r for u in units for r in u.reasons)
    missing = [] if capable else sorted({f for u in units for f in u.missing})
    evidence = _unique([e for u in relied for e in u.evidence])
    verdict = TargetVerdict(
        target=target,
        capable=capable,
        conformant=conformant,
        missing_functions=missing,
        conformity_evidence=evidence,
        reasons=reasons[:100],
    )
    return verdict, evidence


async def check_credentials(
    session: AsyncSession,
    principal: Principal,
    request: CredentialCheckRequest,
    *,
    now: datetime,
    ttl_s: int,
) -> CredentialCheckResult:
    """Check actor, contract and every target; one verdict per target, in request order."""
    row = await find_contract(session, principal, request.fsc_id)
    if row is None:
        raise NotFound(f"No contract {request.fsc_id} visible to you.", slug="contract-not-found")
    actor_ok = FS_SCOPE in principal.scopes
    reasons = contract_reasons(row, request.fs_type.value, request.window)
    resolved = await visible_only(
        session,
        None if principal.is_operator else principal.party_id,
        await resolve_targets(session, request.targets),
        now=now,
        contract_id=row.id,
    )
    verdicts = []
    valid_until = min(now + timedelta(seconds=ttl_s), effective_end(row))
    for target, found in zip(request.targets, resolved, strict=True):
        verdict, evidence = _verdict(request, row, target, found, now)
        verdicts.append(verdict)
        valid_until = min([valid_until, *(e.valid_to for e in evidence)])
    result = CredentialCheckResult(
        fsc_id=row.fsc_id,
        fs_type=request.fs_type,
        actor_ok=actor_ok,
        contract_ok=not reasons,
        contract_reasons=reasons,
        targets=verdicts,
        checked_at=now,
        valid_until=max(valid_until, now),
    )
    passed = sum(1 for v in verdicts if v.ok)
    await append_event(
        session,
        type="CREDENTIAL_CHECK",
        object_ref=f"contract/{row.fo_party_id}/{row.fsc_id}",
        summary=f"{request.fs_type.value}: {'ok' if result.ok else 'refused'}, "
        f"{passed}/{len(verdicts)} targets pass",
        party_id=principal.party_id,
        payload={"fsc_id": row.fsc_id, "fs_type": request.fs_type.value, "ok": result.ok},
    )
    return result
