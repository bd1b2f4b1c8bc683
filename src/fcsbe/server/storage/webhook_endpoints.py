"""Table of the FOs' webhook endpoints: where notifications are pushed and how they are signed.

`v1` signatures use the endpoint's own HMAC secret; `v1a` ones the server's Ed25519 key, which
lives with its other keys in `data_dir`, never in this table.

One endpoint per FO party. The signing secret must be readable by the server (HMAC needs the
key itself, a hash would not do), so it is kept in this table; protect the database like any
store of credentials. After a rotation the previous secret keeps signing (as a second
signature) until `previous_secret_expires_at`.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from fcsbe.server.storage.base import Base

__all__ = ["WebhookEndpointRow", "all_endpoints", "endpoints_of"]


class WebhookEndpointRow(Base):
    """The webhook endpoint of one FO, its secrets and its delivery state."""

    __tablename__ = "webhook_endpoints"

    fo_party_id: Mapped[str] = mapped_column(
        ForeignKey("parties.party_id", ondelete="CASCADE"), primary_key=True
    )
    enrolment_id: Mapped[str | None] = mapped_column(String(128))
    callback_base_url: Mapped[str] = mapped_column(String(2048))
    secret: Mapped[str] = mapped_column(String(128))
    previous_secret: Mapped[str | None] = mapped_column(String(128))
    previous_secret_expires_at: Mapped[datetime | None]
    secret_rotated_at: Mapped[datetime]
    signature_schemes: Mapped[str] = mapped_column(String(32), server_default="v1")
    """The FO's choice, space-separated: `v1` (HMAC with `secret`), `v1a` (the server's
    Ed25519 key), or both."""
    status: Mapped[str] = mapped_column(String(16))
    disabled_reason: Mapped[str | None] = mapped_column(String(500))
    disabled_at: Mapped[datetime | None]
    paused_until: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    @property
    def schemes(self) -> list[str]:
        """`signature_schemes` as a list."""
        return self.signature_schemes.split()

    @property
    def url(self) -> str:
        """Where each notification is POSTed."""
        return f"{self.callback_base_url.rstrip('/')}/notifications"


async def all_endpoints(session: AsyncSession) -> list[WebhookEndpointRow]:
    """Every FO's webhook endpoint (re-sealing secrets at start visits them all)."""
    return list((await session.execute(select(WebhookEndpointRow))).scalars())


async def endpoints_of(
    session: AsyncSession, fo_party_ids: set[str]
) -> dict[str, WebhookEndpointRow]:
    """The webhook endpoints of these FOs by party id (FOs without one are absent; no query
    for none): delivery reads those of the notifications it handles."""
    if not fo_party_ids:
        return {}
    rows = await session.execute(
        select(WebhookEndpointRow).where(WebhookEndpointRow.fo_party_id.in_(sorted(fo_party_ids)))
    )
    return {row.fo_party_id: row for row in rows.scalars()}
