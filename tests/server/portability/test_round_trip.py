"""Export, import into another account, export again: the same data, on both engines."""

from __future__ import annotations

import json

import pytest

from server.activity.models import ActivityQuery
from server.errors import ValidationFailed
from server.projects.models import ProjectCreate
from server.tasks.models import TaskQuery
from server.services import Services
from tests.conftest import make_account
from tests.server.portability.scenario import comparable, fill_account


async def export_json(services: Services, user) -> dict:
    return json.loads((await services.portability.export(user=user)).model_dump_json())


async def test_export_then_import_into_a_new_account_gives_the_same_data(services, alice):
    await fill_account(services, alice.user)
    exported = await export_json(services, alice.user)
    carol = await make_account(services, "carol")

    summary = await services.portability.import_file(
        user=carol.user, text=json.dumps(exported), filename="alice.json"
    )

    carol_user = await services.users.get_user(name="carol")
    again = await export_json(services, carol_user)
    assert comparable(again) == comparable(exported)
    assert again["user"]["timezone"] == "Europe/Paris"  # the settings came along
    assert (summary.tasks, summary.comments) == (len(exported["tasks"]), 2)
    assert summary.projects_merged == 1  # the Inbox
    assert comparable(await export_json(services, alice.user)) == comparable(exported)


async def test_an_export_holds_every_kind_of_data_but_secrets(services, alice):
    await fill_account(services, alice.user)

    exported = await export_json(services, alice.user)

    by_title = {t["title"]: t for t in exported["tasks"]}
    assert (exported["format"], exported["version"]) == ("todo-agent", 1)
    assert {p["name"]: (p["archived"], p["deleted_at"] is not None) for p in exported["projects"]} == {
        "Inbox": (False, False), "Work": (False, False), "Someday": (True, False), "Old": (False, True),
    }  # fmt: skip
    launch = by_title["Plan the launch"]
    assert launch["tags"] == ["work", "Q4"] and launch["priority"] == "high"
    assert [bool(r["at"]) for r in launch["reminders"]] == [False, True]
    assert [c["text"] for c in launch["comments"]] == ["Ask Sam about the venue"]
    assert by_title["Outline"]["parent_id"] == by_title["Draft"]["id"]
    plants = [t for t in exported["tasks"] if t["title"] == "Water the plants"]
    assert [t["completed"] for t in plants] == [True, False]
    assert plants[1]["occurrence_of"] == plants[0]["id"]
    assert plants[0]["recurrence"] == "FREQ=WEEKLY;BYDAY=MO"
    assert by_title["Its detail"]["deleted_with"] == f"task:{by_title['Old idea']['id']}"
    assert "calendar.feed_key" not in exported["settings"]  # the feed's key stays behind


async def test_an_imported_account_behaves_like_the_original(services, alice):
    await fill_account(services, alice.user)
    exported = await export_json(services, alice.user)
    carol = await make_account(services, "carol")
    await services.portability.import_file(
        user=carol.user, text=json.dumps(exported), filename="alice.json"
    )
    user = await services.users.get_user(name="carol")
    listed = await services.projects.list_projects(user=user, include_archived=True)
    by_name = {p.name: p for p in listed.projects}

    # The deleted project comes back with exactly the tasks deleted with it.
    restored = await services.projects.restore_project(user=user, ref="Old")
    # A deleted task comes back with its subtask.
    deleted = await services.tasks.list_tasks(user=user, query=TaskQuery(status="deleted"))
    old_idea = next(t for t in deleted.tasks if t.title == "Old idea")
    back = await services.tasks.restore_task(user=user, task_id=old_idea.id)
    page = await services.tasks.list_tasks(user=user, query=TaskQuery(parent_id=back.id))
    activity = await services.activity.list_activity(user=user, query=ActivityQuery(limit=200))

    assert sorted(by_name) == ["Inbox", "Someday", "Work"]
    assert by_name["Work"].color == "#e05d44" and by_name["Someday"].archived
    assert len(restored.task_ids) == 1
    assert [t.title for t in page.tasks] == ["Its detail"]
    created = [e for e in activity.events if e.type == "task.created"]
    assert len(created) == len(exported["tasks"])  # each import wrote its activity
    assert sum(e.type == "comment.added" for e in activity.events) == 2


async def test_importing_into_an_account_with_data_merges_projects_by_name(services, alice, bob):
    await fill_account(services, alice.user)
    exported = await export_json(services, alice.user)
    await services.projects.create_project(user=bob.user, data=ProjectCreate(name="work"))

    summary = await services.portability.import_file(
        user=bob.user, text=json.dumps(exported), filename="alice.json"
    )

    listed = await services.projects.list_projects(user=bob.user, include_archived=True)
    names = sorted(p.name for p in listed.projects)
    assert names == ["Inbox", "Someday", "work"]  # "Work" joined bob's "work"
    work = next(p for p in listed.projects if p.name == "work")
    assert work.color is None and work.open_tasks == 5
    assert summary.projects_merged == 2 and summary.projects_created == 2  # Someday, Old


BROKEN = {
    "six reminders": (
        lambda d: d["tasks"][0].update(reminders=[{"before_minutes": m} for m in range(1, 7)]),
        "tasks[0].reminders: at most 5 reminders per task",
    ),
    "empty title": (lambda d: d["tasks"][1].update(title="  "), "tasks[1].title: must not be empty"),
    "bad recurrence": (
        lambda d: d["tasks"][0].update(recurrence="FREQ=HOURLY;BYDAY=XX"),
        "tasks[0].recurrence:",
    ),
    "parent not in the file": (
        lambda d: d["tasks"][1].update(parent_id=999999),
        "tasks[1].parent_id: task 999999 is not in the file",
    ),
    "naive due": (lambda d: d["tasks"][0].update(due="2026-12-01T10:00"), "tasks[0].due:"),
    "a newer version": (lambda d: d.update(version=2), "version: 2 is newer"),
    "unknown field": (lambda d: d["tasks"][0].update(colour="red"), "tasks[0].colour"),
}


@pytest.mark.parametrize("case", list(BROKEN))
async def test_a_bad_document_names_the_field_and_writes_nothing(services, alice, case):
    await fill_account(services, alice.user)
    document = await export_json(services, alice.user)
    break_it, expected = BROKEN[case]
    break_it(document)
    dave = await make_account(services, "dave")
    before = comparable(await export_json(services, dave.user))

    with pytest.raises(ValidationFailed) as failed:
        await services.portability.import_file(
            user=dave.user, text=json.dumps(document), filename="alice.json"
        )

    assert expected in failed.value.message
    assert "\n" not in failed.value.message
    assert comparable(await export_json(services, dave.user)) == before


async def test_subtasks_deeper_than_four_levels_are_refused(services, alice):
    document = await export_json(services, alice.user)
    inbox = document["projects"][0]["id"]
    document["tasks"] = [
        {"id": n, "project_id": inbox, "parent_id": n - 1 if n > 1 else None,
         "title": f"level {n}", "created_at": "2026-11-01T00:00:00Z"}
        for n in range(1, 6)
    ]  # fmt: skip

    with pytest.raises(ValidationFailed) as failed:
        await services.portability.import_file(
            user=alice.user, text=json.dumps(document), filename="deep.json"
        )

    assert failed.value.field == "tasks[4].parent_id"
    assert "at most 4 levels" in failed.value.rule
