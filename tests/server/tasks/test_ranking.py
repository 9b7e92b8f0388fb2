"""What next: the same ranking every time, with its reasons in words."""

from __future__ import annotations

from datetime import UTC, datetime

from server.projects.models import ProjectUpdate
from server.tasks.ranking import rank_next
from tests.utils.factories import make_project, make_task

# 12:00 in Paris, where alice lives.
NOW = datetime(2030, 6, 10, 10, 0, tzinfo=UTC)


async def test_tasks_rank_by_urgency_then_priority_then_waiting_subtasks(services, alice):
    user = alice.user
    await make_task(services, user, title="File taxes", due="2030-06-08T12:00", priority="low")
    await make_task(services, user, title="Pay rent", due="2030-06-10T10:00", priority="high")
    await make_task(services, user, title="Call the dentist", due="2030-06-10T18:00")
    trip = await make_task(
        services, user, title="Plan the trip", due="2030-06-11T09:00", priority="medium"
    )
    await make_task(services, user, title="Read a book", priority="high")
    await make_task(services, user, title="Someday")
    for title in ("Book flights", "Book hotel"):
        await make_task(services, user, title=title, parent_id=trip.id)
    done = await make_task(services, user, title="Done already", due="2030-06-01T09:00")
    await services.tasks.complete_task(user=user, task_id=done.id)

    ranked = await rank_next(services.db, user=user, limit=10, now=NOW)

    assert [(item.task.title, item.reasons) for item in ranked.tasks] == [
        ("Pay rent", ["overdue by 2 hours", "high priority"]),
        ("File taxes", ["overdue by 2 days", "low priority"]),
        ("Call the dentist", ["due today at 18:00"]),
        (
            "Plan the trip",
            ["due tomorrow at 09:00", "medium priority", "2 open subtasks waiting on it"],
        ),
        ("Read a book", ["high priority"]),
        ("Someday", ["no due date or priority: next in line"]),
        ("Book flights", ["no due date or priority: next in line"]),
        ("Book hotel", ["no due date or priority: next in line"]),
    ]
    again = await rank_next(services.db, user=user, limit=3, now=NOW)
    assert [item.task.id for item in again.tasks] == [item.task.id for item in ranked.tasks[:3]]


async def test_tasks_of_archived_projects_are_not_suggested(services, alice):
    await make_project(services, alice.user, "Someday")
    await make_task(services, alice.user, title="Learn Welsh", project="Someday", priority="high")
    await make_task(services, alice.user, title="Water plants")
    await services.projects.update_project(
        user=alice.user, ref="Someday", data=ProjectUpdate(archived=True)
    )

    ranked = await services.tasks.whats_next(user=alice.user)

    assert [item.task.title for item in ranked.tasks] == ["Water plants"]
