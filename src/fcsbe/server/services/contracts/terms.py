"""Rules a contract's terms must meet beyond their own shape (which the model checks).

- The validity window must not be over already.
- Every target in scope must be a site, CS or EVSE known to the registry (sessions come and go
  and are covered through their EVSE, so they cannot be contract targets). An FO proposing or
  amending is not told whether an id exists (that would list the fleet, see
  `services.target_visibility`): targets it may not see are judged as unknown, unknown ones are
  not refused, and overlaps are found only between targets it sees or by their names. The
  operator's acceptance checks the terms again against the whole registry, and refuses unknown
  targets and hidden overlaps there.
- Availability windows of one commitment must not overlap on the same weekday.
- One FO may not hold two live contracts for the same FS type over overlapping targets and
  overlapping periods: an FS must never be able to draw on two commitments at once. Targets
  overlap when one contains the other (a site and one of its EVSEs).

Each failure is a 409/422 problem with its own type and a JSON pointer to the offending field.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from fcsbe.model import ContractTerms, FieldError, Target, TargetLevel
from fcsbe.server.errors import Conflict, UnprocessableContent
from fcsbe.server.services.registry.target_scope import ResolvedTarget, ScopeKey, resolve_targets
from fcsbe.server.storage.contracts import ContractRow, live_contracts_of
from fcsbe.server.storage.infrastructure import EvSessionRow

_View = Callable[[Sequence[ResolvedTarget | None]], Awaitable[list[ResolvedTarget | None]]]
"""Hides from a list of resolved targets those the FO may not see."""

__all__ = [
    "check_terms",
    "contract_covers",
    "effective_end",
    "governing_party",
    "governs_session",
    "scope_keys",
]


def effective_end(row: ContractRow) -> datetime:
    """When the contract stops being usable: its end, or an earlier termination."""
    return min(row.valid_to, row.ends_at) if row.ends_at is not None else row.valid_to


def scope_keys(targets: Sequence[Target]) -> set[ScopeKey]:
    """The (level, id) entries of a contract's scope."""
    return {(target.level.value, target.id) for target in targets}


def governing_party(row: ContractRow) -> str:
    """Whose contract it is for roaming: the holder it names (H-CSP, EC, fleet) or its provider."""
    return row.holder_party_id or row.provider_party_id


def governs_session(governing_party_id: str, session: EvSessionRow) -> bool:
    """Whether a contract governed by that party may steer this EV session (UC 1.2 / 1.4).

    A roaming session is steered under the contracts of whoever controls it: its home CSP
    (`fs_controller` HOME) or the visited CSO (VISITED); a session that is not roaming under any.
    """
    if session.fs_controller is None:
        return True
    if session.fs_controller == "HOME":
        return governing_party_id == session.home_party_id
    return session.visited_party_id is None or governing_party_id == session.visited_party_id


def contract_covers(row: ContractRow, found: ResolvedTarget) -> bool:
    """Whether the contract in force covers a resolved target: its scope names the target or
    something containing it, and for an EV session the contract governs it (`governs_session`)."""
    if not found.in_scope(scope_keys(ContractTerms.model_validate(row.terms).targets)):
        return False
    return found.session is None or governs_session(governing_party(row), found.session)


def _check_windows(terms: ContractTerms, base: str, now: datetime) -> list[FieldError]:
    errors: list[FieldError] = []
    if terms.valid_to <= now:
        errors.append(
            FieldError(
                pointer=f"{base}/valid_to",
                detail="the contract would already be over",
                code="contract_window_past",
            )
        )
    for c_index, commitment in enumerate(terms.commitments):
        windows = commitment.availability_windows or []
        for i, first in enumerate(windows):
            for j in range(i + 1, len(windows)):
                second = windows[j]
                same_day = set(first.weekdays) & set(second.weekdays)
                if (
                    same_day
                    and first.time_zone == second.time_zone
                    and first.start_time < second.end_time
                    and second.start_time < first.end_time
                ):
                    errors.append(
                        FieldError(
                            pointer=f"{base}/commitments/{c_index}/availability_windows/{j}",
                            detail=f"overlaps availability_windows[{i}] on weekday(s) "
                            f"{sorted(same_day)}",
                            code="availability_windows_overlap",
                        )
                    )
    return errors


