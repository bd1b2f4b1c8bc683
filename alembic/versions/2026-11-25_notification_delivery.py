"""Notification delivery: per-FO feed sequence and leases on the outbox, delivery log, endpoints.

Revision ID: 0004
Revises: 0005
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
UNSEQUENCED = sa.text("seq IS NULL")


def upgrade() -> None:
    op.create_table(
        "notification_deliveries",
        sa.Column("id", ROW_ID, autoincrement=True, nullable=False),
        sa.Column("outbox_id", ROW_ID, nullable=False),
        sa.Column("notification_id", sa.String(length=64), nullable=False),
        sa.Column("fo_party_id", sa.String(length=128), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("attempted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["outbox_id"],
            ["outbox.id"],
            name=op.f("fk_notification_deliveries_outbox_id_outbox"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_deliveries")),
    )
    with op.batch_alter_table("notification_deliveries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_notification_deliveries_outbox_id", ["outbox_id", "attempt"], unique=False
        )

    op.create_table(
        "webhook_endpoints",
        sa.Column("fo_party_id", sa.String(length=128), nullable=False),
        sa.Column("enrolment_id", sa.String(length=128), nullable=True),
        sa.Column("callback_base_url", sa.String(length=2048), nullable=False),
        sa.Column("secret", sa.String(length=128), nullable=False),
        sa.Column("previous_secret", sa.String(length=128), nullable=True),
        sa.Column("previous_secret_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("secret_rotated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("disabled_reason", sa.String(length=500), nullable=True),
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("paused_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["fo_party_id"],
            ["parties.party_id"],
            name=op.f("fk_webhook_endpoints_fo_party_id_parties"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("fo_party_id", name=op.f("pk_webhook_endpoints")),
    )

    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("seq", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("lease_owner", sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column("first_attempt_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.create_index(
            "ix_outbox_unsequenced",
            ["id"],
            unique=False,
            sqlite_where=UNSEQUENCED,
            postgresql_where=UNSEQUENCED,
        )
        batch_op.create_unique_constraint("uq_outbox_fo_party_id_seq", ["fo_party_id", "seq"])


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_constraint("uq_outbox_fo_party_id_seq", type_="unique")
        batch_op.drop_index(
            "ix_outbox_unsequenced", sqlite_where=UNSEQUENCED, postgresql_where=UNSEQUENCED
        )
        batch_op.drop_column("first_attempt_at")
        batch_op.drop_column("lease_owner")
        batch_op.drop_column("seq")

    op.drop_table("webhook_endpoints")
    with op.batch_alter_table("notification_deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_notification_deliveries_outbox_id")

    op.drop_table("notification_deliveries")
