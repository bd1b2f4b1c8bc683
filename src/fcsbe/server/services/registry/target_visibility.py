"""What an FO may learn about targets it names: nothing, unless it may see them.

The credentials check, the FS decision and contract proposals judge targets the caller names.
Each answer about a target (in the contract or not, capable or not, its EVSEs, ...) tells that
the target exists, so an FO could list the CSO's fleet by naming ids (EVSE ids are often
sequential). So a target the caller may not see is treated exactly like one that does not
exist: same reason code, same detail, nothing more (`docs/privacy.md`).

The rule is the one reads follow (`storage.visibility`, `services.targets`): a target is visible
when one of the FO's ACTIVE contracts names it or something containing it at the target's own
data-sharing level or finer (a SITE target at any level, a CS target at CS or finer, an EVSE
target at EVSE or finer, an EV session at SESSION level and only under a contract that governs
that session). The contract a check or an FS names also counts once the operator has accepted
it, even before it starts: the operator agreed to show its targets to this FO.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from fcsbe.model import DataSharingLevel, TargetLevel
from fcsbe.server.services.contracts.terms import governs_session
from fcsbe.server.services.registry.target_scope import ResolvedTarget
from fcsbe.server.storage.target_covers import CoverEntry, accepted_covers
from fcsbe.server.storage.visibility import LEVEL_RANK

__all__ = ["visible_only"]

_SCOPE_LEVELS = frozenset({"SITE", "CS", "EVSE"})


def _sees(found: ResolvedTarget, covers: Sequence[CoverEntry]) -> bool:
    needed = LEVEL_RANK[DataSharingLevel(found.target.level.value)]
    keys = {key for key in found.scope_keys if key[0] in _SCOPE_LEVELS}
    for cover in covers:
        if (cover.level, cover.target_id) not in keys:
            continue
        if LEVEL_RANK[DataSharingLevel(cover.data_sharing_level)] < needed:
            continue
        if found.target.level is TargetLevel.CS and cover.level == "EVSE":
            continue  # a station is shown whole only through its site or itself
        if found.session is not None and not governs_session(
            cover.governing_party_id, found.session
        ):
            continue
        return True
    return False


async def visible_only(
    session: AsyncSession,
    fo_party_id: str | None,
    resolved: Sequence[ResolvedTarget | None],
    *,
    now: datetime,
    contract_id: int | None = None,
) -> list[ResolvedTarget | None]:
    """`resolved` with None in place of every target the FO may not see (as if unknown);
    `fo_party_id` None is the operator, who sees everything."""
    if fo_party_id is None:
        return list(resolved)
    ids = {key[1] for found in resolved if found for key in found.scope_keys}
    covers = await accepted_covers(session, fo_party_id, ids, now, also_contract_id=contract_id)
    return [found if found is not None and _sees(found, covers) else None for found in resolved]
