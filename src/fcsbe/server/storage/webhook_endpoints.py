"""Table of the FOs' webhook endpoints: where notifications are pushed and how they are signed.

One endpoint per FO party. The signing secret must be readable by the server (HMAC needs the
key itself, a hash would not do), so it is kept in this table; protect the database like any
store of credentials. After a rotation the previous secret keeps signing (as a second
signature) until `previous_secret_expires_at`.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from fcsbe.server.storage.base import Base

__all__ = ["WebhookEndpointRow"]


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
    status: Mapped[str] = mapped_column(String(16))
    disabled_reason: Mapped[str | None] = mapped_column(String(500))
    disabled_at: Mapped[datetime | None]
    paused_until: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    @property
    def url(self) -> str:
        """Where each notification is POSTed."""
        return f"{self.callback_base_url.rstrip('/')}/notifications"
