"""FS targets carry the export power committed on each EVSE.

Revision ID: 0006
Revises: 0001
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("fs_targets") as batch_op:
        batch_op.add_column(sa.Column("committed_export_w", sa.Double(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("fs_targets") as batch_op:
        batch_op.drop_column("committed_export_w")
