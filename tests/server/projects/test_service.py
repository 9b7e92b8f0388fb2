"""Projects through the service: names, the Inbox, archiving, deleting and restoring with
their tasks (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError

from server.db import utcnow
from server.errors import Conflict, NotFound, ValidationFailed
from server.projects.models import Project, ProjectUpdate
from server.tasks.models import Status, TaskQuery, TaskUpdate
from server.workers.scheduler import DeadlineScheduler
from tests.utils.events import task_due_in
from tests.utils.factories import inbox_of, make_project, make_task, titles


async def test_a_new_user_has_an_inbox_where_tasks_without_a_project_go(services, alice):
    inbox = await inbox_of(services, alice.user)
    task = await make_task(services, alice.user, title="Call mum")

    assert (inbox.name, inbox.inbox, inbox.archived) == ("Inbox", True, False)
    assert task.project_id == inbox.id
    assert (await inbox_of(services, alice.user)).open_tasks == 1


async def test_project_names_are_unique_per_user_ignoring_case(services, alice, bob):
    work = await make_project(services, alice.user, "Work")

    for name in ("work", " WORK ", "inbox"):
        with pytest.raises(ValidationFailed) as failed:
            await make_project(services, alice.user, name)
        assert failed.value.field == "name" and "already exists" in failed.value.rule
    await make_project(services, alice.user, "Home")
    with pytest.raises(ValidationFailed, match="already exists"):
        await services.projects.update_project(
            user=alice.user, ref="home", data=ProjectUpdate(name="WORK")
        )
    assert (await make_project(services, bob.user, "work")).name == "work"  # bob's own
    with pytest.raises(ValidationFailed) as failed:
        await make_project(services, alice.user, "   ")
    assert failed.value.field == "name"
    projects = (await services.projects.list_projects(user=alice.user)).projects
    assert [p.name for p in projects] == ["Inbox", "Home", "Work"] and projects[2].id == work.id


async def test_the_database_itself_refuses_a_second_live_project_of_the_same_name(services, alice):
    await make_project(services, alice.user, "Work")
    now = utcnow()
    row = {"user_id": alice.user.id, "name": "WORK", "inbox": False, "archived": False}
    with pytest.raises(IntegrityError):
        async with services.db.transaction() as session:
            await session.execute(insert(Project).values(**row, created_at=now, updated_at=now))
    # A deleted project's name is free again.
    await services.projects.delete_project(user=alice.user, ref="Work")
    assert (await make_project(services, alice.user, "work")).name == "work"


async def test_the_inbox_can_be_neither_deleted_archived_nor_renamed(services, alice):
    with pytest.raises(Conflict, match="Inbox cannot be deleted"):
        await services.projects.delete_project(user=alice.user, ref="inbox")
    with pytest.raises(ValidationFailed) as failed:
        await services.projects.update_project(
            user=alice.user, ref="Inbox", data=ProjectUpdate(archived=True)
        )
    assert failed.value.field == "archived"
    with pytest.raises(ValidationFailed) as failed:
        await services.projects.update_project(
            user=alice.user, ref="Inbox", data=ProjectUpdate(name="Stuff")
        )
    assert failed.value.field == "name"
    inbox = await inbox_of(services, alice.user)
    assert (inbox.name, inbox.archived, inbox.deleted_at) == ("Inbox", False, None)
    recoloured = await services.projects.update_project(
        user=alice.user, ref=inbox.id, data=ProjectUpdate(color="#336699")
    )
    assert recoloured.color == "#336699"


async def test_a_project_is_named_by_id_or_name_and_an_unknown_name_lists_the_projects(
    services, alice, bob
):
    work = await make_project(services, alice.user, "Work")
    bobs = await make_project(services, bob.user, "Bob's")

    assert (await services.projects.get_project(user=alice.user, ref="wORk")).id == work.id
    assert (await services.projects.get_project(user=alice.user, ref=str(work.id))).id == work.id
    with pytest.raises(NotFound) as missing:
        await services.projects.get_project(user=alice.user, ref="Holidays")
    assert "'Holidays'" in missing.value.message
    assert "'Inbox', 'Work'" in missing.value.message and "Bob" not in missing.value.message
    for ref in (bobs.id, 999_999, "Bob's"):
        with pytest.raises(NotFound):
            await services.projects.get_project(user=alice.user, ref=ref)
    with pytest.raises(ValidationFailed) as failed:
        await make_task(services, alice.user, title="x", project=bobs.id)
    assert (failed.value.field, failed.value.rule) == ("project", f"project {bobs.id} not found")


async def test_deleting_a_project_deletes_its_tasks_and_restoring_brings_back_exactly_those(
    services, alice
):
    errands = await make_project(services, alice.user, "Errands")
    milk = await make_task(services, alice.user, title="Buy milk", project="Errands")
    stamps = await make_task(services, alice.user, title="Buy stamps", project=errands.id)
    old = await make_task(services, alice.user, title="Old idea", project=errands.id)
    await services.tasks.delete_task(user=alice.user, task_id=old.id)
    await make_task(services, alice.user, title="Elsewhere")

    deleted = await services.projects.delete_project(user=alice.user, ref="errands")

    assert deleted.project.deleted_at is not None
    assert deleted.task_ids == sorted([milk.id, stamps.id])
    assert await titles(services, alice.user) == ["Elsewhere"]
    assert [p.name for p in (await services.projects.list_projects(user=alice.user)).projects] == [
        "Inbox"
    ]
    with pytest.raises(ValidationFailed):  # a deleted project takes no new tasks
        await make_task(services, alice.user, title="x", project=errands.id)
    with pytest.raises(Conflict, match="restore the project"):
        await services.tasks.restore_task(user=alice.user, task_id=milk.id)

    restored = await services.projects.restore_project(user=alice.user, ref="Errands")

    assert restored.project.deleted_at is None and restored.project.open_tasks == 2
    assert restored.task_ids == deleted.task_ids
    assert sorted(await titles(services, alice.user)) == ["Buy milk", "Buy stamps", "Elsewhere"]
    assert await titles(services, alice.user, status=Status.deleted) == ["Old idea"]


async def test_a_project_cannot_be_restored_while_another_has_its_name(services, alice):
    await make_project(services, alice.user, "Errands")
    first = await services.projects.delete_project(user=alice.user, ref="Errands")
    await make_project(services, alice.user, "errands")

    with pytest.raises(Conflict, match="rename it"):
        await services.projects.restore_project(user=alice.user, ref=first.project.id)

    assert (await services.projects.get_project(user=alice.user, ref=first.project.id)).deleted_at


async def test_an_archived_projects_tasks_leave_default_listings_and_raise_no_alerts(
    services, alice
):
    await make_project(services, alice.user, "Someday")
    dormant = await task_due_in(services, alice.user, 20, title="Learn the cello")
    await services.tasks.update_task(
        user=alice.user, task_id=dormant.id, data=TaskUpdate(project="Someday")
    )
    await make_task(services, alice.user, title="Pay rent")
    tick = DeadlineScheduler(deadlines=services.deadlines, interval_seconds=1).tick

    archived = await services.projects.update_project(
        user=alice.user, ref="someday", data=ProjectUpdate(archived=True)
    )

    assert archived.archived is True
    assert await titles(services, alice.user) == ["Pay rent"]
    assert await titles(services, alice.user, project="Someday") == ["Learn the cello"]
    listed = await services.projects.list_projects(user=alice.user)
    assert [p.name for p in listed.projects] == ["Inbox"]
    with_archived = await services.projects.list_projects(user=alice.user, include_archived=True)
    assert [p.name for p in with_archived.projects] == ["Inbox", "Someday"]
    assert (await tick(now=dormant.due)).found == 0
    assert (await services.tasks.whats_next(user=alice.user)).tasks[0].task.title == "Pay rent"

    await services.projects.update_project(
        user=alice.user, ref="Someday", data=ProjectUpdate(archived=False)
    )

    assert sorted(await titles(services, alice.user)) == ["Learn the cello", "Pay rent"]
    assert (await tick(now=dormant.due + timedelta(seconds=1))).emitted == 1


async def test_project_changes_write_their_events(services, alice):
    from tests.server.tasks.test_service import outbox_types_of

    await make_project(services, alice.user, "Trips")
    await services.projects.update_project(
        user=alice.user, ref="Trips", data=ProjectUpdate(color="#00aa00")
    )
    project = await services.projects.delete_project(user=alice.user, ref="Trips")
    await services.projects.restore_project(user=alice.user, ref=project.project.id)

    assert await outbox_types_of(services, f"project/{project.project.id}") == [
        "project.created",
        "project.updated",
        "project.deleted",
        "project.restored",
    ]
    query = TaskQuery(project="Trips")
    assert (await services.tasks.list_tasks(user=alice.user, query=query)).tasks == []
