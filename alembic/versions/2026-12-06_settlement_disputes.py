"""Record revisions, disputes both ways, and baselines fixed before an FS starts.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("service_records") as batch:
        batch.add_column(
            sa.Column("record_revision", sa.Integer(), server_default="1", nullable=False)
        )
        batch.add_column(sa.Column("notes", _JSON, nullable=True))
        batch.drop_constraint("uq_service_records_fs_pk", type_="unique")
        batch.create_unique_constraint(
            "uq_service_records_fs_pk", ["fs_pk", "revision", "record_revision"]
        )
    op.create_table(
        "disputes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("dispute_id", sa.String(length=36), nullable=False),
        sa.Column("fs_pk", sa.Integer(), nullable=False),
        sa.Column("fo_party_id", sa.String(length=128), nullable=False),
        sa.Column("fs_id", sa.String(length=128), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason_code", sa.String(length=32), nullable=False),
        sa.Column("reasons", _JSON, nullable=False),
        sa.Column("disputed_record_revision", sa.Integer(), nullable=False),
        sa.Column("record_revision", sa.Integer(), nullable=False),
        sa.Column("opened_at", _TIME, nullable=False),
        sa.Column("answer_due", _TIME, nullable=False),
        sa.Column("response_due", _TIME, nullable=True),
        sa.Column("closed_at", _TIME, nullable=True),
        sa.Column("steps", _JSON, nullable=False),
        sa.ForeignKeyConstraint(
            ["fs_pk"],
            ["flexibility_services.id"],
            name=op.f("fk_disputes_fs_pk_flexibility_services"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_disputes")),
        sa.UniqueConstraint("dispute_id", name=op.f("uq_disputes_dispute_id")),
    )
    op.create_index("ix_disputes_fs_pk", "disputes", ["fs_pk"], unique=False)
    op.create_index("ix_disputes_status", "disputes", ["status"], unique=False)
    op.create_table(
        "fs_baselines",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("fs_pk", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("party_id", sa.String(length=128), nullable=False),
        sa.Column("role", sa.String(length=8), nullable=False),
        sa.Column("periods", _JSON, nullable=False),
        sa.Column("submitted_at", _TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["fs_pk"],
            ["flexibility_services.id"],
            name=op.f("fk_fs_baselines_fs_pk_flexibility_services"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fs_baselines")),
        sa.UniqueConstraint("fs_pk", "kind", name=op.f("uq_fs_baselines_fs_pk")),
    )


def downgrade() -> None:
    op.drop_table("fs_baselines")
    op.drop_index("ix_disputes_status", table_name="disputes")
    op.drop_index("ix_disputes_fs_pk", table_name="disputes")
    op.drop_table("disputes")
    op.execute("DELETE FROM service_records WHERE record_revision > 1")
    with op.batch_alter_table("service_records") as batch:
        batch.drop_constraint("uq_service_records_fs_pk", type_="unique")
        batch.create_unique_constraint("uq_service_records_fs_pk", ["fs_pk", "revision"])
        batch.drop_column("notes")
        batch.drop_column("record_revision")
