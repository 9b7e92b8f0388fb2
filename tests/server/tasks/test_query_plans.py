"""The reads of tasks, projects, subtasks, activity and what next go through indexes, in
index order, on both engines (EXPLAIN): no listing reads a user's whole history."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import Select, func, insert, select, text

from server.activity.models import Activity
from server.db import utcnow
from server.paging import encode_cursor
from server.tasks.listing import listing, window_end
from server.tasks.models import NO_DUE, Task, TaskQuery
from server.tasks.search import SQLITE_CANDIDATES, match_expression, postgres_candidates


async def plan(services, stmt: Select, *, sort: bool = False) -> str:
    """The query plan of `stmt`. PostgreSQL is told to avoid sequential scans and (unless
    `sort`) sorts wherever it can, so the plan shows whether an index serves the query and
    its order (its tables here are too small for it to prefer one)."""
    db = services.db
    compiled = stmt.compile(db.engine, compile_kwargs={"literal_binds": True})
    async with db.engine.connect() as conn:
        if db.is_sqlite:
            found = await conn.execute(text(f"EXPLAIN QUERY PLAN {compiled}"))
            return " ".join(str(row[-1]) for row in found)
        await conn.execute(text("SET enable_seqscan = off"))
        if not sort:
            await conn.execute(text("SET enable_sort = off"))
        found = await conn.execute(text(f"EXPLAIN {compiled}"))
        return " ".join(row[0] for row in found)


async def seed_history(services, account, count: int) -> None:
    project_id = (await services.projects.list_projects(user=account.user)).projects[0].id
    now = utcnow()
    rows = [
        {
            "user_id": account.user.id,
            "project_id": project_id,
            "title": f"task {i}",
            "completed": i % 3 > 0,
            "tags": [],
            "tags_key": "|",
            "due_sort": NO_DUE,
            "reminders": [],
            "created_at": now,
            "updated_at": now,
        }
        for i in range(count)
    ]
    async with services.db.transaction() as session:
        await session.execute(insert(Task.__table__), rows)
    if not services.db.is_sqlite:
        async with services.db.engine.connect() as conn:
            await conn.execute(text("ANALYZE tasks"))
            await conn.commit()


def unsorted(found: str) -> bool:
    return "TEMP B-TREE" not in found and " Sort " not in f" {found} "


@pytest.mark.parametrize(
    ("query", "project_id", "index"),
    [
        ({}, None, "ix_tasks_list_due"),
        ({"sort": "priority"}, None, "ix_tasks_list_priority"),
        ({"status": "completed"}, None, "ix_tasks_list_due"),
        ({}, 7, "ix_tasks_project_list"),
        ({"parent_id": 7}, None, "ix_tasks_parent_list"),
        ({"sort": "title"}, None, "ix_tasks_list_title"),
        ({"sort": "created", "status": "completed"}, None, "ix_tasks_list_created"),
        ({"priority": "high"}, None, "ix_tasks_list_priority"),
        ({"status": "all"}, None, "ix_tasks_all_due"),
        ({"status": "all", "sort": "priority"}, None, "ix_tasks_all_priority"),
        ({"status": "all", "sort": "created"}, None, "ix_tasks_all_created"),
        ({"status": "all", "sort": "title"}, None, "ix_tasks_all_title"),
        ({"status": "deleted"}, None, "ix_tasks_trash_due"),
        ({"status": "deleted", "sort": "priority"}, None, "ix_tasks_trash_priority"),
        ({"status": "deleted", "sort": "created"}, None, "ix_tasks_trash_created"),
        ({"status": "deleted", "sort": "title"}, None, "ix_tasks_trash_title"),
    ],
    ids=[
        "pending",
        "by priority",
        "completed",
        "project",
        "subtasks",
        "by title",
        "completed by creation",
        "one priority by due",
        "all",
        "all by priority",
        "all by creation",
        "all by title",
        "trash",
        "trash by priority",
        "trash by creation",
        "trash by title",
    ],
)
async def test_listings_read_their_index_in_order(services, alice, query, project_id, index):
    stmt = listing(alice.user, TaskQuery(**query), project_id=project_id, overdue_after_minutes=60)

    found = await plan(services, stmt)

    assert index in found and unsorted(found), found
    # Each listed task's open subtasks are counted on the parent index.
    assert "ix_tasks_parent_list" in found


@pytest.mark.parametrize(
    ("stmt", "index"),
    [
        (
            select(Activity)
            .where(Activity.user_id == 1)
            .order_by(Activity.at.desc(), Activity.id.desc())
            .limit(50),
            "ix_activity_user",
        ),
        (
            select(Activity)
            .where(Activity.user_id == 1, Activity.task_id == 2)
            .order_by(Activity.at.desc(), Activity.id.desc())
            .limit(50),
            "ix_activity_task",
        ),
        (
            select(Task.project_id, func.count())
            .where(Task.project_id.in_([1, 2]), Task.deleted_at.is_(None), ~Task.completed)
            .group_by(Task.project_id),
            "ix_tasks_project_list",
        ),
    ],
    ids=["activity", "a task's activity", "open tasks per project"],
)
async def test_other_new_reads_use_their_index(services, stmt, index):
    assert index in await plan(services, stmt)


@pytest.mark.parametrize(
    "query",
    [
        {"due_before": "2030-01-01T00:00:00Z"},
        {"due_after": "2030-01-01T00:00:00Z"},
        {"overdue": True},
        {"overdue": False},
    ],
    ids=["due before", "due after", "overdue", "not overdue"],
)
async def test_due_filters_read_only_their_range_of_the_due_order(services, alice, query):
    stmt = listing(alice.user, TaskQuery(**query), project_id=None, overdue_after_minutes=60)

    found = await plan(services, stmt)

    assert "ix_tasks_list_due" in found and unsorted(found), found
    if services.db.is_sqlite:
        assert "due_sort>" in found or "due_sort<" in found, found
    else:
        assert "Index Cond: " in found and "due_sort" in found.split("Index Cond: ", 1)[1]


async def test_a_listing_narrowed_by_the_search_index_reads_just_those_tasks(services, alice):
    # A history of a few thousand tasks, with the statistics PostgreSQL keeps by itself
    # (SQLite has none: the narrowed listing must not depend on them).
    await seed_history(services, alice, 3000)
    query = TaskQuery(query="milk")
    stmt = listing(
        alice.user, query, project_id=None, overdue_after_minutes=60, candidate_ids=[3, 5, 8]
    )

    found = await plan(services, stmt, sort=True)

    assert ("INTEGER PRIMARY KEY" if services.db.is_sqlite else "tasks_pkey") in found, found


@pytest.mark.parametrize(
    ("tag", "words", "indexes"),
    [
        ("work", None, ["ix_tasks_tags"]),
        (None, "milk", ["ix_tasks_search_grams"]),
        ("work", "milk", ["ix_tasks_tags", "ix_tasks_search_grams"]),
    ],
    ids=["tag", "text", "tag and text"],
)
async def test_the_search_index_answers_which_tasks_can_match(services, alice, tag, words, indexes):
    if services.db.is_sqlite:
        async with services.db.engine.connect() as conn:
            found = " ".join(
                str(row[-1])
                for row in await conn.execute(
                    text(f"EXPLAIN QUERY PLAN {SQLITE_CANDIDATES.text}"),
                    {"match": match_expression(tag, words), "limit": 10},
                )
            )
        assert "VIRTUAL TABLE INDEX" in found, found
    else:
        # With the statistics of a history (in which the text's trigrams are rare); for a
        # tag and a text the planner reads either index and checks the other on the rows.
        await seed_history(services, alice, 3000)
        found = await plan(services, postgres_candidates(alice.user.id, tag, words))
        assert any(index in found for index in indexes), found


@pytest.fixture(scope="module")
async def history(shared_api):
    """For the plans below: one database per engine, with a user's history of 3000 tasks."""
    alice = await shared_api.account("alice")
    await seed_history(shared_api.services, alice, 3000)
    return shared_api.services, alice


