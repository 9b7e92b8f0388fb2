"""Listing a user's tasks: filters, sort orders and keyset paging, read in index order.

A Core select of just the listed columns on `Database.run`: listing is the hot path, and
skipping the ORM's identity map and instances halves its cost. Each sort has an index per
status (pending or completed, and all); due-date filters are also written as a range of
`due_sort`, so the default order reads just that range; a text or tag filter reads a
bounded window of that order first and asks the search index which tasks can match only
when the window does not fill the page (server/tasks/search.py). So no listing reads a
user's whole history to fill a page.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Sequence
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    String,
    and_,
    bindparam,
    false,
    func,
    literal,
    or_,
    select,
    true,
    tuple_,
)

from server.db import Database, utcnow
from server.errors import ValidationFailed
from server.paging import decode_cursor, encode_cursor
from server.projects.queries import not_in_archived, project_names
from server.tasks import search
from server.tasks.dates import resolve_due
from server.tasks.models import (
    LIST_LIMIT_MAX,
    NO_DUE,
    Sort,
    Status,
    Task,
    TaskPage,
    TaskQuery,
)
from server.tasks.queries import PUBLIC_COLUMNS, public_from
from server.tasks.rules import PRIORITY_RANK, normalize_tags
from server.users.models import User
from server.validation import no_nul

# The kinds of each sort's cursor values (see server/paging.py).
CURSOR_KINDS = {Sort.due: "di", Sort.priority: "idi", Sort.title: "si", Sort.created: "di"}


def listing(
    user: User,
    query: TaskQuery,
    *,
    project_id: int | None,
    overdue_after_minutes: int,
    candidate_ids: list[int] | None = None,
    until: Sequence[Any] | None = None,
    archived: bool = False,
) -> Select:
    """The statement that reads one page of `query` (one row more, to know if there is more),
    among `candidate_ids` when given (see `owner_columns`), with `until` up to the task with
    these sort keys (see `search.searched_rows`), with `archived` the archived projects'
    tasks too."""
    check_limit(query)
    sort = Sort(query.sort)
    keys, descending = sort_keys(sort)
    columns = PUBLIC_COLUMNS
    if sort == Sort.title:
        # The cursor carries the database's own lower(title): Python's lower() differs
        # from SQLite's (ASCII only) and PostgreSQL's on non-ASCII titles.
        columns = [*PUBLIC_COLUMNS, keys[0].label("title_key")]
    owner, project, parent = owner_columns(narrowed=candidate_ids is not None)
    where = filters(user, query, overdue_after_minutes, owner=owner, parent=parent)
    if candidate_ids is not None:
        where.append(Task.id.in_(candidate_ids))
    if project_id is not None:
        where.append(project == project_id)
    elif query.parent_id is None and not archived:
        where.append(not_in_archived(Task.project_id, user.id))  # hidden unless asked for
    stmt = select(*columns).where(*where)
    if query.cursor:  # after the cursor's task
        after = decode_cursor(query.cursor, sort.value, CURSOR_KINDS[sort])
        stmt = stmt.where(keys_range(keys, after, operator.lt if descending else operator.gt))
    if until is not None:  # up to this task
        stmt = stmt.where(keys_range(keys, until, operator.ge if descending else operator.le))
    # The columns the filters fix come first too: they change nothing in the order, but
    # PostgreSQL reads an index in order only when it sees them there (it does not treat
    # `deleted_at IS NULL` as fixing a column), instead of sorting every matching row.
    fixed = [] if query.status in (Status.deleted, Status.all) else [Task.completed]
    if query.status != Status.deleted:  # the `all` indexes start (user_id, deleted_at)
        fixed.insert(0, Task.deleted_at)
    order = [k.desc() if descending else k.asc() for k in (*fixed, *keys)]
    return stmt.order_by(*order).limit(query.limit + 1)


def keys_range(keys: list[Any], values: Sequence[Any], compare: Any) -> ColumnElement[bool]:
    """The rows whose sort keys compare so with `values` (`(keys) > (values)`, …). The
    first key is also compared alone (`>=` for `>`): SQLite reads an index on an expression
    (`lower(title)`) as a range only from that, not from a row of values."""
    bound = [literal(v, k.type) for k, v in zip(keys, values, strict=True)]
    alone = {operator.lt: operator.le, operator.gt: operator.ge}.get(compare, compare)
    return and_(compare(tuple_(*keys), tuple_(*bound)), alone(keys[0], bound[0]))


def check_limit(query: TaskQuery) -> None:
    if not 1 <= query.limit <= LIST_LIMIT_MAX:
        raise ValidationFailed("limit", f"must be between 1 and {LIST_LIMIT_MAX}")


def is_unfiltered(query: TaskQuery) -> bool:
    """Whether a listing has no filter but its status, and no cursor: the default listing
    (the first page of `list_tasks` without arguments), which `unfiltered_listing` serves."""
    return (
        query.cursor is None
        and query.priority is None
        and query.tag is None
        and (query.query is None or not query.query.strip())
        and query.due_before is None
        and query.due_after is None
        and query.overdue is None
        and query.parent_id is None
    )


# Stands for any user in `unfiltered_listing`: the statement takes the id as a parameter.
_ANY_USER = SimpleNamespace(id=bindparam("user_id", type_=Integer), timezone="UTC")


@functools.cache
def unfiltered_listing(status: Status, sort: Sort) -> Select:
    """The statement of an unfiltered listing (`is_unfiltered`) of this status and sort,
    built once, with parameters `user_id` and `limit` (the page size plus one): the very
    statement `listing` builds, but kept, since building a fresh statement, its cache key
    and matching its rows to the cached compiled form cost about three times running it."""
    query = TaskQuery(status=status.value, sort=sort.value)
    stmt = listing(_ANY_USER, query, project_id=None, overdue_after_minutes=0)  # type: ignore[arg-type]
    return stmt.limit(bindparam("limit", type_=Integer))


def plain_statement(
    user: User, query: TaskQuery, *, project_id: int | None, overdue_after_minutes: int
) -> tuple[Select, dict[str, Any]]:
    """The statement of a listing without a text or tag filter, and its parameters."""
    if project_id is None and is_unfiltered(query):
        check_limit(query)
        stmt = unfiltered_listing(Status(query.status), Sort(query.sort))
        return stmt, {"user_id": user.id, "limit": query.limit + 1}
    return listing(
        user, query, project_id=project_id, overdue_after_minutes=overdue_after_minutes
    ), {}


async def list_page(
    db: Database,
    *,
    user: User,
    query: TaskQuery,
    project_id: int | None,
    overdue_after_minutes: int,
    with_names: bool = False,
) -> tuple[TaskPage, dict[int, str]]:
    """One page of the user's tasks (of `project_id` when given, resolved from
    `query.project`); `next_cursor` continues after its last task. With `with_names`, the
    user's project names by id, read in the same unit (else an empty dict)."""
    tag, words = search_terms(query)
    searched = tag is not None or words is not None
    scope = {"project_id": project_id, "overdue_after_minutes": overdue_after_minutes}
    if searched:
        build = functools.partial(listing, user, query, **scope)
        end = window_end(user, query, **scope)
    else:
        stmt, params = plain_statement(user, query, **scope)

    def read(conn):
        names = project_names(conn, user.id) if with_names else {}
        if searched:
            rows = search.searched_rows(
                conn,
                read=build,
                window_end=end,
                limit=query.limit,
                user_id=user.id,
                tag=tag,
                words=words,
            )
        else:
            rows = conn.execute(stmt, params).all()
        return rows, names

    rows, names = await db.run(read)
    more = len(rows) > query.limit
    rows = rows[: query.limit]
    sort = Sort(query.sort)
    cursor = encode_cursor(sort.value, sort_values(rows[-1], sort)) if more and rows else None
    tasks = [public_from(row._mapping) for row in rows]
    return TaskPage(tasks=tasks, next_cursor=cursor), names


