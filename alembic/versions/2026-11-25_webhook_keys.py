"""Webhook endpoints: the signature schemes the FO chose (`v1` HMAC, `v1a` Ed25519).

Revision ID: 0013
Revises: 0010
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("webhook_endpoints", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "signature_schemes",
                sa.String(length=32),
                server_default="v1",
                nullable=False,
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("webhook_endpoints", schema=None) as batch_op:
        batch_op.drop_column("signature_schemes")