# The last task of a window, as its sort keys.
WINDOW_ENDS = {"due": (NO_DUE, 4), "priority": (2, NO_DUE, 4), "title": ("milk", 4)}


@pytest.mark.parametrize(
    ("query", "index"),
    [
        ({"tag": "work"}, "ix_tasks_list_due"),
        ({"query": "milk", "sort": "priority"}, "ix_tasks_list_priority"),
        ({"tag": "work", "sort": "title", "status": "all"}, "ix_tasks_all_title"),
        ({"query": "milk", "sort": "created", "status": "completed"}, "ix_tasks_list_created"),
    ],
    ids=["tag", "text by priority", "tag, all by title", "text, completed by creation"],
)
async def test_a_searched_listing_reads_its_window_from_its_index_in_order(history, query, index):
    services, alice = history
    query = TaskQuery(**query)
    end = window_end(alice.user, query, project_id=None, overdue_after_minutes=60)
    last = WINDOW_ENDS.get(query.sort, (utcnow(), 4))
    within = listing(alice.user, query, project_id=None, overdue_after_minutes=60, until=last)

    found_end, found_within = await plan(services, end), await plan(services, within)

    # The window's end is read from the index in order; the listing reads up to it and
    # stops there (a range of the index).
    assert index in found_end and unsorted(found_end), found_end
    assert index in found_within and unsorted(found_within), found_within
    if services.db.is_sqlite:
        assert re.search(r"[<>]\(?\?", found_within), found_within
    else:
        assert "ROW(" in found_within.split("Index Cond: ", 1)[1], found_within


async def test_the_end_of_a_window_is_read_from_the_index_alone(history):
    services, alice = history
    query = TaskQuery(tag="work")
    end = window_end(alice.user, query, project_id=None, overdue_after_minutes=60)

    found = await plan(services, end)

    covering = "COVERING INDEX" if services.db.is_sqlite else "Index Only Scan"
    assert covering in found and "ix_tasks_list_due" in found, found


@pytest.mark.parametrize("sort", ["due", "priority", "title", "created"])
async def test_a_page_after_a_cursor_starts_reading_its_index_at_the_cursor(services, alice, sort):
    last = WINDOW_ENDS.get(sort, (utcnow(), 4))
    query = TaskQuery(sort=sort, cursor=encode_cursor(sort, list(last)))
    stmt = listing(alice.user, query, project_id=None, overdue_after_minutes=60)

    found = await plan(services, stmt)

    assert unsorted(found), found
    if services.db.is_sqlite:
        assert re.search(r"[<>]\(?\?", found), found
    else:
        assert "ROW(" in found.split("Index Cond: ", 1)[1], found
