"""Tables of the charging infrastructure registry, EV sessions and consents.

Each row keeps the columns that queries filter on, plus the full model document in `data`.
EV sessions and consents hold pseudonyms only; the keys that make them are stored elsewhere.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from fcsbe.server.storage.base import Base

__all__ = [
    "ChargingStationRow",
    "ConsentRow",
    "EvModelRow",
    "EvSessionRow",
    "EvseRow",
    "SiteRow",
]


class SiteRow(Base):
    """A site (configuration type 1-5) with its grid connection and DERs."""

    __tablename__ = "sites"

    site_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    configuration_type: Mapped[int]
    grid_state: Mapped[str] = mapped_column(String(16))
    energy_community_id: Mapped[str | None] = mapped_column(String(128))
    data: Mapped[dict[str, Any]]
    updated_at: Mapped[datetime]


class ChargingStationRow(Base):
    """A charging station of a site."""

    __tablename__ = "charging_stations"

    cs_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.site_id"), index=True)
    data: Mapped[dict[str, Any]]
    updated_at: Mapped[datetime]


class EvseRow(Base):
    """An EVSE with the limits the FS decision and the setpoint split read on the hot path."""

    __tablename__ = "evses"
    __table_args__ = (Index("ix_evses_site_id", "site_id"),)

    evse_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    cs_id: Mapped[str] = mapped_column(ForeignKey("charging_stations.cs_id"), index=True)
    site_id: Mapped[str] = mapped_column(String(128))
    current_type: Mapped[str] = mapped_column(String(2))
    max_charge_w: Mapped[float]
    max_discharge_w: Mapped[float]
    data: Mapped[dict[str, Any]]
    updated_at: Mapped[datetime]


class EvSessionRow(Base):
    """A connected (or past) EV session, keyed by its pseudonymous session reference."""

    __tablename__ = "ev_sessions"
    __table_args__ = (Index("ix_ev_sessions_evse_id", "evse_id"),)

    session_ref: Mapped[str] = mapped_column(String(128), primary_key=True)
    evse_id: Mapped[str] = mapped_column(ForeignKey("evses.evse_id"))
    subject_ref: Mapped[str | None] = mapped_column(String(128), index=True)
    connected_at: Mapped[datetime]
    departure_time: Mapped[datetime | None]
    disconnected_at: Mapped[datetime | None]
    home_party_id: Mapped[str | None] = mapped_column(String(128))
    visited_party_id: Mapped[str | None] = mapped_column(String(128))
    # Roaming (UC 1.2 / 1.4): whose contract governs the session, HOME (the EV user's home CSP)
    # or VISITED (the CSO operating the EVSE); null when the session is not roaming.
    fs_controller: Mapped[str | None] = mapped_column(String(16))
    consent_id: Mapped[str | None] = mapped_column(String(128))
    data: Mapped[dict[str, Any]]


class EvModelRow(Base):
    """An EV model of the registry with its technical data and conformity evidence (UC 1.7)."""

    __tablename__ = "ev_models"

    ev_model_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    data: Mapped[dict[str, Any]]
    updated_at: Mapped[datetime]


class ConsentRow(Base):
    """An EV user's consent to take part in flexibility services, with their limits."""

    __tablename__ = "consents"

    consent_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    subject_ref: Mapped[str] = mapped_column(String(128), index=True)
    scope: Mapped[list[str]]
    limits: Mapped[dict[str, Any]]
    given_at: Mapped[datetime]
    withdrawn_at: Mapped[datetime | None]
