"""FS execution state and the meter readings kept for live FS (measurements, DSR).

Revision ID: 0007
Revises: 0003
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("flexibility_services") as batch_op:
        batch_op.add_column(sa.Column("execution", JSON_DOC, nullable=True))
    op.create_table(
        "meter_readings",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("meter_id", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("p_w", sa.Double(), nullable=False),
        sa.Column("q_var", sa.Double(), nullable=True),
        sa.Column("e_import_wh", sa.Double(), nullable=True),
        sa.Column("e_export_wh", sa.Double(), nullable=True),
        sa.Column("soc_pct", sa.Double(), nullable=True),
        sa.Column("f_hz", sa.Double(), nullable=True),
        sa.Column("u_v", sa.Double(), nullable=True),
        sa.Column("quality", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meter_readings")),
    )
    op.create_index("ix_meter_readings_meter_at", "meter_readings", ["meter_id", "at"])


def downgrade() -> None:
    op.drop_index("ix_meter_readings_meter_at", table_name="meter_readings")
    op.drop_table("meter_readings")
    with op.batch_alter_table("flexibility_services") as batch_op:
        batch_op.drop_column("execution")
