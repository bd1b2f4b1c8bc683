"""Tables of detailed service records (DSR), proofs of work (PoW), disputes and submitted
baselines, and the queries on them.

A DSR is written once per FS revision when the FS ends and never changes afterwards; a dispute
answered with a correction adds a new *record revision* (never an update), whose PoW is issued
like the first. A PoW is issued once its FS's event-log entries are chained and under a signed
tree head. Only the PoW's validation columns change, when the FO accepts or disputes it. A
dispute row holds its signed steps and the deadlines of the turn in progress. A submitted
baseline is written before its FS starts and never changes once it has.
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
    "DisputeRow",
    "FsBaselineRow",
    "ProofOfWorkRow",
    "ServiceRecordRow",
    "disputes_due",
    "find_baseline",
    "find_dispute",
    "find_proof",
    "find_record",
    "list_disputes",
    "open_dispute_of",
    "records_without_proof",
]


class ServiceRecordRow(Base):
    """The DSR of one FS revision, its digest and the meter evidence its PoW will carry."""

    __tablename__ = "service_records"
    __table_args__ = (UniqueConstraint("fs_pk", "revision", "record_revision"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    fs_pk: Mapped[int] = mapped_column(ForeignKey("flexibility_services.id", ondelete="CASCADE"))
    fo_party_id: Mapped[str] = mapped_column(String(128))
    fs_id: Mapped[str] = mapped_column(String(128))
    revision: Mapped[int]
    record_revision: Mapped[int] = mapped_column(default=1, server_default="1")
    digest: Mapped[str] = mapped_column(String(64))
    record: Mapped[dict[str, Any]]
    evidence: Mapped[list[dict[str, Any]]] = mapped_column(JsonDoc)
    created_at: Mapped[datetime]
    notes: Mapped[dict[str, Any] | None] = mapped_column(JsonDoc, default=None)
    """What the executor noted that the record used (activations, setpoints, ...) and until
    when readings were read: a revision answering a dispute is rebuilt from the same."""


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


class DisputeRow(Base):
    """A dispute of an FS's record: its state, deadlines and signed steps (`Dispute`)."""

    __tablename__ = "disputes"
    __table_args__ = (
        UniqueConstraint("dispute_id"),
        Index("ix_disputes_fs_pk", "fs_pk"),
        Index("ix_disputes_status", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    dispute_id: Mapped[str] = mapped_column(String(36))
    fs_pk: Mapped[int] = mapped_column(ForeignKey("flexibility_services.id", ondelete="CASCADE"))
    fo_party_id: Mapped[str] = mapped_column(String(128))
    fs_id: Mapped[str] = mapped_column(String(128))
    revision: Mapped[int]
    status: Mapped[str] = mapped_column(String(16))
    reason_code: Mapped[str] = mapped_column(String(32))
    reasons: Mapped[list[str]]
    disputed_record_revision: Mapped[int]
    record_revision: Mapped[int]
    opened_at: Mapped[datetime]
    answer_due: Mapped[datetime]
    response_due: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    steps: Mapped[list[dict[str, Any]]] = mapped_column(JsonDoc)


class FsBaselineRow(Base):
    """A baseline fixed for an FS before it started: `kind` SUBMITTED (the FO's or the CSO's
    submission) or DECLARED (what the CSO declared at the decision)."""

    __tablename__ = "fs_baselines"
    __table_args__ = (UniqueConstraint("fs_pk", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    fs_pk: Mapped[int] = mapped_column(ForeignKey("flexibility_services.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    party_id: Mapped[str] = mapped_column(String(128))
    role: Mapped[str] = mapped_column(String(8))
    periods: Mapped[list[dict[str, Any]]] = mapped_column(JsonDoc)
    submitted_at: Mapped[datetime]


async def find_record(
    session: AsyncSession, fs_pk: int, revision: int, record_revision: int | None = None
) -> ServiceRecordRow | None:
    """The DSR of an FS revision, if made: its latest record revision, or the one asked."""
    statement = select(ServiceRecordRow).where(
        ServiceRecordRow.fs_pk == fs_pk, ServiceRecordRow.revision == revision
    )
    if record_revision is not None:
        statement = statement.where(ServiceRecordRow.record_revision == record_revision)
    statement = statement.order_by(ServiceRecordRow.record_revision.desc()).limit(1)
    return (await session.execute(statement)).scalar_one_or_none()


async def find_baseline(
    session: AsyncSession, fs_pk: int, kind: str = "SUBMITTED"
) -> FsBaselineRow | None:
    """The baseline of that kind fixed for an FS, if any."""
    statement = select(FsBaselineRow).where(
        FsBaselineRow.fs_pk == fs_pk, FsBaselineRow.kind == kind
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def find_dispute(
    session: AsyncSession, dispute_id: str, *, for_update: bool = False
) -> DisputeRow | None:
    """A dispute by id (locked for a step when asked)."""
    statement = select(DisputeRow).where(DisputeRow.dispute_id == dispute_id)
    if for_update:
        statement = statement.with_for_update()
    return (await session.execute(statement)).scalar_one_or_none()


async def open_dispute_of(
    session: AsyncSession, fs_pk: int, *, for_update: bool = False
) -> DisputeRow | None:
    """The FS's latest dispute (open or not)."""
    statement = (
        select(DisputeRow).where(DisputeRow.fs_pk == fs_pk).order_by(DisputeRow.id.desc()).limit(1)
    )
    if for_update:
        statement = statement.with_for_update()
    return (await session.execute(statement)).scalar_one_or_none()


async def list_disputes(
    session: AsyncSession, statuses: Sequence[str], limit: int
) -> Sequence[DisputeRow]:
    """Disputes in any of `statuses` (all when empty), newest first."""
    statement = select(DisputeRow).order_by(DisputeRow.id.desc()).limit(limit)
    if statuses:
        statement = statement.where(DisputeRow.status.in_(list(statuses)))
    return (await session.execute(statement)).scalars().all()


async def disputes_due(session: AsyncSession, now: datetime, limit: int) -> Sequence[DisputeRow]:
    """Disputes whose turn's deadline has passed: OPEN past `answer_due`, REVISED or REJECTED
    past `response_due` (locked, skipping rows another replica holds)."""
    statement = (
        select(DisputeRow)
        .where(
            ((DisputeRow.status == "OPEN") & (DisputeRow.answer_due <= now))
            | (DisputeRow.status.in_(["REVISED", "REJECTED"]) & (DisputeRow.response_due <= now))
        )
        .order_by(DisputeRow.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return (await session.execute(statement)).scalars().all()


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
