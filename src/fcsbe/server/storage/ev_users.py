"""Tables and queries of EV users (UC 3.6): subjects, their own pseudonym keys, invitations.

An EV user is known only by a keyed hash of their identifier (contract id / EMAID): the raw
identifier is never stored. Each user's pseudonym key lives in its own table (`ev_user_keys`),
apart from everything derived from it, so that erasure can delete the key alone and every
pseudonym it made becomes unlinkable (crypto-shredding) while the rows that carry those
pseudonyms (the hash-chained event log, records) stay untouched. Bearer tokens are ordinary
`credentials` rows with role EV_USER and the user's id as their party; invitations are one-time
codes stored as hashes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from fcsbe.server.storage.base import Base
from fcsbe.server.storage.infrastructure import ConsentRow, EvSessionRow
from fcsbe.server.storage.parties import CredentialRow
from fcsbe.server.storage.registry import chunked

__all__ = [
    "EvUserInviteRow",
    "EvUserKeyRow",
    "EvUserRow",
    "delete_subject",
    "find_by_identifier",
    "find_invite",
    "fs_using_evses",
    "keys_by_identifier",
    "list_users",
    "live_sessions_of",
    "records_since",
    "sessions_of",
    "spend_invite",
    "users_by_identifier",
]


class EvUserRow(Base):
    """An EV user: the keyed hash of their identifier, their pseudonym, their preferences."""

    __tablename__ = "ev_users"

    user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    identifier_hash: Mapped[str] = mapped_column(String(128), unique=True)
    subject_ref: Mapped[str] = mapped_column(String(128), unique=True)
    consent_level: Mapped[str] = mapped_column(String(8))
    limits: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class EvUserKeyRow(Base):
    """The user's own pseudonym key, kept apart so that erasure can shred it alone."""

    __tablename__ = "ev_user_keys"

    user_id: Mapped[str] = mapped_column(
        ForeignKey("ev_users.user_id", ondelete="CASCADE"), primary_key=True
    )
    key_hex: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime]


