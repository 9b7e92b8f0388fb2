"""The reads of projects, subtasks, activity and what next go through indexes, in index
order, on both engines (EXPLAIN)."""

from __future__ import annotations

import pytest
from sqlalchemy import Select, func, select, text

from server.activity.models import Activity
from server.tasks.listing import listing
from server.tasks.models import Task, TaskQuery


async def plan(services, stmt: Select) -> str:
    """The query plan of `stmt`. PostgreSQL is told to avoid sequential scans and sorts
    wherever it can, so the plan shows whether an index serves the query and its order
    (its tables here are too small for it to prefer one)."""
    db = services.db
    compiled = stmt.compile(db.engine, compile_kwargs={"literal_binds": True})
    async with db.engine.connect() as conn:
        if db.is_sqlite:
            found = await conn.execute(text(f"EXPLAIN QUERY PLAN {compiled}"))
            return " ".join(str(row[-1]) for row in found)
        await conn.execute(text("SET enable_seqscan = off"))
        await conn.execute(text("SET enable_sort = off"))
        found = await conn.execute(text(f"EXPLAIN {compiled}"))
        return " ".join(row[0] for row in found)


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
    ],
    ids=["pending", "by priority", "completed", "project", "subtasks"],
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
