"""High-resolution evidence keeps what was ordered: the base power and the ordered change.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("meter_readings") as batch:
        batch.add_column(sa.Column("baseline_w", sa.Double(), nullable=True))
        batch.add_column(sa.Column("ordered_w", sa.Double(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("meter_readings") as batch:
        batch.drop_column("ordered_w")
        batch.drop_column("baseline_w")
