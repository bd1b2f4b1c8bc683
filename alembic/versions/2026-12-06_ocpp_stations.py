"""OCPP stations: their passwords (hashes), which replica holds each connection (a lease),
what each reported and has installed, and the station a queued command is for.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "station_credentials",
        sa.Column("cs_id", sa.String(length=128), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("cs_id", name=op.f("pk_station_credentials")),
    )
    op.create_table(
        "station_connections",
        sa.Column("cs_id", sa.String(length=128), nullable=False),
        sa.Column("host_id", sa.String(length=200), nullable=False),
        sa.Column("ocpp_version", sa.String(length=8), nullable=False),
        sa.Column("connected_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("cs_id", name=op.f("pk_station_connections")),
    )
    op.create_index("ix_station_connections_host", "station_connections", ["host_id"], unique=False)
    op.create_table(
        "station_ocpp_state",
        sa.Column("cs_id", sa.String(length=128), nullable=False),
        sa.Column("limits", _JSON, nullable=False),
        sa.Column("ledger", sa.Text(), nullable=True),
        sa.Column("transactions", _JSON, nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("cs_id", name=op.f("pk_station_ocpp_state")),
    )
    with op.batch_alter_table("station_commands") as batch:
        batch.add_column(sa.Column("station_id", sa.String(length=128), nullable=True))
        batch.create_index("ix_station_commands_station_id", ["station_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("station_commands") as batch:
        batch.drop_index("ix_station_commands_station_id")
        batch.drop_column("station_id")
    op.drop_table("station_ocpp_state")
    op.drop_index("ix_station_connections_host", table_name="station_connections")
    op.drop_table("station_connections")
    op.drop_table("station_credentials")