class EvUserInviteRow(Base):
    """A one-time personal link: the hash of its code, its expiry and when it was used."""

    __tablename__ = "ev_user_invites"

    invite_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[str] = mapped_column(
        ForeignKey("ev_users.user_id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


async def find_by_identifier(db: AsyncSession, identifier_hash: str) -> EvUserRow | None:
    """The user with this identifier hash, if any."""
    statement = select(EvUserRow).where(EvUserRow.identifier_hash == identifier_hash)
    return (await db.execute(statement)).scalar_one_or_none()


async def users_by_identifier(db: AsyncSession, identifier_hashes: set[str]) -> list[EvUserRow]:
    """The known users among these identifier hashes."""
    found: list[EvUserRow] = []
    for batch in chunked(identifier_hashes):
        statement = select(EvUserRow).where(EvUserRow.identifier_hash.in_(batch))
        found.extend((await db.execute(statement)).scalars())
    return found


async def keys_by_identifier(
    db: AsyncSession, identifier_hashes: set[str]
) -> dict[str, tuple[str, bytes]]:
    """Subject ref and pseudonym key of each known identifier hash (for session sync)."""
    found: dict[str, tuple[str, bytes]] = {}
    for batch in chunked(identifier_hashes):
        rows = await db.execute(
            select(EvUserRow.identifier_hash, EvUserRow.subject_ref, EvUserKeyRow.key_hex)
            .join(EvUserKeyRow, EvUserKeyRow.user_id == EvUserRow.user_id)
            .where(EvUserRow.identifier_hash.in_(batch))
        )
        found.update((h, (ref, bytes.fromhex(key))) for h, ref, key in rows)
    return found


async def list_users(db: AsyncSession, *, after: str | None, limit: int) -> list[EvUserRow]:
    """One page of users ordered by id (for the operator)."""
    statement = select(EvUserRow).order_by(EvUserRow.user_id).limit(limit)
    if after is not None:
        statement = statement.where(EvUserRow.user_id > after)
    return list((await db.execute(statement)).scalars())


async def find_invite(db: AsyncSession, code_hash: str) -> EvUserInviteRow | None:
    """The invitation with this code hash (lookup by hash: no secret comparison)."""
    statement = select(EvUserInviteRow).where(EvUserInviteRow.code_hash == code_hash)
    return (await db.execute(statement)).scalar_one_or_none()


async def spend_invite(db: AsyncSession, invite_id: str, now: datetime) -> bool:
    """Mark the invitation used; False when it was used or expired meanwhile (one UPDATE, so
    of two concurrent exchanges exactly one wins)."""
    result = await db.execute(
        update(EvUserInviteRow)
        .where(
            EvUserInviteRow.invite_id == invite_id,
            EvUserInviteRow.used_at.is_(None),
            EvUserInviteRow.expires_at > now,
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0) == 1


async def sessions_of(db: AsyncSession, subject_ref: str) -> list[EvSessionRow]:
    """Every stored session of the subject, newest first."""
    statement = (
        select(EvSessionRow)
        .where(EvSessionRow.subject_ref == subject_ref)
        .order_by(EvSessionRow.connected_at.desc(), EvSessionRow.session_ref)
    )
    return list((await db.execute(statement)).scalars())


async def live_sessions_of(db: AsyncSession, subject_ref: str) -> list[EvSessionRow]:
    """The subject's sessions still connected."""
    statement = select(EvSessionRow).where(
        EvSessionRow.subject_ref == subject_ref, EvSessionRow.disconnected_at.is_(None)
    )
    return list((await db.execute(statement)).scalars())


async def delete_subject(db: AsyncSession, user: EvUserRow) -> dict[str, int]:
    """Erase a subject: its key, invitations, tokens, consents and preferences, and unlink its
    sessions (their pseudonymous rows stay for settlement; their personal fields go).
    Returns how many rows of each kind were deleted or unlinked."""
    counts: dict[str, int] = {}

    async def run(name: str, statement: Any) -> None:
        result = await db.execute(statement.execution_options(synchronize_session=False))
        counts[name] = int(getattr(result, "rowcount", 0) or 0)

    await run("keys", delete(EvUserKeyRow).where(EvUserKeyRow.user_id == user.user_id))
    await run("invites", delete(EvUserInviteRow).where(EvUserInviteRow.user_id == user.user_id))
    await run(
        "tokens",
        delete(CredentialRow).where(
            CredentialRow.role == "EV_USER", CredentialRow.party_id == user.user_id
        ),
    )
    await run("consents", delete(ConsentRow).where(ConsentRow.subject_ref == user.subject_ref))
    sessions = list(
        (
            await db.execute(
                select(EvSessionRow).where(EvSessionRow.subject_ref == user.subject_ref)
            )
        ).scalars()
    )
    for row in sessions:
        data = dict(row.data)
        for personal in ("evu_limits", "soc", "energy_request", "departure_time", "consent_ref"):
            data[personal] = None
        row.data, row.subject_ref, row.consent_id, row.departure_time = data, None, None, None
    counts["sessions_unlinked"] = len(sessions)
    await db.delete(user)
    counts["users"] = 1
    return counts


async def fs_using_evses(
    db: AsyncSession, evse_ids: set[str], states: frozenset[str]
) -> list[tuple[str, str, str]]:
    """(EVSE id, FO party id, FS id) of every FS in `states` that steers one of `evse_ids`."""
    from fcsbe.server.storage.flexibility_services import FlexibilityServiceRow, FsTargetRow

    found: list[tuple[str, str, str]] = []
    for batch in chunked(evse_ids):
        rows = await db.execute(
            select(
                FsTargetRow.target_id,
                FlexibilityServiceRow.fo_party_id,
                FlexibilityServiceRow.fs_id,
            )
            .join(FlexibilityServiceRow, FlexibilityServiceRow.id == FsTargetRow.fs_pk)
            .where(
                FsTargetRow.target_id.in_(batch),
                FlexibilityServiceRow.state.in_(sorted(states)),
            )
            .distinct()
        )
        found.extend((e, fo, fs) for e, fo, fs in rows.all())
    return sorted(found)


async def records_since(db: AsyncSession, since: datetime) -> list[tuple[str, dict[str, Any]]]:
    """(FS type, DSR document) of the records made since `since`, oldest first."""
    from fcsbe.server.storage.records import ServiceRecordRow

    rows = await db.execute(
        select(ServiceRecordRow.record)
        .where(ServiceRecordRow.created_at >= since)
        .order_by(ServiceRecordRow.created_at, ServiceRecordRow.id)
    )
    return [(str(doc.get("fs_type")), doc) for doc in rows.scalars()]
