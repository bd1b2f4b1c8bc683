"""The durable station-command queue, and the facts a station-holding replica publishes.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "station_commands",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("command_id", sa.String(length=36), nullable=False),
        sa.Column("fs_pk", sa.Integer(), nullable=True),
        sa.Column("fo_party_id", sa.String(length=128), nullable=True),
        sa.Column("fs_id", sa.String(length=128), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("payload", _JSON, nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("applied_evses", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["fs_pk"],
            ["flexibility_services.id"],
            name=op.f("fk_station_commands_fs_pk_flexibility_services"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_station_commands")),
        sa.UniqueConstraint("command_id", name=op.f("uq_station_commands_command_id")),
    )
    op.create_index(
        "ix_station_commands_due", "station_commands", ["state", "next_attempt_at"], unique=False
    )
    op.create_index(op.f("ix_station_commands_fs_pk"), "station_commands", ["fs_pk"], unique=False)
    op.create_table(
        "station_hosts",
        sa.Column("host_id", sa.String(length=200), nullable=False),
        sa.Column("adapter", sa.String(length=32), nullable=False),
        sa.Column("telemetry_interval_s", sa.Integer(), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("host_id", name=op.f("pk_station_hosts")),
    )


def downgrade() -> None:
    op.drop_table("station_hosts")
    op.drop_index(op.f("ix_station_commands_fs_pk"), table_name="station_commands")
    op.drop_index("ix_station_commands_due", table_name="station_commands")
    op.drop_table("station_commands")
