"""Tables of parties, enrolments, one-time enrolment tokens and access credentials.

Secrets never appear here in clear: tokens are stored as SHA-256 hashes only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from fcsbe.server.storage.base import Base

__all__ = ["CredentialRow", "EnrolmentRow", "EnrolmentTokenRow", "PartyRow"]


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
