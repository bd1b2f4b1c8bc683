"""What the server keeps about OCPP stations: password hashes, connection leases, and what each
station reported and has installed.

- `station_credentials`: the hash of each station's HTTP Basic password (security profiles 1
  and 2); the password itself is shown once by `fcsbe admin stations set-password` and never
  stored.
- `station_connections`: which replica holds each connected station (a lease renewed while the
  WebSocket is open). Commands for a station are delivered by the replica named here; a replica
  killed without a goodbye leaves leases that simply run out.
- `station_ocpp_state`: the limits the station reported (GetVariables / GetConfiguration) and
  the ledger of charging profiles installed on it (JSON), so that any replica it reconnects to
  can re-send what is still in force.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Index, String, Text, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from fcsbe.server.storage.base import Base, JsonDoc
from fcsbe.server.storage.infrastructure import ChargingStationRow, EvseRow, EvSessionRow

__all__ = [
    "StationConnectionRow",
    "StationCredentialRow",
    "StationOcppStateRow",
    "claim_connection",
    "connection_holders",
    "credential_hashes",
    "evses_with_open_sessions",
    "held_stations",
    "load_ocpp_state",
    "registry_evses",
    "registry_stations",
    "release_connection",
    "renew_leases",
    "save_ocpp_state",
    "set_credential",
]


class StationCredentialRow(Base):
    """The password hash of one station (`security.station_passwords`)."""

    __tablename__ = "station_credentials"

    cs_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime]


class StationConnectionRow(Base):
    """The replica that holds a station's WebSocket, until `lease_until` unless renewed."""

    __tablename__ = "station_connections"
    __table_args__ = (Index("ix_station_connections_host", "host_id"),)

    cs_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    host_id: Mapped[str] = mapped_column(String(200))
    ocpp_version: Mapped[str] = mapped_column(String(8))
    connected_at: Mapped[datetime]
    lease_until: Mapped[datetime]


class StationOcppStateRow(Base):
    """What a station reported (`limits`) and has installed (`ledger`, the planner's JSON)."""

    __tablename__ = "station_ocpp_state"

    cs_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    limits: Mapped[dict[str, Any]]
    ledger: Mapped[str | None] = mapped_column(Text)
    transactions: Mapped[list[dict[str, Any]] | None] = mapped_column(JsonDoc)
    """The station's transactions in progress, so that the replica it reconnects to reports
    its EV sessions from the start."""
    updated_at: Mapped[datetime]


async def credential_hashes(session: AsyncSession, cs_ids: Iterable[str]) -> dict[str, str]:
    """The stored password hash of each station that has one."""
    ids = list(cs_ids)
    if not ids:
        return {}
    statement = select(StationCredentialRow).where(StationCredentialRow.cs_id.in_(ids))
    return {r.cs_id: r.password_hash for r in (await session.execute(statement)).scalars()}


async def set_credential(
    session: AsyncSession, cs_id: str, password_hash: str, now: datetime
) -> None:
    """Store (or replace) a station's password hash."""
    row = await session.get(StationCredentialRow, cs_id)
    if row is None:
        session.add(StationCredentialRow(cs_id=cs_id, password_hash=password_hash, updated_at=now))
    else:
        row.password_hash, row.updated_at = password_hash, now


async def claim_connection(
    session: AsyncSession, cs_id: str, host_id: str, version: str, now: datetime, until: datetime
) -> None:
    """Record that `host_id` now holds `cs_id` (the newest connection always wins: a station
    that reconnects elsewhere has left the old one, whatever its lease says)."""
    row = await session.get(StationConnectionRow, cs_id, with_for_update=True)
    if row is None:
        session.add(
            StationConnectionRow(
                cs_id=cs_id,
                host_id=host_id,
                ocpp_version=version,
                connected_at=now,
                lease_until=until,
            )
        )
    else:
        row.host_id, row.ocpp_version = host_id, version
        row.connected_at, row.lease_until = now, until