def _keys(target: Target, found: ResolvedTarget | None) -> tuple[ScopeKey, ...]:
    """What a target stands for in overlap checks: its containers when known (and visible),
    else only its own name."""
    return found.scope_keys if found is not None else ((target.level.value, target.id),)


def _check_targets(
    terms: ContractTerms, resolved: Sequence[ResolvedTarget | None], base: str, *, as_fo: bool
) -> list[FieldError]:
    errors = []
    for index, (target, found) in enumerate(zip(terms.targets, resolved, strict=True)):
        if target.level is TargetLevel.SESSION:
            errors.append(
                FieldError(
                    pointer=f"{base}/targets/{index}/level",
                    detail="EV sessions are covered through their EVSE; name a SITE, CS or EVSE",
                    code="target_level_invalid",
                )
            )
        elif found is None and not as_fo:
            errors.append(
                FieldError(
                    pointer=f"{base}/targets/{index}/id",
                    detail=f"no {target.level.value} {target.id} in the registry",
                    code="target_unknown",
                )
            )
    return errors


async def _overlaps(
    session: AsyncSession,
    fo_party_id: str,
    terms: ContractTerms,
    resolved: Sequence[ResolvedTarget | None],
    exclude_id: int | None,
    view: _View | None,
) -> list[tuple[ContractRow, int]]:
    """Other live contracts of the FO that collide with `terms`, with the colliding target."""
    collisions: list[tuple[ContractRow, int]] = []
    for other in await live_contracts_of(session, fo_party_id, exclude_id=exclude_id):
        other_terms = ContractTerms.model_validate(other.terms)
        if not (
            set(terms.fs_types) & set(other_terms.fs_types)
            and terms.valid_from < effective_end(other)
            and other.valid_from < terms.valid_to
        ):
            continue
        other_scope = scope_keys(other_terms.targets)
        other_resolved = await resolve_targets(session, other_terms.targets)
        if view is not None:
            other_resolved = await view(other_resolved)
        new_scope = scope_keys(terms.targets)
        others = list(zip(other_terms.targets, other_resolved, strict=True))
        for index, (target, found) in enumerate(zip(terms.targets, resolved, strict=True)):
            inside_other = any(key in other_scope for key in _keys(target, found))
            contains_other = any(
                key in new_scope for o_target, o in others for key in _keys(o_target, o)
            )
            if inside_other or contains_other:
                collisions.append((other, index))
                break
    return collisions


async def check_terms(
    session: AsyncSession,
    fo_party_id: str,
    terms: ContractTerms,
    *,
    now: datetime,
    exclude_id: int | None = None,
    base: str = "/body",
    as_fo: bool = False,
) -> list[ResolvedTarget | None]:
    """Refuse terms that break a rule (422 or 409); returns the resolved targets.

    `as_fo`: the FO proposes or amends, and learns nothing of targets it may not see (see the
    module's docstring); otherwise the operator decides, against the whole registry.
    """
    view: _View | None = None
    if as_fo:
        # Imported here: `target_visibility` uses this module's roaming rule.
        from fcsbe.server.services.registry.target_visibility import visible_only

        async def fo_view(found: Sequence[ResolvedTarget | None]) -> list[ResolvedTarget | None]:
            return await visible_only(session, fo_party_id, found, now=now, contract_id=exclude_id)

        view = fo_view

    resolved = await resolve_targets(session, terms.targets)
    if view is not None:
        resolved = await view(resolved)
    errors = _check_windows(terms, base, now) + _check_targets(terms, resolved, base, as_fo=as_fo)
    if errors:
        slug = errors[0].code.replace("_", "-")
        raise UnprocessableContent(
            f"{len(errors)} problem(s) in the contract terms: {errors[0].detail}",
            slug=slug,
            errors=errors,
        )
    collisions = await _overlaps(session, fo_party_id, terms, resolved, exclude_id, view)
    if collisions:
        other, index = collisions[0]
        raise Conflict(
            f"Contract {other.fsc_id} already covers {terms.targets[index].id} for an FS type of "
            "this contract in an overlapping period; amend or terminate it first.",
            slug="contract-overlap",
            errors=[
                FieldError(
                    pointer=f"{base}/targets/{index}",
                    detail=f"overlaps contract {other.fsc_id}",
                    code="contract_overlap",
                )
            ],
        )
    return resolved
