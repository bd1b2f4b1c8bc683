"""Enrolment, contracts and signed requests: token scopes and binding, FO key rotation,
contract holder and termination time, and the replay store of signature ids.

Revision ID: 0002
Revises: 0007
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# JSON documents: JSONB on PostgreSQL, JSON text on SQLite.
JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "seen_jtis",
        sa.Column("party_id", sa.String(length=128), nullable=False),
        sa.Column("jti", sa.String(length=128), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("party_id", "jti", name=op.f("pk_seen_jtis")),
    )
    with op.batch_alter_table("seen_jtis", schema=None) as batch_op:
        batch_op.create_index("ix_seen_jtis_expires_at", ["expires_at"], unique=False)

    with op.batch_alter_table("contracts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("holder_party_id", sa.String(length=128), nullable=True))
        batch_op.add_column(
            sa.Column("holder_role", sa.String(length=16), server_default="CSO", nullable=False)
        )
        batch_op.add_column(sa.Column("ends_at", sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table("enrolment_tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("party_id", sa.String(length=128), nullable=True))
        batch_op.add_column(
            sa.Column("scopes", JSON_DOC, server_default=sa.text("'[]'"), nullable=False)
        )

    with op.batch_alter_table("enrolments", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("previous_keys_valid_until", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("webhook_secret", sa.String(length=256), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("enrolments", schema=None) as batch_op:
        batch_op.drop_column("webhook_secret")
        batch_op.drop_column("previous_keys_valid_until")

    with op.batch_alter_table("enrolment_tokens", schema=None) as batch_op:
        batch_op.drop_column("scopes")
        batch_op.drop_column("party_id")

    with op.batch_alter_table("contracts", schema=None) as batch_op:
        batch_op.drop_column("ends_at")
        batch_op.drop_column("holder_role")
        batch_op.drop_column("holder_party_id")

    with op.batch_alter_table("seen_jtis", schema=None) as batch_op:
        batch_op.drop_index("ix_seen_jtis_expires_at")

    op.drop_table("seen_jtis")
