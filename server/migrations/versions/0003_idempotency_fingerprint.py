"""Idempotency keys remember the request that used them, so a different one is refused.

Revision ID: 0003
Revises: 0006
Create Date: 2026-12-08
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable: tasks keyed before this have no fingerprint and replay as they did.
    op.add_column("tasks", sa.Column("idempotency_fingerprint", sa.String(length=64)))


def downgrade() -> None:
    op.drop_column("tasks", "idempotency_fingerprint")
