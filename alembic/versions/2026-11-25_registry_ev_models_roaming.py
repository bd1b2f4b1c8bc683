"""Registry: EV models with their conformity evidence; roaming controller of EV sessions.

Revision ID: 0003
Revises: 0006
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# JSON documents: JSONB on PostgreSQL, JSON text on SQLite.
JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "ev_models",
        sa.Column("ev_model_id", sa.String(length=128), nullable=False),
        sa.Column("data", JSON_DOC, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("ev_model_id", name=op.f("pk_ev_models")),
    )
    with op.batch_alter_table("ev_sessions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("fs_controller", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("ev_sessions", schema=None) as batch_op:
        batch_op.drop_column("fs_controller")
    op.drop_table("ev_models")
