"""Text and tag search for listings: the tasks that can match, read from an index.

A listing reads a user's tasks in its sort order and keeps those its filters match, which
is quick while matches are common (the page fills early) and reads the user's whole
history when they are rare. So a `query` or `tag` filter first asks an index which tasks
can match: `candidates()` returns their ids when there are at most `MAX_CANDIDATES` (the
listing then reads just those rows and sorts them), or None when there are more (the
listing reads in sort order: with that many matches its page fills early). The exact
filters (server/tasks/listing.py) stay in every case; the index only narrows.

- SQLite: `tasks_search`, an FTS5 table with the trigram tokenizer over `title`,
  `description` and `tags_key`, kept in step with `tasks` by triggers (migration 0010;
  a migration that rebuilds `tasks` must create them again). Trigrams find any substring
  of 3 characters or more, ignoring case; a shorter text is not narrowed.
- PostgreSQL: tags through the GIN index `ix_tasks_tags` on `string_to_array(tags_key,
  '|')`; text is not narrowed (a trigram index needs the `pg_trgm` extension, which not
  every server has).
"""

from __future__ import annotations

from sqlalchemy import Connection, Text, bindparam, cast, func, literal_column, select, text
from sqlalchemy.dialects.postgresql import ARRAY, array

from server.tasks.models import Task

# What migration 0010 adds outside the models: SQLite's search table (with the tables FTS5
# keeps its index in) and PostgreSQL's tag index, both read through raw SQL here.
SEARCH_SCHEMA = {
    "tasks_search",
    "tasks_search_config",
    "tasks_search_data",
    "tasks_search_docsize",
    "tasks_search_idx",
    "ix_tasks_tags",
}
# Above this many possible matches a listing reads in its sort order instead.
MAX_CANDIDATES = 500
TRIGRAM = 3

SQLITE_CANDIDATES = text(
    "SELECT rowid FROM tasks_search WHERE tasks_search MATCH :match LIMIT :limit"
)
TAG_ARRAY = func.string_to_array(Task.tags_key, literal_column("'|'"), type_=ARRAY(Text))


def fts_phrase(value: str) -> str:
    """`value` as an FTS5 string: matched as it is, whatever its characters."""
    return '"' + value.replace('"', '""') + '"'


def match_expression(tag: str | None, words: str | None) -> str | None:
    """The FTS5 query for a tag (lower case) and a text, or None if neither narrows."""
    parts = []
    if tag is not None:
        parts.append("tags_key : " + fts_phrase(f"|{tag}|"))
    if words is not None and len(words) >= TRIGRAM:
        parts.append("{title description} : " + fts_phrase(words))
    return " AND ".join(parts) or None


def postgres_tag_candidates(user_id: int, tag: str):
    """The user's tasks with `tag`, read from ix_tasks_tags (one more than the cap); the
    user is checked on those rows (`+ 0`: not through an index of the user's tasks)."""
    return (
        select(Task.id)
        .where(TAG_ARRAY.contains(array([cast(bindparam("tag", tag), Text)])))
        .where(Task.user_id + 0 == user_id)
        .limit(MAX_CANDIDATES + 1)
    )


def candidates(
    conn: Connection, *, user_id: int, tag: str | None, words: str | None
) -> list[int] | None:
    """The ids of the tasks that can match `tag` and `words` (some of them other users' or
    deleted), if there are at most MAX_CANDIDATES; None if more, or if no index narrows."""
    if conn.dialect.name == "sqlite":
        match = match_expression(tag, words)
        if match is None:
            return None
        found = conn.execute(SQLITE_CANDIDATES, {"match": match, "limit": MAX_CANDIDATES + 1})
    elif tag is not None:
        found = conn.execute(postgres_tag_candidates(user_id, tag))
    else:
        return None
    ids = found.scalars().all()
    return None if len(ids) > MAX_CANDIDATES else list(ids)
