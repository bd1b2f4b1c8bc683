"""FS carry when the execution step must next look at them (due_at, indexed).

The execution step used to take the lowest ids among every live FS, so FS accepted for later
could fill its batch and starve one that was due now. It now takes the FS whose `due_at` has
passed, earliest first. Existing rows that the step still has to see are due at once.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SELECTED = (
    "'ACCEPTED', 'PARTIALLY_ACCEPTED', 'SCHEDULED', 'ARMED', 'ACTIVE', "
    "'COMPLETED', 'ABORTED', 'CANCELLED'"
)


def upgrade() -> None:
    with op.batch_alter_table("flexibility_services") as batch_op:
        batch_op.add_column(sa.Column("due_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index("ix_flexibility_services_due_at", ["due_at"])
    # _SELECTED is a constant list of state names, not input.
    where = f"state IN ({_SELECTED}) OR execution IS NOT NULL"
    op.execute("UPDATE flexibility_services SET due_at = updated_at WHERE " + where)  # noqa: S608


def downgrade() -> None:
    with op.batch_alter_table("flexibility_services") as batch_op:
        batch_op.drop_index("ix_flexibility_services_due_at")
        batch_op.drop_column("due_at")
