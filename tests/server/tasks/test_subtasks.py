"""Subtasks: where they may go, and how completing, deleting, restoring, moving and
recurring carry them along (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from server.errors import Conflict, ValidationFailed
from server.events.models import OutboxEvent
from server.tasks.models import Status, TaskCreate, TaskQuery, TaskUpdate
from tests.utils.events import count
from tests.utils.factories import make_project, make_task, stored_task_count, titles


async def subtask(services, user, parent, title="Sub", **fields):
    return await make_task(services, user, title=title, parent_id=parent.id, **fields)


async def chain(services, user, levels: int):
    """A task with subtasks `levels` deep: [level 1, level 2, ...]."""
    tasks = [await make_task(services, user, title="Level 1")]
    for level in range(2, levels + 1):
        tasks.append(await subtask(services, user, tasks[-1], title=f"Level {level}"))
    return tasks


async def test_a_subtask_joins_its_parents_project_and_is_counted_as_open(services, alice):
    await make_project(services, alice.user, "Home")
    parent = await make_task(services, alice.user, title="Spring clean", project="Home")

    first = await subtask(services, alice.user, parent, title="Windows")
    await subtask(services, alice.user, parent, title="Oven")
    await services.tasks.complete_task(user=alice.user, task_id=first.id)

    assert first.project_id == parent.project_id and first.parent_id == parent.id
    read = await services.tasks.get_task(user=alice.user, task_id=parent.id)
    assert read.open_subtasks == 1
    children = await titles(services, alice.user, parent_id=parent.id)
    assert sorted(children) == ["Oven", "Windows"]


@pytest.mark.parametrize("levels_below", [0, 1])
async def test_subtasks_nest_at_most_four_levels(services, alice, levels_below):
    deepest = (await chain(services, alice.user, 4 - levels_below))[-1]
    other = await make_task(services, alice.user, title="Other")
    if levels_below:
        await subtask(services, alice.user, other)
    before = await stored_task_count(services, alice.user)

    with pytest.raises(ValidationFailed) as failed:
        if levels_below == 0:
            await subtask(services, alice.user, deepest, title="Level 5")
        else:  # a task with a subtask moved under level 3 makes a level 5 too
            await services.tasks.update_task(
                user=alice.user, task_id=other.id, data=TaskUpdate(parent_id=deepest.id)
            )

    assert failed.value.field == "parent_id" and "at most 4 levels" in failed.value.rule
    assert await stored_task_count(services, alice.user) == before


async def test_a_task_cannot_become_a_subtask_of_itself_or_of_its_own_subtasks(services, alice):
    top, middle, bottom = await chain(services, alice.user, 3)

    for parent in (top, bottom):
        with pytest.raises(ValidationFailed) as failed:
            await services.tasks.update_task(
                user=alice.user, task_id=top.id, data=TaskUpdate(parent_id=parent.id)
            )
        assert failed.value.field == "parent_id"
    assert (await services.tasks.get_task(user=alice.user, task_id=top.id)).parent_id is None
    # A legal move still works: the bottom task becomes top-level.
    moved = await services.tasks.update_task(
        user=alice.user, task_id=bottom.id, data=TaskUpdate(parent_id=None)
    )
    assert moved.parent_id is None


async def test_a_parent_in_another_project_or_of_another_user_is_refused(services, alice, bob):
    await make_project(services, alice.user, "Work")
    parent = await make_task(services, alice.user, title="Report", project="Work")
    bobs = await make_task(services, bob.user, title="Bob's")

    with pytest.raises(ValidationFailed) as failed:
        await subtask(services, alice.user, parent, project="Inbox")
    assert failed.value.field == "project" and "parent's project" in failed.value.rule
    with pytest.raises(ValidationFailed) as failed:
        await subtask(services, alice.user, bobs)
    assert (failed.value.field, failed.value.rule) == ("parent_id", f"task {bobs.id} not found")
    with pytest.raises(ValidationFailed):
        await services.tasks.list_tasks(user=alice.user, query=TaskQuery(parent_id=bobs.id))
    assert await titles(services, alice.user) == ["Report"]


async def test_completing_a_task_completes_its_open_subtasks(services, alice):
    top, middle, bottom = await chain(services, alice.user, 3)
    other = await subtask(services, alice.user, top, title="Other")

    done = await services.tasks.complete_task(user=alice.user, task_id=top.id)

    assert done.task.completed and done.task.open_subtasks == 0
    for task in (middle, bottom, other):
        assert (await services.tasks.get_task(user=alice.user, task_id=task.id)).completed
    completions = await count(
        services, OutboxEvent, OutboxEvent.envelope["type"].as_string() == "task.completed"
    )
    assert completions == 4  # one event per task


async def test_deleting_and_restoring_a_task_carries_exactly_the_subtasks_deleted_with_it(
    services, alice
):
    top, middle, bottom = await chain(services, alice.user, 3)
    gone_before = await subtask(services, alice.user, top, title="Gone before")
    await services.tasks.delete_task(user=alice.user, task_id=gone_before.id)

    await services.tasks.delete_task(user=alice.user, task_id=top.id)

    assert await titles(services, alice.user) == []
    with pytest.raises(Conflict, match=f"restore task {top.id} first"):
        await services.tasks.restore_task(user=alice.user, task_id=middle.id)

    await services.tasks.restore_task(user=alice.user, task_id=top.id)

    assert sorted(await titles(services, alice.user)) == ["Level 1", "Level 2", "Level 3"]
    assert await titles(services, alice.user, status=Status.deleted) == ["Gone before"]


async def test_moving_a_task_moves_its_subtasks(services, alice):
    await make_project(services, alice.user, "Errands")
    top, middle, bottom = await chain(services, alice.user, 3)

    moved = await services.tasks.update_task(
        user=alice.user, task_id=top.id, data=TaskUpdate(project="errands")
    )

    for task in (middle, bottom):
        read = await services.tasks.get_task(user=alice.user, task_id=task.id)
        assert read.project_id == moved.project_id
    assert sorted(await titles(services, alice.user, project="Errands")) == [
        "Level 1",
        "Level 2",
        "Level 3",
    ]


async def test_a_subtask_moved_under_a_parent_elsewhere_follows_it(services, alice):
    await make_project(services, alice.user, "Work")
    parent = await make_task(services, alice.user, title="Report", project="Work")
    loose = await make_task(services, alice.user, title="Charts")

    moved = await services.tasks.update_task(
        user=alice.user, task_id=loose.id, data=TaskUpdate(parent_id=parent.id)
    )

    assert (moved.parent_id, moved.project_id) == (parent.id, parent.project_id)


@pytest.mark.parametrize("via", ["complete_task", "recurrence consumer"])
async def test_the_next_occurrence_of_a_recurring_task_gets_fresh_copies_of_its_subtasks(
    services, alice, via
):
    weekly = await make_task(
        services, alice.user, title="Weekly review", due="2030-06-03T09:00", recurrence="weekly"
    )
    inbox = await subtask(services, alice.user, weekly, title="Empty the inbox")
    plan = await subtask(services, alice.user, weekly, title="Plan", due="2030-06-03T08:00")
    await subtask(services, alice.user, plan, title="Pick three goals")
    await services.tasks.complete_task(user=alice.user, task_id=inbox.id)

    if via == "complete_task":
        done = await services.tasks.complete_task(user=alice.user, task_id=weekly.id)
        following = done.next_occurrence
    else:  # what the consumer does for a completion that has no next occurrence yet

        def mark_done(session):
            work = services.tasks.work_on(session, alice.user)
            work.load(weekly.id, include_deleted=False).completed = True

        await services.db.run_session(mark_done, write=True)
        async with services.db.transaction() as session:
            following = await services.tasks.ensure_next_occurrence(
                session=session, user_id=alice.user.id, task_id=weekly.id
            )

    assert following.due - weekly.due == timedelta(days=7)
    assert following.open_subtasks == 2
    copies = await services.tasks.list_tasks(
        user=alice.user, query=TaskQuery(parent_id=following.id)
    )
    assert sorted((t.title, t.completed) for t in copies.tasks) == [
        ("Empty the inbox", False),
        ("Plan", False),
    ]
    plan_copy = next(t for t in copies.tasks if t.title == "Plan")
    assert plan_copy.due - plan.due == timedelta(days=7) and plan_copy.open_subtasks == 1
    async with services.db.transaction() as session:  # asked again: the same one, no copies
        again = await services.tasks.ensure_next_occurrence(
            session=session, user_id=alice.user.id, task_id=weekly.id
        )
    assert again.id == following.id
    assert await stored_task_count(services, alice.user) == 8


async def test_a_batch_of_new_subtasks_under_a_new_parent_needs_the_parents_id(services, alice):
    with pytest.raises(ValidationFailed) as failed:
        await services.tasks.create_task(
            user=alice.user, data=TaskCreate(title="Orphan", parent_id=424242)
        )
    assert failed.value.message == "parent_id: task 424242 not found"
