"""Tables of detailed service records (DSR) and proofs of work (PoW), and the queries on them.

A DSR is written once per FS revision when the FS ends and never changes afterwards; its PoW is
issued once its FS's event-log entries are chained and under a signed tree head. Only the PoW's
validation columns change, once, when the FO accepts or disputes it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from fcsbe.server.storage.base import Base, JsonDoc

__all__ = [
    "ProofOfWorkRow",
    "ServiceRecordRow",
    "find_proof",
    "find_record",
    "records_without_proof",
]


class ServiceRecordRow(Base):
    """The DSR of one FS revision, its digest and the meter evidence its PoW will carry."""

    __tablename__ = "service_records"
    __table_args__ = (UniqueConstraint("fs_pk", "revision"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    fs_pk: Mapped[int] = mapped_column(ForeignKey("flexibility_services.id", ondelete="CASCADE"))
    fo_party_id: Mapped[str] = mapped_column(String(128))
    fs_id: Mapped[str] = mapped_column(String(128))
    revision: Mapped[int]
    digest: Mapped[str] = mapped_column(String(64))
    record: Mapped[dict[str, Any]]
    evidence: Mapped[list[dict[str, Any]]] = mapped_column(JsonDoc)
    created_at: Mapped[datetime]


class ProofOfWorkRow(Base):
    """The PoW of one DSR (`proof` without its validation) and the FO's validation of it."""

    __tablename__ = "proofs_of_work"
    __table_args__ = (
        UniqueConstraint("pow_id"),
        UniqueConstraint("record_id"),
        Index("ix_proofs_of_work_fs_pk", "fs_pk"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    pow_id: Mapped[str] = mapped_column(String(64))
    record_id: Mapped[int] = mapped_column(ForeignKey("service_records.id", ondelete="CASCADE"))
    fs_pk: Mapped[int] = mapped_column(ForeignKey("flexibility_services.id", ondelete="CASCADE"))
    proof: Mapped[dict[str, Any]]
    validation_status: Mapped[str] = mapped_column(String(16))
    validated_by: Mapped[str | None] = mapped_column(String(128))
    validated_at: Mapped[datetime | None]
    reasons: Mapped[list[str]]
    issued_at: Mapped[datetime]


async def find_record(session: AsyncSession, fs_pk: int, revision: int) -> ServiceRecordRow | None:
    """The DSR of an FS revision, if made."""
    return (
        await session.execute(
            select(ServiceRecordRow).where(
                ServiceRecordRow.fs_pk == fs_pk, ServiceRecordRow.revision == revision
            )
        )
    ).scalar_one_or_none()


async def find_proof(
    session: AsyncSession, record_id: int, *, for_update: bool = False
) -> ProofOfWorkRow | None:
    """The PoW of a DSR, if issued (locked for the validation when asked)."""
    statement = select(ProofOfWorkRow).where(ProofOfWorkRow.record_id == record_id)
    if for_update:
        statement = statement.with_for_update()
    return (await session.execute(statement)).scalar_one_or_none()


async def records_without_proof(session: AsyncSession, limit: int) -> Sequence[ServiceRecordRow]:
    """DSRs whose PoW is still to be issued, oldest first."""
    statement = (
        select(ServiceRecordRow)
        .outerjoin(ProofOfWorkRow, ProofOfWorkRow.record_id == ServiceRecordRow.id)
        .where(ProofOfWorkRow.id.is_(None))
        .order_by(ServiceRecordRow.id)
        .limit(limit)
    )
    return (await session.execute(statement)).scalars().all()
