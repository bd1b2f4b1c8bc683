"""EV users (UC 3.6): subjects by keyed hash, their own pseudonym keys, one-time invitations.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# JSON documents: JSONB on PostgreSQL, JSON text on SQLite.
JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "ev_users",
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("identifier_hash", sa.String(length=128), nullable=False),
        sa.Column("subject_ref", sa.String(length=128), nullable=False),
        sa.Column("consent_level", sa.String(length=8), nullable=False),
        sa.Column("limits", JSON_DOC, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_ev_users")),
        sa.UniqueConstraint("identifier_hash", name=op.f("uq_ev_users_identifier_hash")),
        sa.UniqueConstraint("subject_ref", name=op.f("uq_ev_users_subject_ref")),
    )
    op.create_table(
        "ev_user_keys",
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("key_hex", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["ev_users.user_id"],
            name=op.f("fk_ev_user_keys_user_id_ev_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_ev_user_keys")),
    )
    op.create_table(
        "ev_user_invites",
        sa.Column("invite_id", sa.String(length=64), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["ev_users.user_id"],
            name=op.f("fk_ev_user_invites_user_id_ev_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("invite_id", name=op.f("pk_ev_user_invites")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_ev_user_invites_code_hash")),
    )
    with op.batch_alter_table("ev_user_invites", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ev_user_invites_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("ev_user_invites", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ev_user_invites_user_id"))
    op.drop_table("ev_user_invites")
    op.drop_table("ev_user_keys")
    op.drop_table("ev_users")
