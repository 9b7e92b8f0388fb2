"""Text and tag search for listings: how a listing with a `query` or `tag` is read, and the
tasks that can match, read from an index.

A listing reads a user's tasks in its sort order and keeps those its filters match, which
is quick while matches are common (the page fills early) and reads the user's whole
history when they are rare. An index of the terms answers the rare ones, but for a common
term its lookup reads all of the term's entries, which grow with the table. So
`searched_rows` reads a bounded window of the listing's order first, which fills the page
of a common term, and only then asks the index: `candidates()` returns the ids that can
match when there are at most `MAX_CANDIDATES` (the listing then reads just those rows and
sorts them), or None when there are more (the listing reads in sort order). The exact
filters (server/tasks/listing.py) stay in every case; the window and the index only narrow.

- SQLite: `tasks_search`, an FTS5 table with the trigram tokenizer over `title`,
  `description` and `tags_key`, kept in step with `tasks` by triggers (migration 0010;
  a migration that rebuilds `tasks` must create them again). Trigrams find any substring
  of 3 characters or more, ignoring case; a shorter text is not narrowed.
- PostgreSQL: tags through the GIN index `ix_tasks_tags` on `string_to_array(tags_key,
  '|')`, text through the GIN index `ix_tasks_search_grams` on `task_search_grams(title,
  description)`, the distinct lower-case trigrams of each (migration 0011; built without
  the `pg_trgm` extension, which not every server has). A text of 3 characters or more
  can only match a task holding its trigrams, of which the index is asked for a few that
  cover the text; a shorter one is not narrowed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import (
    Connection,
    Row,
    Select,
    Text,
    bindparam,
    cast,
    func,
    literal_column,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, array

from server.tasks.models import Task

# What migrations 0010 and 0011 add outside the models: SQLite's search table (with the
# tables FTS5 keeps its index in) and PostgreSQL's tag and trigram indexes.
SEARCH_SCHEMA = {
    "tasks_search",
    "tasks_search_config",
    "tasks_search_data",
    "tasks_search_docsize",
    "tasks_search_idx",
    "ix_tasks_tags",
    "ix_tasks_search_grams",
}
# Above this many possible matches a listing reads in its sort order instead.
MAX_CANDIDATES = 500
# A searched listing first reads this many tasks per row of its page, in its order.
WINDOW_PER_ROW = 20
TRIGRAM = 3

SQLITE_CANDIDATES = text(
    "SELECT rowid FROM tasks_search WHERE tasks_search MATCH :match LIMIT :limit"
)
TAG_ARRAY = func.string_to_array(Task.tags_key, literal_column("'|'"), type_=ARRAY(Text))
TEXT_GRAMS = func.task_search_grams(Task.title, Task.description, type_=ARRAY(Text))


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


def covering_trigrams(words: str) -> list[str]:
    """Trigrams of `words` (3 characters or more) that together cover each of its characters:
    every third one and the last. A task holding `words` holds them all; asking the index
    for fewer terms reads fewer of its lists (each grows with the table when common)."""
    starts = sorted({*range(0, len(words) - TRIGRAM + 1, TRIGRAM), len(words) - TRIGRAM})
    return list(dict.fromkeys(words[i : i + TRIGRAM] for i in starts))


def postgres_candidates(user_id: int, tag: str | None, words: str | None):
    """The user's tasks with `tag` and all the trigrams of `words`, read from ix_tasks_tags
    and ix_tasks_search_grams (one more than the cap), or None if neither narrows. The user
    is checked on those rows (`+ 0`: not through an index of the user's tasks)."""
    conditions = []
    if tag is not None:
        conditions.append(TAG_ARRAY.contains(array([cast(bindparam("tag", tag), Text)])))
    if words is not None and len(words) >= TRIGRAM:
        grams = bindparam("grams", covering_trigrams(words), type_=ARRAY(Text))
        conditions.append(TEXT_GRAMS.contains(grams))
    if not conditions:
        return None
    return (
        select(Task.id)
        .where(*conditions)
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
    else:
        stmt = postgres_candidates(user_id, tag, words)
        if stmt is None:
            return None
        found = conn.execute(stmt)
    ids = found.scalars().all()
    return None if len(ids) > MAX_CANDIDATES else list(ids)


def searched_rows(
    conn: Connection,
    *,
    read: Callable[..., Select],
    window_end: Select,
    limit: int,
    user_id: int,
    tag: str | None,
    words: str | None,
) -> Sequence[Row[Any]]:
    """The rows of one page (of `limit` tasks, plus one to know if there is more) of a listing
    with a text or tag, whose statement `read(until=..., candidate_ids=...)` builds
    (server/tasks/listing.py `listing`).

    In two steps, neither of which costs more as the user's history grows:

    1. The window: the first `WINDOW_PER_ROW` tasks per row of the page that the listing's
       plain filter (the same listing without its text and tag) lists after the cursor;
       `window_end` reads the sort keys of the last of them. The listing read up to there
       fills its page when about one task in `WINDOW_PER_ROW` matches, and then that is its
       page: no task after the window comes before one in it. When the plain filter lists
       fewer tasks than that (no end), that read is the whole answer.
    2. Otherwise the term is rare among those tasks, and the index says which tasks can
       match (`candidates`): those are read by primary key and sorted, or, if there are
       more than `MAX_CANDIDATES` (rare at first but common further on), the listing is
       read in its order.

    So a common term never asks the index; a rare one asks it and finds a few entries.
    """
    end = conn.execute(window_end).first()
    rows = conn.execute(read(until=end)).all()
    if end is None or len(rows) > limit:
        return rows
    ids = candidates(conn, user_id=user_id, tag=tag, words=words)
    return conn.execute(read(candidate_ids=ids)).all()
