"""EV users (UC 3.6): consent and limits that take effect at once, and their participation in
flexibility services.

A change of consent or limits is pushed to the user's connected sessions through the station
adapter (so the next control step already respects it, whatever FS runs there), and the FOs
whose FS steer those sessions hear of it under the sessions' pseudonyms only; the event log
records it the same way. Invitations, personal links and erasure are in
`services/ev_users/access.py`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from fcsbe.model import (
    EvUserConsentLevel,
    EvUserLimits,
    EvUserParticipation,
    EvUserProfile,
    FsType,
    NotificationType,
)
from fcsbe.server.adapters.base import SessionPreferences, StationAdapter, StationSession
from fcsbe.server.errors import Unauthorized
from fcsbe.server.notifications.outbox import enqueue_notification
from fcsbe.server.security.principal import Principal
from fcsbe.server.security.pseudonyms import Pseudonymizer
from fcsbe.server.services.event_log.log import append_event
from fcsbe.server.services.flexibility_services.lifecycle import LIVE_STATES
from fcsbe.server.storage import ev_users as store
from fcsbe.server.storage.ev_users import EvUserRow
from fcsbe.server.storage.infrastructure import EvSessionRow

__all__ = [
    "enforce_preferences",
    "participation",
    "preferences_of",
    "profile",
    "set_consent",
    "set_limits",
]

log = logging.getLogger("fcsbe.ev_users")

_LIVE = frozenset(s.value for s in LIVE_STATES)


async def _user(db: AsyncSession, principal: Principal) -> EvUserRow:
    user = await db.get(EvUserRow, principal.party_id)
    if user is None:  # a token left over from before erasure cannot exist; stay safe anyway
        raise Unauthorized("The EV user is not known.", slug="invalid-token")
    return user


async def profile(
    db: AsyncSession, principal: Principal, *, sessions_updated: int = 0
) -> EvUserProfile:
    """The caller's consent, limits and number of connected sessions."""
    user = await _user(db, principal)
    live = await store.live_sessions_of(db, user.subject_ref)
    return EvUserProfile(
        subject_ref=user.subject_ref,
        consent_level=EvUserConsentLevel(user.consent_level),
        limits=EvUserLimits.model_validate(user.limits),
        connected_sessions=len(live),
        sessions_updated=sessions_updated,
        updated_at=user.updated_at,
    )


def preferences_of(user: EvUserRow) -> SessionPreferences:
    """What the stations must enforce on the user's sessions: the daily energy cap is applied
    per session (a session rarely spans more than a day)."""
    level = EvUserConsentLevel(user.consent_level)
    limits = EvUserLimits.model_validate(user.limits)
    v2g = level is EvUserConsentLevel.V2G
    return SessionPreferences(
        consent_v1g=level is not EvUserConsentLevel.NONE,
        consent_v2g=v2g,
        min_soc_at_departure_pct=limits.min_soc_at_departure_pct,
        soc_floor_pct=limits.soc_floor_pct,
        max_energy_to_grid_wh=limits.max_energy_to_grid_kwh_per_day * 1000.0 if v2g else 0.0,
    )


def _same(reported: StationSession, wanted: SessionPreferences) -> bool:
    return (
        reported.consent_v1g == wanted.consent_v1g
        and reported.consent_v2g == wanted.consent_v2g
        and reported.min_soc_at_departure_pct == wanted.min_soc_at_departure_pct
        and reported.soc_floor_pct == wanted.soc_floor_pct
        and (
            not wanted.consent_v2g or reported.max_energy_to_grid_wh == wanted.max_energy_to_grid_wh
        )
    )


async def _push(
    adapter: StationAdapter,
    pseudonyms: Pseudonymizer,
    user: EvUserRow,
    reported: Sequence[StationSession],
) -> int:
    """Put the user's preferences in force on their connected sessions; returns how many."""
    wanted = preferences_of(user)
    done = 0
    for item in reported:
        if item.id_token and pseudonyms.identifier_hash(item.id_token) == user.identifier_hash:
            done += int(await adapter.update_session(item.session_key, wanted))
    return done


async def enforce_preferences(
    db: AsyncSession,
    adapter: StationAdapter,
    reported: Sequence[StationSession],
    pseudonyms: Pseudonymizer,
) -> int:
    """Station sync: sessions of known EV users that do not yet follow the user's preferences
    (a new connection) get them; returns how many sessions were updated."""
    by_hash: dict[str, list[StationSession]] = {}
    for item in reported:
        if item.id_token:
            by_hash.setdefault(pseudonyms.identifier_hash(item.id_token), []).append(item)
    if not by_hash:
        return 0
    done = 0
    for user in await store.users_by_identifier(db, set(by_hash)):
        wanted = preferences_of(user)
        for item in by_hash[user.identifier_hash]:
            if not _same(item, wanted):
                done += int(await adapter.update_session(item.session_key, wanted))
    return done


