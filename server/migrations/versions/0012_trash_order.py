"""The trash (`status=deleted`) reads in index order too: a partial index per sort over the
deleted tasks alone.

The listings' other indexes start (user_id, deleted_at), where deleted tasks are spread over
every deletion time, so the trash was read whole and sorted. These hold only deleted rows,
so they cost nothing for the tasks in use.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

DELETED = sa.text("deleted_at IS NOT NULL")
INDEXES = {
    "ix_tasks_trash_due": ["user_id", "due_sort", "id"],
    "ix_tasks_trash_priority": ["user_id", "priority_rank", "due_sort", "id"],
    "ix_tasks_trash_created": ["user_id", "created_at", "id"],
    "ix_tasks_trash_title": ["user_id", sa.text("lower(title)"), "id"],
}


def upgrade() -> None:
    for name, columns in INDEXES.items():
        op.create_index(
            name, "tasks", columns, unique=False, sqlite_where=DELETED, postgresql_where=DELETED
        )


def downgrade() -> None:
    for name in reversed(INDEXES):
        op.drop_index(name, table_name="tasks")
