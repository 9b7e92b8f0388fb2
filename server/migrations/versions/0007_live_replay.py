"""Live replay: the order of the relay's marks, to replay a user's events without gaps.

Adds `outbox.sent_batch` with the index live streams read (`key`, `sent_batch`,
`id`) and `outbox_sequence`, the counter the relay takes each send's number from. Events
published before this revision count as batch 0. Also `notifications.email_claimed_at`:
when its email was claimed, so that one a stopped worker left half sent is found.

Revision ID: 0007
Revises: 0003
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("outbox", sa.Column("sent_batch", sa.BigInteger(), nullable=True))
    op.execute("UPDATE outbox SET sent_batch = 0 WHERE published_at IS NOT NULL")
    op.create_index("ix_outbox_user_sent", "outbox", ["key", "sent_batch", "id"], unique=False)
    sequence = op.create_table(
        "outbox_sequence",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("last_batch", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.bulk_insert(sequence, [{"id": 1, "last_batch": 0}])
    op.add_column(
        "notifications", sa.Column("email_claimed_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.create_index(
        "ix_notifications_email_claim",
        "notifications",
        ["email_status", "email_claimed_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_notifications_email_claim", table_name="notifications")
    with op.batch_alter_table("notifications") as batch:
        batch.drop_column("email_claimed_at")
    op.drop_table("outbox_sequence")
    op.drop_index("ix_outbox_user_sent", table_name="outbox")
    with op.batch_alter_table("outbox") as batch:  # SQLite rebuilds the table
        batch.drop_column("sent_batch")
