"""The control stack's layers: what each running FS asks of each EVSE (see planning/control_stack).

One row per (FS, EVSE). The composition reads every layer of the sites it touches under a lock
on those site rows (PostgreSQL; SQLite serialises writers already), so two transactions never
compose one site from different sets of layers.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint, delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from fcsbe.server.storage.base import Base
from fcsbe.server.storage.infrastructure import EvseRow

__all__ = [
    "ControlLayerRow",
    "evse_sites",
    "layers_on_sites",
    "replace_layers",
    "sites_of_fs",
    "sites_of_fs_layers",
]


class ControlLayerRow(Base):
    """One FS's layer on one EVSE: its limit, setpoint and armed function, each optional."""

    __tablename__ = "control_layers"
    __table_args__ = (
        UniqueConstraint("fs_pk", "evse_id"),
        Index("ix_control_layers_site_id", "site_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    fs_pk: Mapped[int] = mapped_column(ForeignKey("flexibility_services.id", ondelete="CASCADE"))
    fs_id: Mapped[str] = mapped_column(String(128))
    evse_id: Mapped[str] = mapped_column(String(128))
    site_id: Mapped[str] = mapped_column(String(128))
    priority: Mapped[int]
    setpoint_w: Mapped[float | None]
    setpoint_var: Mapped[float | None]
    max_import_w: Mapped[float | None]
    max_export_w: Mapped[float | None]
    armed: Mapped[dict[str, Any] | None]
    valid_until: Mapped[datetime | None]
    updated_at: Mapped[datetime]


async def evse_sites(
    session: AsyncSession, evse_ids: Iterable[str]
) -> dict[str, tuple[str, float, float]]:
    """evse id → (site id, max import W, max export W) from the registry."""
    ids = sorted(set(evse_ids))
    if not ids:
        return {}
    rows = await session.execute(
        select(
            EvseRow.evse_id, EvseRow.site_id, EvseRow.max_charge_w, EvseRow.max_discharge_w
        ).where(EvseRow.evse_id.in_(ids))
    )
    return {e: (site, float(imp), float(exp)) for e, site, imp, exp in rows.all()}


async def layers_on_sites(session: AsyncSession, site_ids: Iterable[str]) -> list[ControlLayerRow]:
    """Every layer on the EVSEs of `site_ids`."""
    ids = sorted(set(site_ids))
    if not ids:
        return []
    statement = (
        select(ControlLayerRow)
        .where(ControlLayerRow.site_id.in_(ids))
        .order_by(ControlLayerRow.evse_id, ControlLayerRow.fs_pk)
    )
    return list((await session.execute(statement)).scalars().all())


async def sites_of_fs_layers(session: AsyncSession, fs_pk: int) -> dict[str, str]:
    """evse id → site id of every EVSE on which the FS has a layer."""
    rows = await session.execute(
        select(ControlLayerRow.evse_id, ControlLayerRow.site_id).where(
            ControlLayerRow.fs_pk == fs_pk
        )
    )
    return {str(row[0]): str(row[1]) for row in rows.all()}


async def sites_of_fs(session: AsyncSession, fs_pks: Iterable[int]) -> set[str]:
    """Every site an FS of `fs_pks` targets or holds a layer on (what its steps will lock)."""
    from fcsbe.server.storage.flexibility_services import FsTargetRow

    pks = sorted(set(fs_pks))
    if not pks:
        return set()
    targeted = await session.execute(
        select(EvseRow.site_id)
        .join(FsTargetRow, FsTargetRow.target_id == EvseRow.evse_id)
        .where(FsTargetRow.fs_pk.in_(pks))
        .distinct()
    )
    layered = await session.execute(
        select(ControlLayerRow.site_id).where(ControlLayerRow.fs_pk.in_(pks)).distinct()
    )
    return {str(s) for s in targeted.scalars()} | {str(s) for s in layered.scalars()}


async def replace_layers(
    session: AsyncSession,
    fs_pk: int,
    evse_ids: Sequence[str] | None,
    rows: Sequence[dict[str, Any]],
) -> None:
    """The FS's layers on `evse_ids` (None: on every EVSE) become `rows` (column dicts)."""
    statement = delete(ControlLayerRow).where(ControlLayerRow.fs_pk == fs_pk)
    if evse_ids is not None:
        statement = statement.where(ControlLayerRow.evse_id.in_(sorted(set(evse_ids))))
    await session.execute(statement)
    if rows:
        await session.execute(insert(ControlLayerRow), [dict(r, fs_pk=fs_pk) for r in rows])
