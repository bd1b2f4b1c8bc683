"""Tables of parties, enrolments, one-time enrolment tokens and access credentials, and the
queries on them.

Secrets never appear here in clear: tokens are stored as SHA-256 hashes only. These rows are the
tenancy itself (who is who), so their queries take ids the caller resolved from its principal.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, exists, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, aliased, mapped_column

from fcsbe.server.storage.base import Base

__all__ = [
    "CredentialRow",
    "EnrolmentRow",
    "EnrolmentTokenRow",
    "PartyRow",
    "active_enrolment_of",
    "credentials_to_warn",
    "enrolments_page",
    "find_token",
    "mark_offline",
    "newest_credential",
    "operator_credentials",
    "revoke_credentials",
    "server_party",
    "silent_enrolments",
    "spend_token",
]


class PartyRow(Base):
    """A party known to this server: the server's own CSO/CSP party and every enrolled FO."""

    __tablename__ = "parties"

    party_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    roles: Mapped[list[str]]
    legal_name: Mapped[str] = mapped_column(String(200))
    country: Mapped[str] = mapped_column(String(2))
    identifiers: Mapped[dict[str, Any]]
    jwks: Mapped[dict[str, Any]]
    is_server: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime]


class EnrolmentRow(Base):
    """The FO <-> CSO/CSP link created by UC 3.1, with its liveness and fallback settings."""

    __tablename__ = "enrolments"

    enrolment_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    fo_party_id: Mapped[str] = mapped_column(ForeignKey("parties.party_id"), index=True)
    status: Mapped[str] = mapped_column(String(16))
    scopes: Mapped[list[str]]
    callback_base_url: Mapped[str | None] = mapped_column(String(2048))
    signing_key: Mapped[dict[str, Any] | None]
    previous_keys_valid_until: Mapped[datetime | None]
    webhook_secret: Mapped[str | None] = mapped_column(String(256))
    heartbeat_interval_s: Mapped[int]
    offline_timeout_s: Mapped[int]
    fallback_policy: Mapped[str] = mapped_column(String(32))
    last_heartbeat_at: Mapped[datetime | None]
    offline_since: Mapped[datetime | None]
    created_at: Mapped[datetime]
    rotated_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class EnrolmentTokenRow(Base):
    """A one-time enrolment token handed out of band; spent atomically by one enrolment."""

    __tablename__ = "enrolment_tokens"

    token_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    fo_name: Mapped[str] = mapped_column(String(200))
    party_id: Mapped[str | None] = mapped_column(String(128))
    scopes: Mapped[list[str]] = mapped_column(server_default=text("'[]'"))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    spent_at: Mapped[datetime | None]
    spent_by: Mapped[str | None] = mapped_column(String(128))


class CredentialRow(Base):
    """A bearer credential (hashed) of an enrolment or of the operator."""

    __tablename__ = "credentials"
    __table_args__ = (Index("ix_credentials_enrolment_id", "enrolment_id"),)

    credential_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    party_id: Mapped[str] = mapped_column(String(128))
    enrolment_id: Mapped[str | None] = mapped_column(ForeignKey("enrolments.enrolment_id"))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    # When the FO was told this token expires soon (CREDENTIAL_EXPIRING is sent once).
    expiry_notified_at: Mapped[datetime | None]


async def server_party(session: AsyncSession) -> PartyRow | None:
    """The CSO/CSP party this server acts for (None until initialised)."""
    statement = select(PartyRow).where(PartyRow.is_server.is_(True)).limit(1)
    return (await session.execute(statement)).scalar_one_or_none()


async def find_token(session: AsyncSession, token_hash: str) -> EnrolmentTokenRow | None:
    """The enrolment token with this hash (lookup by hash: no secret comparison)."""
    statement = select(EnrolmentTokenRow).where(EnrolmentTokenRow.token_hash == token_hash)
    return (await session.execute(statement)).scalar_one_or_none()


async def spend_token(
    session: AsyncSession, token_id: str, enrolment_id: str, now: datetime
) -> bool:
    """Mark the token spent by `enrolment_id`; False when it was spent or expired meanwhile.

    One conditional UPDATE: of two concurrent enrolments with the same token exactly one sees a
    row updated (PostgreSQL re-checks the condition after the first commits; SQLite serialises).
    """
    result = await session.execute(
        update(EnrolmentTokenRow)
        .where(
            EnrolmentTokenRow.token_id == token_id,
            EnrolmentTokenRow.spent_at.is_(None),
            EnrolmentTokenRow.expires_at > now,
        )
        .values(spent_at=now, spent_by=enrolment_id)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0) == 1


