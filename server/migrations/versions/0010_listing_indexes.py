"""Listings read in index order whatever their filter: an index per sort for `status=all`,
the title order's index, and the search index for text and tags.

SQLite: `tasks_search`, an FTS5 table (trigram tokenizer) over the tasks' title,
description and tags, with the triggers that keep it in step with `tasks` (see
server/tasks/search.py). A later migration that rebuilds `tasks` on SQLite (alembic's
batch mode copies it into a new table) drops these triggers and must run
`SQLITE_SEARCH_TRIGGERS` again. PostgreSQL: a GIN index on the tags.

Revision ID: 0010
Revises: 0004
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0004"
branch_labels = None
depends_on = None

INDEXES = {
    "ix_tasks_list_title": ["user_id", "deleted_at", "completed", sa.text("lower(title)"), "id"],
    "ix_tasks_all_due": ["user_id", "deleted_at", "due_sort", "id"],
    "ix_tasks_all_priority": ["user_id", "deleted_at", "priority_rank", "due_sort", "id"],
    "ix_tasks_all_created": ["user_id", "deleted_at", "created_at", "id"],
    "ix_tasks_all_title": ["user_id", "deleted_at", sa.text("lower(title)"), "id"],
}

SEARCHED = "title, description, tags_key"
SQLITE_SEARCH_TABLE = (
    f"CREATE VIRTUAL TABLE tasks_search USING fts5({SEARCHED}, "
    "content='tasks', content_rowid='id', tokenize='trigram')"
)
_ADD = (
    f"INSERT INTO tasks_search(rowid, {SEARCHED}) "
    "VALUES (new.id, new.title, new.description, new.tags_key);"
)
_REMOVE = (
    f"INSERT INTO tasks_search(tasks_search, rowid, {SEARCHED}) "
    "VALUES ('delete', old.id, old.title, old.description, old.tags_key);"
)
SQLITE_SEARCH_TRIGGERS = [
    f"CREATE TRIGGER tasks_search_insert AFTER INSERT ON tasks BEGIN {_ADD} END",
    f"CREATE TRIGGER tasks_search_delete AFTER DELETE ON tasks BEGIN {_REMOVE} END",
    "CREATE TRIGGER tasks_search_update AFTER UPDATE OF title, description, tags_key "
    f"ON tasks BEGIN {_REMOVE} {_ADD} END",
]
# Without `fastupdate` new entries go straight into the index, rather than into a pending
# list that every lookup reads through until a vacuum merges it (milliseconds per 50k rows).
POSTGRES_TAG_INDEX = (
    "CREATE INDEX ix_tasks_tags ON tasks USING gin (string_to_array(tags_key, '|')) "
    "WITH (fastupdate = off)"
)


def upgrade() -> None:
    for name, columns in INDEXES.items():
        op.create_index(name, "tasks", columns, unique=False)
    if op.get_bind().dialect.name == "sqlite":
        op.execute(SQLITE_SEARCH_TABLE)
        for trigger in SQLITE_SEARCH_TRIGGERS:
            op.execute(trigger)
        op.execute("INSERT INTO tasks_search(tasks_search) VALUES ('rebuild')")
    else:
        op.execute(POSTGRES_TAG_INDEX)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for trigger in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER tasks_search_{trigger}")
        op.execute("DROP TABLE tasks_search")
    else:
        op.drop_index("ix_tasks_tags", table_name="tasks")
    for name in reversed(INDEXES):
        op.drop_index(name, table_name="tasks")
