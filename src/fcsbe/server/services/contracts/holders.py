"""Contract-holder discovery (UC 3.5): who holds the contracts covering a CS, EVSE or session?

Roaming needs it (UC 1.2, 1.4): when an EV charges at a visited CSO, the contract that governs
its flexibility may be held by the visited CSO itself or by the EV user's home CSP. A contract
covers a target when its scope names the target or something containing it; a roaming session
only by the contracts of the party in control of it (`contract_terms.governs_session`).

Only what the caller may know is answered: its own contracts one by one with their ids; other
FOs' contracts only as their holder party, role and FS types, merged per holder (neither the
other FO, nor the contract id, nor how many contracts there are). An id the registry does not
know answers like a target nobody holds (an empty list), so lookups cannot list the fleet.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from fcsbe.model import (
    ContractHolder,
    ContractHolderLookupRequest,
    ContractHolderLookupResult,
    FsType,
    PartyRole,
)
from fcsbe.server.security.principal import Principal
from fcsbe.server.services.contracts.terms import contract_covers, effective_end, governing_party
from fcsbe.server.services.registry.target_scope import ResolvedTarget, resolve_targets
from fcsbe.server.storage.contracts import ContractRow, contracts_covering

__all__ = ["lookup_holders"]


def _role(row: ContractRow, found: ResolvedTarget) -> PartyRole:
    """The holder's role as seen for this target: for a roaming session, the home CSP (H_CSP) or
    the visited CSO (V_CSO) in control of it; otherwise the contract's holder role."""
    session = found.session
    if session is not None and session.fs_controller == "HOME":
        return PartyRole.H_CSP
    if session is not None and session.fs_controller is not None:
        return PartyRole.V_CSO
    return PartyRole(row.holder_role)


async def lookup_holders(
    session: AsyncSession,
    principal: Principal,
    request: ContractHolderLookupRequest,
    *,
    now: datetime,
) -> ContractHolderLookupResult:
    """The holders of ACTIVE contracts covering the target at `request.at` (default: now)."""
    at = request.at or now
    found = (await resolve_targets(session, [request.target]))[0]
    if found is None:
        # Like a target nobody holds: a distinct answer would let an FO list the fleet by id.
        return ContractHolderLookupResult(target=request.target, at=at, holders=[])
    candidates: dict[int, ContractRow] = {}
    for row, _level, _id in await contracts_covering(session, list(found.scope_keys), at):
        candidates.setdefault(row.id, row)
    own: list[ContractHolder] = []
    others: dict[tuple[str, PartyRole], tuple[set[FsType], datetime]] = {}
    for row in candidates.values():
        if not contract_covers(row, found):
            continue
        types = {FsType(t) for t in row.fs_types}
        if request.fs_type is not None and request.fs_type not in types:
            continue
        party_id = governing_party(row)
        role = _role(row, found)
        if row.fo_party_id == principal.party_id:
            own.append(
                ContractHolder(
                    party_id=party_id,
                    role=role,
                    fs_types=sorted(types),
                    fsc_id=row.fsc_id,
                    valid_to=effective_end(row),
                )
            )
            continue
        known_types, until = others.get((party_id, role), (set(), effective_end(row)))
        others[(party_id, role)] = (known_types | types, max(until, effective_end(row)))
    merged = [
        ContractHolder(party_id=party, role=role, fs_types=sorted(types), valid_to=until)
        for (party, role), (types, until) in sorted(others.items())
    ]
    return ContractHolderLookupResult(target=request.target, at=at, holders=own + merged)