def window_end(
    user: User, query: TaskQuery, *, project_id: int | None, overdue_after_minutes: int
) -> Select:
    """The sort keys of the last task of a searched listing's window (`search.searched_rows`):
    the `WINDOW_PER_ROW * (limit + 1)`-th task the plain filter lists; no row if it lists
    fewer. It reads its index as the plain listing does, in order, that many entries (an
    offset within the window, not a way of paging). The archived projects' tasks, which
    listings hide, count too: the index has no project to check them by, so it alone
    answers (the window then holds fewer listed tasks; the page it gives is the same)."""
    plain = query.model_copy(update={"tag": None, "query": None})
    keys, _ = sort_keys(Sort(query.sort))
    stmt = listing(
        user,
        plain,
        project_id=project_id,
        overdue_after_minutes=overdue_after_minutes,
        archived=True,
    )
    size = search.WINDOW_PER_ROW * (query.limit + 1)
    return stmt.with_only_columns(*keys).offset(size - 1).limit(1)


def owner_columns(*, narrowed: bool) -> tuple[Any, Any, Any]:
    """The user, project and parent columns as a listing's conditions name them.

    A listing narrowed to the search index's candidates reads those few rows by primary
    key and sorts them. Every other index of `tasks` starts with one of these columns, and
    a planner without statistics (SQLite's, unless ANALYZE ran) would rather walk one of
    them in sort order, through the user's whole history; written as `column + 0`, which
    no index serves, they leave it only the primary key.
    """
    if narrowed:
        return Task.user_id + 0, Task.project_id + 0, Task.parent_id + 0
    return Task.user_id, Task.project_id, Task.parent_id


