"""FS rows keep the FO's correlation id, so the decision's notification carries it.

Revision ID: 0009
Revises: 0004
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("flexibility_services") as batch_op:
        batch_op.add_column(sa.Column("correlation_id", sa.String(length=128), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("flexibility_services") as batch_op:
        batch_op.drop_column("correlation_id")
