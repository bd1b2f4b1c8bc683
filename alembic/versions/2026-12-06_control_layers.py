"""The control stack's layers: one row per running FS and EVSE.

Every running FS contributes a layer (limit, setpoint, armed function) to each of its EVSEs;
the command a station gets is their composition (planning/control_stack.py), so ending one FS
removes its layer only.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "control_layers",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("fs_pk", sa.Integer(), nullable=False),
        sa.Column("fs_id", sa.String(length=128), nullable=False),
        sa.Column("evse_id", sa.String(length=128), nullable=False),
        sa.Column("site_id", sa.String(length=128), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("setpoint_w", sa.Double(), nullable=True),
        sa.Column("setpoint_var", sa.Double(), nullable=True),
        sa.Column("max_import_w", sa.Double(), nullable=True),
        sa.Column("max_export_w", sa.Double(), nullable=True),
        sa.Column("armed", JSON_DOC, nullable=True),
        sa.Column("valid_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["fs_pk"],
            ["flexibility_services.id"],
            name="fk_control_layers_fs_pk_flexibility_services",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_control_layers"),
        sa.UniqueConstraint("fs_pk", "evse_id", name="uq_control_layers_fs_pk"),
    )
    op.create_index("ix_control_layers_site_id", "control_layers", ["site_id"])


def downgrade() -> None:
    op.drop_index("ix_control_layers_site_id", table_name="control_layers")
    op.drop_table("control_layers")
