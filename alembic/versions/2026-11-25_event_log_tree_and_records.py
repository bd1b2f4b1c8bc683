"""Event-log Merkle tree nodes and signed tree heads; detailed service records and proofs of work.

Revision ID: 0005
Revises: 0002
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# JSON documents: JSONB on PostgreSQL, JSON text on SQLite.
JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "event_log_nodes",
        sa.Column("level", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("idx", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("level", "idx", name=op.f("pk_event_log_nodes")),
    )
    op.create_table(
        "signed_tree_heads",
        sa.Column("tree_size", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("root_hash", sa.String(length=64), nullable=False),
        sa.Column("timestamp", sa.DateTime(timezone=True), nullable=False),
        sa.Column("key_id", sa.String(length=128), nullable=False),
        sa.Column("signature", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("tree_size", name=op.f("pk_signed_tree_heads")),
    )
    op.create_table(
        "service_records",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("fs_pk", sa.Integer(), nullable=False),
        sa.Column("fo_party_id", sa.String(length=128), nullable=False),
        sa.Column("fs_id", sa.String(length=128), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("record", JSON_DOC, nullable=False),
        sa.Column("evidence", JSON_DOC, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["fs_pk"],
            ["flexibility_services.id"],
            name=op.f("fk_service_records_fs_pk_flexibility_services"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_records")),
        sa.UniqueConstraint("fs_pk", "revision", name=op.f("uq_service_records_fs_pk")),
    )
    op.create_table(
        "proofs_of_work",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("pow_id", sa.String(length=64), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("fs_pk", sa.Integer(), nullable=False),
        sa.Column("proof", JSON_DOC, nullable=False),
        sa.Column("validation_status", sa.String(length=16), nullable=False),
        sa.Column("validated_by", sa.String(length=128), nullable=True),
        sa.Column("validated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reasons", JSON_DOC, nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["fs_pk"],
            ["flexibility_services.id"],
            name=op.f("fk_proofs_of_work_fs_pk_flexibility_services"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["record_id"],
            ["service_records.id"],
            name=op.f("fk_proofs_of_work_record_id_service_records"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_proofs_of_work")),
        sa.UniqueConstraint("pow_id", name=op.f("uq_proofs_of_work_pow_id")),
        sa.UniqueConstraint("record_id", name=op.f("uq_proofs_of_work_record_id")),
    )
    with op.batch_alter_table("proofs_of_work", schema=None) as batch_op:
        batch_op.create_index("ix_proofs_of_work_fs_pk", ["fs_pk"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("proofs_of_work", schema=None) as batch_op:
        batch_op.drop_index("ix_proofs_of_work_fs_pk")

    op.drop_table("proofs_of_work")
    op.drop_table("service_records")
    op.drop_table("signed_tree_heads")
    op.drop_table("event_log_nodes")
