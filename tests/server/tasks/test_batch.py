"""Batch changes: all or nothing in one transaction, one event per task, errors that name
the item and the field (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from server.errors import NotFound, ValidationFailed
from server.events.models import OutboxEvent
from server.tasks.models import NewTask, TaskChange
from tests.utils.events import count
from tests.utils.factories import make_project, make_task, stored_task_count, titles


async def outbox_size(services) -> int:
    async with services.db.session() as session:
        return await session.scalar(select(func.count()).select_from(OutboxEvent))


async def test_a_batch_creates_every_task_with_one_event_each(services, alice):
    await make_project(services, alice.user, "Errands")
    before = await outbox_size(services)

    created = await services.tasks.create_tasks(
        user=alice.user,
        items=[
            NewTask(title="Milk", project="Errands"),
            NewTask(title="Stamps", project="errands", due="tomorrow 9am"),
            NewTask(title="Call mum", idempotency_key="mum-1"),
            NewTask(title="Call mum", idempotency_key="mum-1"),  # the same request again
        ],
    )

    assert [t.title for t in created] == ["Milk", "Stamps", "Call mum", "Call mum"]
    assert created[2].id == created[3].id
    assert await outbox_size(services) - before == 3
    assert sorted(await titles(services, alice.user, project="Errands")) == ["Milk", "Stamps"]
    with pytest.raises(ValidationFailed) as reused:  # the key with another request
        await services.tasks.create_tasks(
            user=alice.user, items=[NewTask(title="Call dad", idempotency_key="mum-1")]
        )
    assert reused.value.field == "tasks[0].idempotency_key"


@pytest.mark.parametrize(
    ("items", "message"),
    [
        (
            [NewTask(title="Fine"), NewTask(title="Bad date", due="when pigs fly")],
            "tasks[1].due: could not understand",
        ),
        (
            [NewTask(title="Fine"), NewTask(title="x", project="Nowhere")],
            "tasks[1].project: no project named 'Nowhere'",
        ),
        ([NewTask(title="x", parent_id=999_999)], "tasks[0].parent_id: task 999999 not found"),
        ([NewTask(title="x", recurrence="often")], "tasks[0].recurrence:"),
        ([NewTask(title="  ")], "tasks[0].title: must not be empty"),
        ([], "tasks: give 1 to 50 items (got 0)"),
        ([NewTask(title=f"t{i}") for i in range(51)], "tasks: give 1 to 50 items (got 51)"),
    ],
)
async def test_one_bad_new_task_writes_nothing(services, alice, items, message):
    before = await outbox_size(services)

    with pytest.raises(ValidationFailed) as failed:
        await services.tasks.create_tasks(user=alice.user, items=items)

    assert failed.value.message.startswith(message), failed.value.message
    assert await stored_task_count(services, alice.user) == 0
    assert await outbox_size(services) == before


async def test_updates_move_tasks_between_projects_in_one_go(services, alice):
    await make_project(services, alice.user, "Errands")
    parent = await make_task(services, alice.user, title="Shopping")
    child = await make_task(services, alice.user, title="Eggs", parent_id=parent.id)
    loose = await make_task(services, alice.user, title="Post office")

    # The subtask comes first: a subtask's project is checked when the batch is done.
    changed = await services.tasks.update_tasks(
        user=alice.user,
        items=[
            TaskChange(task_id=child.id, project="Errands"),
            TaskChange(task_id=parent.id, project="Errands"),
            TaskChange(task_id=loose.id, project="Errands", priority="high"),
        ],
    )

    assert [t.id for t in changed] == [child.id, parent.id, loose.id]
    assert len({t.project_id for t in changed}) == 1 and changed[0].project_id != parent.project_id
    updates = OutboxEvent.envelope["type"].as_string() == "task.updated"
    assert await count(services, OutboxEvent, updates) == 3  # one per task


async def test_one_bad_update_changes_nothing(services, alice, bob):
    await make_project(services, alice.user, "Errands")
    mine = await make_task(services, alice.user, title="Mine")
    parent = await make_task(services, alice.user, title="Parent")
    child = await make_task(services, alice.user, title="Child", parent_id=parent.id)
    bobs = await make_task(services, bob.user, title="Bob's")

    for items, message in (
        (
            [TaskChange(task_id=mine.id, title="Renamed"), TaskChange(task_id=bobs.id, title="x")],
            f"updates[1]: task {bobs.id} not found",
        ),
        (
            [
                TaskChange(task_id=mine.id, title="Renamed"),
                TaskChange(task_id=child.id, project="Errands"),
            ],
            "updates[1].project: a subtask stays in its parent's project",
        ),
        ([TaskChange(task_id=mine.id, due="someday maybe")], "updates[0].due:"),
    ):
        with pytest.raises((ValidationFailed, NotFound)) as failed:
            await services.tasks.update_tasks(user=alice.user, items=items)
        assert failed.value.message.startswith(message), failed.value.message

    assert sorted(await titles(services, alice.user)) == ["Child", "Mine", "Parent"]
    assert await titles(services, alice.user, project="Errands") == []
    assert (await services.tasks.get_task(user=bob.user, task_id=bobs.id)).title == "Bob's"


async def test_batch_completion_and_deletion_are_all_or_nothing(services, alice):
    daily = await make_task(
        services, alice.user, title="Stretch", due="tomorrow 7am", recurrence="daily"
    )
    once = await make_task(services, alice.user, title="Once")

    with pytest.raises(NotFound, match=r"task_ids\[1\]: task 999999 not found"):
        await services.tasks.complete_tasks(user=alice.user, task_ids=[once.id, 999_999])
    assert not (await services.tasks.get_task(user=alice.user, task_id=once.id)).completed

    done = await services.tasks.complete_tasks(user=alice.user, task_ids=[daily.id, once.id])

    assert [t.completed for t in done.tasks] == [True, True]
    assert [t.title for t in done.next_occurrences] == ["Stretch"]
    with pytest.raises(NotFound):
        await services.tasks.delete_tasks(user=alice.user, task_ids=[once.id, 0])
    assert (await services.tasks.get_task(user=alice.user, task_id=once.id)).deleted_at is None
    gone = await services.tasks.delete_tasks(user=alice.user, task_ids=[daily.id, once.id])
    assert all(t.deleted_at for t in gone)
