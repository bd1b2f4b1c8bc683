"""EV users' access (UC 3.6): invitation by the CSO/CSP, the one-time personal link traded for
a bearer token, the operator's list, and erasure by crypto-shredding.

The server keeps only a keyed hash of the identifier the CSP knows the user by, gives the user a
pseudonym key of their own (stored apart, `ev_user_keys`) and a one-time link whose code is
stored hashed. Erasure deletes the key and the rows derived from the subject: the pseudonyms
left in the event log and the records can no longer be linked to anyone, and the hash chain is
untouched. What the user then does with their access is in `services/ev_users/ev_users.py`.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from fcsbe.model import (
    EvUserConsentLevel,
    EvUserErasure,
    EvUserInvite,
    EvUserLimits,
    EvUserSummary,
    EvUserToken,
)
from fcsbe.server.errors import ApiError, NotFound, Unauthorized
from fcsbe.server.security.pseudonyms import Pseudonymizer, new_subject_key
from fcsbe.server.security.tokens import EV_USER_TOKEN_PREFIX, hash_secret, new_secret
from fcsbe.server.services.event_log.log import append_event
from fcsbe.server.storage import ev_users as store
from fcsbe.server.storage.ev_users import EvUserInviteRow, EvUserKeyRow, EvUserRow
from fcsbe.server.storage.parties import CredentialRow

__all__ = [
    "INVITE_PREFIX",
    "InviteGone",
    "erase",
    "erase_identifier",
    "exchange_invite",
    "invite",
    "list_users",
]

INVITE_PREFIX = "fcsbe_iv_"
_DEFAULT_LIMITS = EvUserLimits(
    min_soc_at_departure_pct=50.0, soc_floor_pct=20.0, max_energy_to_grid_kwh_per_day=0.0
)


class InviteGone(ApiError):
    """A personal link that was already used or has expired: it can never work again."""

    status, slug, title = 410, "invite-gone", "Link no longer valid"


# -- the operator's side ----------------------------------------------------------------------


async def invite(
    db: AsyncSession,
    identifier: str,
    *,
    expires_in_s: int,
    base_url: str,
    pseudonyms: Pseudonymizer,
    now: datetime,
) -> tuple[EvUserInvite, bool]:
    """A one-time personal link for the EV user with this identifier (created on first
    invitation, with a pseudonym key of their own); True when the user is new."""
    identifier_hash = pseudonyms.identifier_hash(identifier)
    user = await store.find_by_identifier(db, identifier_hash)
    created = user is None
    if user is None:
        key = new_subject_key()
        user = EvUserRow(
            user_id=str(uuid.uuid4()),
            identifier_hash=identifier_hash,
            subject_ref=Pseudonymizer.for_subject(key).subject_ref(identifier),
            consent_level=EvUserConsentLevel.V1G.value,
            limits=_DEFAULT_LIMITS.model_dump(mode="json"),
            created_at=now,
            updated_at=now,
        )
        db.add(user)
        await db.flush()
        db.add(EvUserKeyRow(user_id=user.user_id, key_hex=key.hex(), created_at=now))
    code = new_secret(INVITE_PREFIX)
    expires_at = now + timedelta(seconds=expires_in_s)
    db.add(
        EvUserInviteRow(
            invite_id=str(uuid.uuid4()),
            code_hash=hash_secret(code),
            user_id=user.user_id,
            created_at=now,
            expires_at=expires_at,
        )
    )
    await append_event(
        db,
        type="EV_USER_INVITED",
        object_ref=f"ev-user/{user.subject_ref}",
        summary="a personal link was issued to an EV user",
        payload={"subject_ref": user.subject_ref, "expires_at": expires_at.isoformat()},
    )
    url = f"{base_url.rstrip('/')}/app/#invite={code}"
    return EvUserInvite(user_id=user.user_id, invite_url=url, expires_at=expires_at), created


async def list_users(
    db: AsyncSession, *, after: str | None, limit: int
) -> tuple[list[EvUserSummary], str | None]:
    """One page of EV users (pseudonym and preferences only) and the key of the next."""
    rows = await store.list_users(db, after=after, limit=limit + 1)
    items = [
        EvUserSummary(
            user_id=r.user_id,
            subject_ref=r.subject_ref,
            consent_level=EvUserConsentLevel(r.consent_level),
            created_at=r.created_at,
            updated_at=r.updated_at,
        )
        for r in rows[:limit]
    ]
    return items, rows[limit - 1].user_id if len(rows) > limit else None


async def erase(db: AsyncSession, user_id: str, now: datetime) -> EvUserErasure:
    """Erase an EV user (GDPR Art. 17): shred their key, delete what was derived from them."""
    user = await db.get(EvUserRow, user_id)
    if user is None:
        raise NotFound(f"No EV user {user_id!r}.", slug="ev-user-not-found")
    subject_ref = user.subject_ref
    removed = await store.delete_subject(db, user)
    await append_event(
        db,
        type="EV_USER_ERASED",
        object_ref=f"ev-user/{subject_ref}",
        summary="an EV user was erased; their pseudonym key was destroyed",
        payload={"subject_ref": subject_ref, "removed": removed},
    )
    return EvUserErasure(user_id=user_id, erased_at=now, removed=removed)


async def erase_identifier(
    db: AsyncSession, identifier: str, pseudonyms: Pseudonymizer, now: datetime
) -> EvUserErasure:
    """Erase the EV user with this identifier (as the CSP knows them)."""
    user = await store.find_by_identifier(db, pseudonyms.identifier_hash(identifier))
    if user is None:
        raise NotFound("No EV user with this identifier.", slug="ev-user-not-found")
    return await erase(db, user.user_id, now)


# -- the EV user's side -----------------------------------------------------------------------


async def exchange_invite(
    db: AsyncSession, code: str, *, token_ttl_s: int, now: datetime
) -> EvUserToken:
    """Trade a personal link's code for a bearer token; a used or expired link is gone (410)
    and an unknown one is refused (401), and neither changes anything."""
    found = await store.find_invite(db, hash_secret(code))
    if found is None:
        raise Unauthorized("The personal link is not known.", slug="invite-unknown")
    if found.used_at is not None:
        raise InviteGone("This personal link was already used; ask for a new one.")
    if found.expires_at <= now or not await store.spend_invite(db, found.invite_id, now):
        raise InviteGone("This personal link has expired or was just used; ask for a new one.")
    token = new_secret(EV_USER_TOKEN_PREFIX)
    expires_at = now + timedelta(seconds=token_ttl_s)
    db.add(
        CredentialRow(
            credential_id=str(uuid.uuid4()),
            token_hash=hash_secret(token),
            role="EV_USER",
            party_id=found.user_id,
            enrolment_id=None,
            created_at=now,
            expires_at=expires_at,
        )
    )
    return EvUserToken(access_token=token, expires_at=expires_at)
