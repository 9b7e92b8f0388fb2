"""PostgreSQL: a trigram index on the tasks' title and description, for `query=`.

`pg_trgm` is not in every PostgreSQL (the one the tests run has none), so the index is
built from plain parts: `task_search_grams(title, description)` gives the distinct
lower-case 3-character substrings of each text, and a GIN index (`ix_tasks_search_grams`)
holds them per task. PostgreSQL keeps an index on an expression in step by itself, so
there is no column or trigger to maintain; building it indexes the tasks stored before.
SQLite has its FTS5 table since 0010: nothing changes there.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01
"""

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

# Title and description apart, so that no trigram spans the two. A text is split into its
# characters once and zipped with itself shifted by one and two (substr() would walk the
# text from its start for every trigram: seconds for a description of 10,000 characters).
POSTGRES_GRAMS_FUNCTION = """
CREATE FUNCTION task_search_grams(title text, description text) RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(array_agg(DISTINCT a || b || c), '{}')
    FROM unnest(ARRAY[lower(title), lower(coalesce(description, ''))]) AS body,
        LATERAL (SELECT string_to_array(body, NULL) AS chars) AS split,
        unnest(chars, chars[2:], chars[3:]) AS grams(a, b, c)
    WHERE c IS NOT NULL
$$
"""
# Like the tag index (0010), without GIN's pending list of entries not yet merged.
POSTGRES_GRAMS_INDEX = (
    "CREATE INDEX ix_tasks_search_grams ON tasks "
    "USING gin (task_search_grams(title, description)) WITH (fastupdate = off)"
)


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        return
    op.execute(POSTGRES_GRAMS_FUNCTION)
    op.execute(POSTGRES_GRAMS_INDEX)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        return
    op.drop_index("ix_tasks_search_grams", table_name="tasks")
    op.execute("DROP FUNCTION task_search_grams(text, text)")