async def _announce(
    db: AsyncSession, user: EvUserRow, kind: NotificationType, now: datetime
) -> list[EvSessionRow]:
    """Tell the FOs whose live FS steer the user's connected sessions, and log it (pseudonyms
    only: session refs and the consent ref)."""
    live = await store.live_sessions_of(db, user.subject_ref)
    by_evse = {row.evse_id: row for row in live}
    uses = await store.fs_using_evses(db, set(by_evse), _LIVE)
    per_fo: dict[str, list[EvSessionRow]] = {}
    for evse_id, fo_party_id, _fs_id in uses:
        rows = per_fo.setdefault(fo_party_id, [])
        if by_evse[evse_id] not in rows:
            rows.append(by_evse[evse_id])
    for fo_party_id, rows in sorted(per_fo.items()):
        refs = sorted(r.session_ref for r in rows)
        data: dict[str, Any]
        if kind is NotificationType.CONSENT_WITHDRAWN:
            consent_ref = rows[0].consent_id or rows[0].session_ref
            data = {"consent_ref": consent_ref, "session_refs": refs, "withdrawn_at": now}
        else:
            data = {"session_refs": refs, "changed_at": now}
        await enqueue_notification(
            db,
            fo_party_id=fo_party_id,
            type=kind.value,
            data={k: v.isoformat() if isinstance(v, datetime) else v for k, v in data.items()},
            target={"level": "SESSION", "id": refs[0]},
            occurred_at=now,
        )
    await append_event(
        db,
        type=f"EV_USER_{kind.value}",
        object_ref=f"ev-user/{user.subject_ref}",
        summary=f"EV user changed preferences ({kind.value}) on {len(live)} live session(s)",
        payload={
            "subject_ref": user.subject_ref,
            "session_refs": sorted(r.session_ref for r in live),
            "fo_party_ids": sorted(per_fo),
        },
    )
    return live


async def _changed(
    db: AsyncSession,
    user: EvUserRow,
    kind: NotificationType,
    adapter: StationAdapter,
    pseudonyms: Pseudonymizer,
    now: datetime,
) -> int:
    user.updated_at = now
    await db.flush()
    pushed = await _push(adapter, pseudonyms, user, await adapter.sessions())
    await _announce(db, user, kind, now)
    log.info("EV user %s: %s applied to %d live session(s)", user.subject_ref, kind.value, pushed)
    return pushed


async def set_consent(
    db: AsyncSession,
    principal: Principal,
    level: EvUserConsentLevel,
    *,
    adapter: StationAdapter,
    pseudonyms: Pseudonymizer,
    now: datetime,
) -> EvUserProfile:
    """Change the consent level; less consent than before is a withdrawal for the FOs."""
    user = await _user(db, principal)
    order = list(EvUserConsentLevel)
    before = EvUserConsentLevel(user.consent_level)
    user.consent_level = level.value
    kind = (
        NotificationType.CONSENT_WITHDRAWN
        if order.index(level) < order.index(before)
        else NotificationType.EV_LIMITS_CHANGED
    )
    pushed = await _changed(db, user, kind, adapter, pseudonyms, now)
    return await profile(db, principal, sessions_updated=pushed)


async def set_limits(
    db: AsyncSession,
    principal: Principal,
    limits: EvUserLimits,
    *,
    adapter: StationAdapter,
    pseudonyms: Pseudonymizer,
    now: datetime,
) -> EvUserProfile:
    """Replace the limits; they bind the user's live sessions from the next control step."""
    user = await _user(db, principal)
    user.limits = limits.model_dump(mode="json")
    pushed = await _changed(db, user, NotificationType.EV_LIMITS_CHANGED, adapter, pseudonyms, now)
    return await profile(db, principal, sessions_updated=pushed)


async def participation(db: AsyncSession, principal: Principal) -> list[EvUserParticipation]:
    """The FS the caller's sessions took part in (from the records), newest first; each
    session's remuneration is its share of the FS's net settlement, pro rata to the energy it
    moved."""
    user = await _user(db, principal)
    sessions = await store.sessions_of(db, user.subject_ref)
    if not sessions:
        return []
    mine = {row.session_ref for row in sessions}
    since = min(row.connected_at for row in sessions)
    found: dict[tuple[str, str], EvUserParticipation] = {}  # a later revision replaces
    for fs_type, record in await store.records_since(db, since):
        lines = record.get("sessions") or []
        moved = sum(float(s["energy_charged_wh"]) + float(s["energy_injected_wh"]) for s in lines)
        settlement = record.get("settlement") or {}
        net = Decimal(str(settlement.get("net_amount", 0)))
        for line in lines:
            if line.get("session_ref") not in mine:
                continue
            energy = float(line["energy_charged_wh"]) + float(line["energy_injected_wh"])
            share = net * Decimal(str(energy / moved)) if moved > 0 else Decimal(0)
            found[(record["fs_id"], line["session_ref"])] = EvUserParticipation(
                fs_id=record["fs_id"],
                fs_type=FsType(fs_type),
                start=record["window"]["start"],
                end=record["window"]["end"],
                session_ref=line["session_ref"],
                evse_id=line["evse_id"],
                energy_charged_wh=line["energy_charged_wh"],
                energy_injected_wh=line["energy_injected_wh"],
                remuneration=share.quantize(Decimal("0.01")),
                currency=settlement.get("currency"),
            )
    return sorted(found.values(), key=lambda p: (p.start, p.fs_id), reverse=True)