async def renew_leases(
    session: AsyncSession, host_id: str, cs_ids: Iterable[str], until: datetime
) -> int:
    """Extend this replica's leases on the stations it still holds; returns how many."""
    ids = list(cs_ids)
    if not ids:
        return 0
    result = await session.execute(
        update(StationConnectionRow)
        .where(StationConnectionRow.host_id == host_id, StationConnectionRow.cs_id.in_(ids))
        .values(lease_until=until)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def release_connection(session: AsyncSession, cs_id: str, host_id: str) -> None:
    """Forget this replica's hold on `cs_id` (if it still has it)."""
    await session.execute(
        delete(StationConnectionRow).where(
            StationConnectionRow.cs_id == cs_id, StationConnectionRow.host_id == host_id
        )
    )


async def connection_holders(
    session: AsyncSession, cs_ids: Iterable[str], now: datetime
) -> dict[str, str]:
    """The replica holding each of `cs_ids` under a valid lease."""
    ids = list(cs_ids)
    if not ids:
        return {}
    statement = select(StationConnectionRow.cs_id, StationConnectionRow.host_id).where(
        StationConnectionRow.cs_id.in_(ids), StationConnectionRow.lease_until > now
    )
    return {str(cs_id): str(host) for cs_id, host in (await session.execute(statement)).all()}


def held_stations(host_id: str, now: datetime) -> Any:
    """A subquery: the stations `host_id` holds under a valid lease (queue claims use it)."""
    return select(StationConnectionRow.cs_id).where(
        StationConnectionRow.host_id == host_id, StationConnectionRow.lease_until > now
    )


async def load_ocpp_state(session: AsyncSession, cs_id: str) -> StationOcppStateRow | None:
    """What a station last reported and has installed (None: never connected)."""
    return await session.get(StationOcppStateRow, cs_id)


async def reported_limits(
    session: AsyncSession, cs_ids: Iterable[str]
) -> dict[str, dict[str, Any]]:
    """What the stations among `cs_ids` reported over OCPP when they last connected
    (`StationLimits` JSON), by id; stations that never connected are absent."""
    wanted = sorted(set(cs_ids))
    if not wanted:
        return {}
    rows = await session.execute(
        select(StationOcppStateRow.cs_id, StationOcppStateRow.limits).where(
            StationOcppStateRow.cs_id.in_(wanted)
        )
    )
    return {cs_id: limits for cs_id, limits in rows.all() if limits}


async def save_ocpp_state(
    session: AsyncSession,
    cs_id: str,
    now: datetime,
    *,
    limits: dict[str, Any] | None = None,
    ledger: str | None = None,
    transactions: list[dict[str, Any]] | None = None,
) -> None:
    """Store a station's reported limits, ledger and/or transactions (what is not given is
    kept)."""
    row = await session.get(StationOcppStateRow, cs_id)
    if row is None:
        row = StationOcppStateRow(
            cs_id=cs_id,
            limits=limits or {},
            ledger=ledger,
            transactions=transactions,
            updated_at=now,
        )
        session.add(row)
        return
    if limits is not None:
        row.limits = limits
    if ledger is not None:
        row.ledger = ledger
    if transactions is not None:
        row.transactions = transactions
    row.updated_at = now


async def registry_evses(
    session: AsyncSession, cs_ids: Iterable[str] | None = None
) -> list[tuple[str, str, str, int, float, float]]:
    """`(cs_id, site_id, evse_id, ocpp_evse_id, max_charge_w, max_discharge_w)` of every EVSE
    in the registry (or of `cs_ids`): how the OCPP adapter maps a station's EVSE numbers."""
    statement = select(
        EvseRow.cs_id,
        EvseRow.site_id,
        EvseRow.evse_id,
        EvseRow.data,
        EvseRow.max_charge_w,
        EvseRow.max_discharge_w,
    )
    if cs_ids is not None:
        statement = statement.where(EvseRow.cs_id.in_(list(cs_ids)))
    return [
        (cs_id, site_id, evse_id, int(data.get("ocpp_evse_id", 1)), charge, discharge)
        for cs_id, site_id, evse_id, data, charge, discharge in (
            await session.execute(statement)
        ).all()
    ]


async def registry_stations(
    session: AsyncSession, cs_ids: Iterable[str] | None = None
) -> list[tuple[str, str]]:
    """`(cs_id, site_id)` of every station in the registry (or of those of `cs_ids` it has)."""
    statement = select(ChargingStationRow.cs_id, ChargingStationRow.site_id)
    if cs_ids is not None:
        statement = statement.where(ChargingStationRow.cs_id.in_(list(cs_ids)))
    return [(cs_id, site_id) for cs_id, site_id in (await session.execute(statement)).all()]


async def evses_with_open_sessions(session: AsyncSession, evse_ids: Iterable[str]) -> set[str]:
    """Which of `evse_ids` have an EV session in progress (as stored by whichever replica
    holds their station)."""
    ids = list(evse_ids)
    if not ids:
        return set()
    statement = select(EvSessionRow.evse_id).where(
        EvSessionRow.evse_id.in_(ids), EvSessionRow.disconnected_at.is_(None)
    )
    return set((await session.execute(statement)).scalars())