async def active_enrolment_of(session: AsyncSession, party_id: str) -> EnrolmentRow | None:
    """The party's ACTIVE (or SUSPENDED) enrolment, if any."""
    statement = select(EnrolmentRow).where(
        EnrolmentRow.fo_party_id == party_id, EnrolmentRow.status.in_(("ACTIVE", "SUSPENDED"))
    )
    return (await session.execute(statement)).scalars().first()


async def enrolments_page(
    session: AsyncSession, *, after: str | None, limit: int, status: str | None = None
) -> list[EnrolmentRow]:
    """Enrolments ordered by id, for the operator (all FOs: the operator's own tenancy)."""
    statement = select(EnrolmentRow).order_by(EnrolmentRow.enrolment_id).limit(limit)
    if after is not None:
        statement = statement.where(EnrolmentRow.enrolment_id > after)
    if status is not None:
        statement = statement.where(EnrolmentRow.status == status)
    return list((await session.execute(statement)).scalars().all())


async def revoke_credentials(session: AsyncSession, enrolment_id: str, now: datetime) -> int:
    """Revoke every credential of an enrolment at once; returns how many."""
    result = await session.execute(
        update(CredentialRow)
        .where(CredentialRow.enrolment_id == enrolment_id, CredentialRow.revoked_at.is_(None))
        .values(revoked_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def newest_credential(session: AsyncSession, enrolment_id: str) -> CredentialRow | None:
    """The most recently issued credential of an enrolment (the one rotation may start from)."""
    statement = (
        select(CredentialRow)
        .where(CredentialRow.enrolment_id == enrolment_id)
        .order_by(CredentialRow.created_at.desc(), CredentialRow.credential_id.desc())
        .limit(1)
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def silent_enrolments(session: AsyncSession) -> list[EnrolmentRow]:
    """ACTIVE enrolments not yet marked offline (the offline check filters them by time)."""
    statement = select(EnrolmentRow).where(
        EnrolmentRow.status == "ACTIVE", EnrolmentRow.offline_since.is_(None)
    )
    return list((await session.execute(statement)).scalars().all())


async def mark_offline(session: AsyncSession, enrolment_id: str, since: datetime) -> bool:
    """Set `offline_since` unless another replica did first; True when this call did."""
    result = await session.execute(
        update(EnrolmentRow)
        .where(
            EnrolmentRow.enrolment_id == enrolment_id,
            EnrolmentRow.status == "ACTIVE",
            EnrolmentRow.offline_since.is_(None),
        )
        .values(offline_since=since)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0) == 1


async def operator_credentials(session: AsyncSession, party_id: str) -> list[CredentialRow]:
    """Operator credentials of the server party, oldest first."""
    statement = (
        select(CredentialRow)
        .where(CredentialRow.role == "OPERATOR", CredentialRow.party_id == party_id)
        .order_by(CredentialRow.created_at)
    )
    return list((await session.execute(statement)).scalars().all())


async def credentials_to_warn(
    session: AsyncSession, now: datetime, until: datetime, limit: int
) -> list[CredentialRow]:
    """The newest live FO tokens of active enrolments expiring by `until` and not yet warned
    about, soonest first (PostgreSQL: rows another replica holds are skipped)."""
    newer = aliased(CredentialRow)
    statement = (
        select(CredentialRow)
        .join(EnrolmentRow, EnrolmentRow.enrolment_id == CredentialRow.enrolment_id)
        .where(
            CredentialRow.role == "FO",
            CredentialRow.revoked_at.is_(None),
            CredentialRow.expiry_notified_at.is_(None),
            CredentialRow.expires_at > now,
            CredentialRow.expires_at <= until,
            EnrolmentRow.status == "ACTIVE",
            ~exists().where(
                newer.enrolment_id == CredentialRow.enrolment_id,
                newer.created_at > CredentialRow.created_at,
            ),
        )
        .order_by(CredentialRow.expires_at, CredentialRow.credential_id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        statement = statement.with_for_update(of=CredentialRow, skip_locked=True)
    return list((await session.execute(statement)).scalars().all())