def filters(
    user: User,
    query: TaskQuery,
    overdue_after_minutes: int,
    *,
    owner: Any = Task.user_id,
    parent: Any = Task.parent_id,
) -> list[ColumnElement[bool]]:
    now = utcnow()
    found: list[ColumnElement[bool]] = [owner == user.id]
    if query.status == Status.deleted:
        found.append(Task.deleted_at.is_not(None))
    else:
        found.append(Task.deleted_at.is_(None))
    if query.status == Status.pending:
        found.append(Task.completed == false())
    elif query.status == Status.completed:
        found.append(Task.completed == true())
    if query.priority is not None:  # the rank, which the priority indexes hold
        found.append(Task.priority_rank == PRIORITY_RANK[query.priority])
    if query.parent_id is not None:
        found.append(parent == query.parent_id)
    tag, text = search_terms(query)
    if tag is not None:
        found.append(Task.tags_key.like(f"%|{_like_escape(tag)}|%", escape="\\"))
    if text is not None:
        pattern = f"%{_like_escape(text)}%"
        found.append(
            or_(
                func.lower(Task.title).like(pattern, escape="\\"),
                func.lower(func.coalesce(Task.description, "")).like(pattern, escape="\\"),
            )
        )
    # Each due condition also bounds `due_sort` (`due`, or NO_DUE for undated tasks), which
    # the default order's indexes read as a range.
    if query.due_before is not None:
        before = resolve_due(query.due_before, user.timezone, now=now, field="due_before")
        found += [Task.due < before, Task.due_sort < before]
    if query.due_after is not None:
        after = resolve_due(query.due_after, user.timezone, now=now, field="due_after")
        found += [Task.due > after, Task.due_sort > after, Task.due_sort < NO_DUE]
    # Overdue means what the alerts mean: OVERDUE_AFTER_MINUTES past the due time.
    overdue_at = now - timedelta(minutes=overdue_after_minutes)
    if query.overdue is True:
        found += [Task.completed == false(), Task.due < overdue_at, Task.due_sort < overdue_at]
    elif query.overdue is False:
        found += [or_(Task.due.is_(None), Task.due >= overdue_at), Task.due_sort >= overdue_at]
    return found


def search_terms(query: TaskQuery) -> tuple[str | None, str | None]:
    """The tag (lower case) and the text (trimmed, lower case) a listing filters on."""
    tag = text = None
    if query.tag is not None:
        try:
            tag = normalize_tags([query.tag])[0].lower()
        except ValidationFailed as exc:
            raise ValidationFailed("tag", exc.rule) from None
    if query.query is not None and query.query.strip():
        text = no_nul("query", query.query.strip().lower())
    return tag, text


def sort_keys(sort: Sort) -> tuple[list[Any], bool]:
    """The columns a sort orders by (each backed by an index) and whether it descends."""
    if sort == Sort.due:
        return [Task.due_sort, Task.id], False
    if sort == Sort.priority:
        return [Task.priority_rank, Task.due_sort, Task.id], False
    if sort == Sort.title:
        return [func.lower(Task.title, type_=String), Task.id], False
    return [Task.created_at, Task.id], True


def sort_values(task: Any, sort: Sort) -> list[Any]:
    if sort == Sort.due:
        return [task.due_sort, task.id]
    if sort == Sort.priority:
        return [task.priority_rank, task.due_sort, task.id]
    if sort == Sort.title:
        return [task.title_key, task.id]
    return [task.created_at, task.id]


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
